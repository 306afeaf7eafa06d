// shmkit::Semaphore in one process: counting, timed waits, wake-ups, overflow, RAII slots.
#define BOOST_TEST_MODULE semaphore
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "temp_segment.hpp"
#include "shmkit/error.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/semaphore.hpp"

using namespace shmkit;
using namespace std::chrono_literals;

namespace {

}  // namespace

BOOST_AUTO_TEST_CASE(counts_units) {
  Semaphore s(2);
  BOOST_TEST(s.value() == 2u);
  BOOST_TEST(s.try_wait());
  BOOST_TEST(s.try_wait());
  BOOST_TEST(!s.try_wait());
  s.post(3);
  BOOST_TEST(s.value() == 3u);
  s.wait();
  BOOST_TEST(s.value() == 2u);
}

BOOST_AUTO_TEST_CASE(timed_wait_times_out_on_the_steady_clock) {
  Semaphore s(0);
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST(!s.try_wait_for(50ms));
  const auto waited = std::chrono::steady_clock::now() - start;
  BOOST_TEST(waited >= 50ms);
  BOOST_TEST(waited < 5s);
  BOOST_TEST(!s.try_wait_until(std::chrono::steady_clock::now() + 10ms));
  BOOST_TEST(!s.try_wait_until(std::chrono::system_clock::now() + 10ms));
  BOOST_TEST(!s.try_wait_for(0ms));
  s.post();
  BOOST_TEST(s.try_wait_for(0ms));
}

BOOST_AUTO_TEST_CASE(post_wakes_blocked_waiters) {
  Semaphore s(0);
  std::atomic<int> got{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i)
    waiters.emplace_back([&] {
      if (s.try_wait_for(30s)) got.fetch_add(1);
    });
  s.post(3);
  // Exactly three of four get a unit; the fourth gets the last post.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (got.load() < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  BOOST_TEST(got.load() == 3);
  BOOST_TEST(s.value() == 0u);
  s.post();
  for (auto& t : waiters) t.join();
  BOOST_TEST(got.load() == 4);
  BOOST_TEST(s.value() == 0u);
}

BOOST_AUTO_TEST_CASE(many_threads_never_exceed_the_limit) {
  constexpr int kLimit = 3;
  Semaphore s(kLimit);
  std::atomic<int> active{0}, max_active{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        SemaphoreSlot slot(s);
        const int now = active.fetch_add(1) + 1;
        int seen = max_active.load();
        while (now > seen && !max_active.compare_exchange_weak(seen, now)) {}
        std::this_thread::yield();
        active.fetch_sub(1);
      }
    });
  for (auto& t : threads) t.join();
  BOOST_TEST(max_active.load() <= kLimit);
  BOOST_TEST(max_active.load() >= 1);
  BOOST_TEST(s.value() == static_cast<unsigned>(kLimit));
}

BOOST_AUTO_TEST_CASE(overflow_is_refused) {
  Semaphore s(Semaphore::max_value - 1);
  s.post();
  try {
    s.post();
    BOOST_FAIL("post beyond max_value must throw");
  } catch (const Error& e) {
    BOOST_TEST(e.errc() == Errc::invalid_argument);
  }
  BOOST_TEST(s.value() == Semaphore::max_value);
  BOOST_CHECK_THROW(Semaphore(Semaphore::max_value + 1u), Error);
}

BOOST_AUTO_TEST_CASE(slot_with_timeout_reports_ownership) {
  Semaphore s(1);
  {
    SemaphoreSlot a(s, 10ms);
    BOOST_TEST(a.owns());
    SemaphoreSlot b(s, 10ms);
    BOOST_TEST(!b.owns());
  }
  BOOST_TEST(s.value() == 1u);
}

BOOST_AUTO_TEST_CASE(lives_in_a_segment_by_name) {
  test::TempSegment t(Backend::named);
  auto& s = t->construct<Semaphore>("slots", 5u);
  BOOST_TEST(s.value() == 5u);
  Segment again = Segment::open(t.name);
  auto* found = again.find<Semaphore>("slots");
  BOOST_REQUIRE(found != nullptr);
  BOOST_TEST(found->try_wait());
  BOOST_TEST(s.value() == 4u);  // two mappings, one semaphore
}
