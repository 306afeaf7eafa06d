// Mutex, Condition and SharedMutex placed in a segment, exercised by threads of one process
// (the cross-process cases are in integration/segment_xproc_test.cpp). Timeouts are generous
// upper bounds or "did not return early" lower bounds, never the synchronization itself.
#define BOOST_TEST_MODULE sync
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <boost/interprocess/sync/sharable_lock.hpp>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "backends.hpp"
#include "temp_segment.hpp"
#include "child_process.hpp"
#include "printing.hpp"
#include "shmkit/condition.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/recursive_mutex.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/shared_mutex.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace fixtures {

struct Guarded {
  static constexpr bool shmkit_shareable = true;  // shmkit/shareable.hpp
  Mutex mutex;
  Condition changed;
  std::uint64_t value = 0;
};

struct LockedWords {
  static constexpr bool shmkit_shareable = true;
  SharedMutex lock;
  std::uint64_t words[16] = {};
};

// Runs f on another thread and returns its result (the thread is joined before returning).
template <class F>
auto on_other_thread(F f) {
  return std::async(std::launch::async, f).get();
}

}  // namespace fixtures
using namespace fixtures;

BOOST_AUTO_TEST_CASE(layouts_are_fixed) {
  BOOST_TEST(sizeof(Mutex) == 64u);
  BOOST_TEST(sizeof(Condition) == 64u);
  BOOST_TEST(sizeof(SharedMutex) == 1024u);
  BOOST_TEST(sizeof(RecursiveMutex) == 64u);
  BOOST_TEST(Mutex::is_robust());
}

BOOST_DATA_TEST_CASE(mutex_excludes_and_times_out, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  Mutex& m = t->construct<Mutex>("m");
  {
    std::lock_guard<Mutex> g(m);
    BOOST_TEST(!on_other_thread([&] { return m.try_lock(); }));
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(!on_other_thread([&] { return m.try_lock_for(50ms); }));
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 50ms));  // waited, did not give up early
    BOOST_TEST(!on_other_thread([&] { return m.try_lock_until(std::chrono::steady_clock::now() + 20ms); }));
    BOOST_TEST(!on_other_thread([&] { return m.try_lock_until(std::chrono::system_clock::now() + 20ms); }));
  }
  BOOST_TEST(on_other_thread([&] {
    const bool got = m.try_lock_for(5s);
    if (got) m.unlock();
    return got;
  }));
  std::unique_lock<Mutex> lock(m, std::try_to_lock);
  BOOST_TEST(lock.owns_lock());
}

BOOST_DATA_TEST_CASE(mutex_counts_exactly_under_contention, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  Guarded& g = t->construct<Guarded>("g");
  constexpr int kThreads = 4, kIters = 20000;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < kIters; ++j) {
        std::lock_guard<Mutex> l(g.mutex);
        const std::uint64_t v = g.value;  // a non-atomic read-modify-write: lost updates show races
        g.value = v + 1;
      }
    });
  for (auto& th : threads) th.join();
  BOOST_TEST(g.value == std::uint64_t{kThreads} * kIters);
}

BOOST_DATA_TEST_CASE(dead_thread_holder_is_reported, bdata::make(test_backends()), backend) {
  // A robust mutex reports a holder that ended without unlocking (a thread here, a process in
  // the cross-process tests); RobustLock tells the one locker that saw it, the poison tells all.
  TempSegment t(backend);
  Guarded& g = t->construct<Guarded>("g");
  std::thread([&] {
    g.mutex.lock();
    g.value = 1;  // "half-updated"
  }).join();
  {
    RobustLock lock(g.mutex, 5s);
    BOOST_REQUIRE(lock.owns_lock());
    BOOST_TEST(lock.owner_died());
    BOOST_TEST(lock.poisoned());
    g.value = 0;  // repair
    lock.clear_poison();
    BOOST_TEST(!lock.poisoned());
  }
  BOOST_TEST(g.mutex.try_lock());
  BOOST_TEST(!g.mutex.poisoned());
  g.mutex.unlock();
}

BOOST_DATA_TEST_CASE(dead_holder_poisons_but_never_bricks, bdata::make(test_backends()), backend) {
  // std-style locking after a holder died: every lock succeeds, poisoned() is true for every
  // later locker until clear_poison(); RobustLock::owner_died() only for the one that saw it.
  TempSegment t(backend);
  Mutex& m = t->construct<Mutex>("m");
  BOOST_TEST(!m.poisoned());
  std::thread([&] { m.lock(); }).join();
  {
    std::lock_guard<Mutex> first(m);  // would have thrown owner_died before
    BOOST_TEST(m.poisoned());
  }
  for (int i = 0; i < 3; ++i) {
    std::unique_lock<Mutex> later(m, std::try_to_lock);
    BOOST_REQUIRE(later.owns_lock());
    BOOST_TEST(m.poisoned());
  }
  BOOST_TEST(on_other_thread([&] {
    RobustLock lock(m, 5s);
    return lock.owns_lock() && !lock.owner_died() && lock.poisoned();
  }));
  m.clear_poison();
  BOOST_TEST(!m.poisoned());
  BOOST_TEST(m.try_lock_for(1s));
  BOOST_TEST(!m.poisoned());
  m.unlock();
}

BOOST_DATA_TEST_CASE(recursive_mutex_relocks_and_survives_its_holder, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  RecursiveMutex& m = t->construct<RecursiveMutex>("rm");
  {
    std::lock_guard<RecursiveMutex> outer(m);
    std::lock_guard<RecursiveMutex> inner(m);  // the holding thread may lock again
    BOOST_TEST(m.try_lock());
    m.unlock();
    BOOST_TEST(!on_other_thread([&] { return m.try_lock(); }));
  }
  BOOST_TEST(on_other_thread([&] {  // free after the last unlock
    const bool got = m.try_lock_for(5s);
    if (got) m.unlock();
    return got;
  }));
  std::thread([&] {  // dies holding it twice
    m.lock();
    m.lock();
  }).join();
  BOOST_TEST(!m.poisoned());  // not seen yet: the death is found by the next locker
  BOOST_TEST((m.try_lock_or_recover_for(5s) == LockStatus::owner_died));
  BOOST_TEST(m.poisoned());
  m.unlock();
  BOOST_TEST(on_other_thread([&] {  // held once by the recoverer: one unlock freed it
    const bool got = m.try_lock_for(5s);
    if (got) m.unlock();
    return got && m.poisoned();
  }));
  m.clear_poison();
  BOOST_TEST(!m.poisoned());
}

BOOST_DATA_TEST_CASE(condition_wakes_and_times_out, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  Guarded& g = t->construct<Guarded>("g");

  {  // Nobody notifies: the predicate wait returns false after the timeout, holding the lock.
    std::unique_lock<Mutex> lock(g.mutex);
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(!g.changed.wait_for(lock, 30ms, [&] { return g.value == 1; }));
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 30ms));
    BOOST_TEST(lock.owns_lock());
    BOOST_TEST((g.changed.wait_for(lock, 1ms) == std::cv_status::timeout));
    BOOST_TEST(!g.changed.wait_until(lock, std::chrono::steady_clock::now() + 5ms, [] { return false; }));
  }

  // A notifier on another thread: the waiter sees every step, in order.
  std::thread producer([&] {
    for (std::uint64_t i = 1; i <= 1000; ++i) {
      std::unique_lock<Mutex> lock(g.mutex);
      g.changed.wait(lock, [&] { return g.value == 2 * i - 2; });
      g.value = 2 * i - 1;
      g.changed.notify_all();
    }
  });
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    std::unique_lock<Mutex> lock(g.mutex);
    BOOST_REQUIRE(g.changed.wait_for(lock, 10s, [&] { return g.value == 2 * i - 1; }));
    g.value = 2 * i;
    g.changed.notify_one();
  }
  producer.join();
  BOOST_TEST(g.value == 2000u);
}

BOOST_DATA_TEST_CASE(condition_works_with_robust_lock, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  Guarded& g = t->construct<Guarded>("g");
  std::thread setter([&] {
    RobustLock lock(g.mutex);
    g.value = 7;
    g.changed.notify_all();
  });
  {
    RobustLock lock(g.mutex);
    BOOST_TEST(g.changed.wait_for(lock, 10s, [&] { return g.value == 7; }));
  }
  setter.join();
}

BOOST_DATA_TEST_CASE(shared_mutex_readers_share_writers_exclude, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  SharedMutex& rw = t->construct<SharedMutex>("rw");
  {
    std::shared_lock<SharedMutex> reader(rw);
    BOOST_TEST(on_other_thread([&] {  // a second reader gets in
      const bool got = rw.try_lock_shared_for(1s);
      if (got) rw.unlock_shared();
      return got;
    }));
    BOOST_TEST(!on_other_thread([&] { return rw.try_lock(); }));        // a writer does not
    BOOST_TEST(!on_other_thread([&] { return rw.try_lock_for(20ms); }));
  }
  {
    std::unique_lock<SharedMutex> writer(rw);
    BOOST_TEST(!on_other_thread([&] { return rw.try_lock_shared(); }));
    BOOST_TEST(!on_other_thread([&] { return rw.try_lock_shared_for(20ms); }));
    BOOST_TEST(!on_other_thread([&] { return rw.try_lock_until(std::chrono::steady_clock::now() + 5ms); }));
  }
  BOOST_TEST(rw.try_lock());
  rw.unlock();
}

BOOST_DATA_TEST_CASE(shared_mutex_prefers_a_waiting_writer, bdata::make(test_backends()), backend) {
  // While a writer waits, new readers queue behind it: a stream of readers cannot starve it.
  TempSegment t(backend);
  SharedMutex& rw = t->construct<SharedMutex>("rw");
  std::atomic<bool> writer_done{false};
  rw.lock_shared();
  std::thread writer([&] {
    std::unique_lock<SharedMutex> w(rw);
    writer_done = true;
  });
  // Wait until the writer is queued: a new reader is then refused (bounded poll, not a sleep).
  bool reader_refused = false;
  for (int i = 0; i < 20000 && !reader_refused; ++i) {
    if (rw.try_lock_shared())
      rw.unlock_shared();
    else
      reader_refused = true;
    std::this_thread::yield();
  }
  BOOST_TEST(reader_refused);
  BOOST_TEST(!writer_done);
  rw.unlock_shared();
  writer.join();
  BOOST_TEST(writer_done);
}

BOOST_DATA_TEST_CASE(shared_mutex_keeps_a_record_whole, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  using Record = fixtures::LockedWords;
  Record& r = t->construct<Record>("r");
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> torn{0}, reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i)
    readers.emplace_back([&] {
      while (!stop.load()) {
        std::shared_lock<SharedMutex> l(r.lock);
        for (auto w : r.words)
          if (w != r.words[0]) ++torn;
        ++reads;
      }
    });
  // Every 50 writes the writer lets the readers in (waits for one more read), so writes and
  // reads interleave whatever the scheduler does; the lock itself prefers writers.
  std::uint64_t v = 0;
  for (; v < 5000;) {
    {
      std::unique_lock<SharedMutex> l(r.lock);
      ++v;
      for (auto& w : r.words) w = v;
    }
    if (v % 50 == 0) {
      const std::uint64_t seen = reads.load();
      while (reads.load() == seen) std::this_thread::yield();
    }
  }
  stop = true;
  for (auto& th : readers) th.join();
  BOOST_TEST(torn.load() == 0u);
  BOOST_TEST(reads.load() > 0u);
  BOOST_TEST(r.words[15] == v);
  BOOST_TEST(reads.load() >= 100u);
}

// Code written against Boost.Interprocess's sync types compiles unchanged with shmkit's: Boost's
// scoped_lock / sharable_lock, timed_lock(ptime), timed_wait, lock_sharable spellings.
BOOST_DATA_TEST_CASE(boost_interprocess_spellings_work, bdata::make(test_backends()), backend) {
  namespace bip = boost::interprocess;
  namespace pt = boost::posix_time;
  TempSegment t(backend);
  Guarded& g = t->construct<Guarded>("g");
  SharedMutex& rw = t->construct<SharedMutex>("rw");
  RecursiveMutex& rm = t->construct<RecursiveMutex>("rm");
  const auto in = [](long ms) { return pt::microsec_clock::universal_time() + pt::milliseconds(ms); };
  {
    bip::scoped_lock<Mutex> lock(g.mutex);
    BOOST_TEST(lock.owns());
    BOOST_TEST(!on_other_thread([&] { return g.mutex.timed_lock(in(20)); }));
    BOOST_TEST(!on_other_thread([&] {
      bip::scoped_lock<Mutex> other(g.mutex, in(20));  // Boost's timed constructor
      return other.owns();
    }));
    BOOST_TEST(!g.changed.timed_wait(lock, in(10)));  // nobody notifies: false at the deadline
    BOOST_TEST(!g.changed.timed_wait(lock, in(10), [&] { return g.value == 1; }));
    BOOST_TEST(lock.owns());
  }
  {
    bip::scoped_lock<Mutex> lock(g.mutex, bip::try_to_lock);
    BOOST_REQUIRE(lock.owns());
    std::thread setter([&] {
      bip::scoped_lock<Mutex> l(g.mutex);
      g.value = 1;
      g.changed.notify_all();
    });
    g.changed.wait(lock, [&] { return g.value == 1; });
    BOOST_TEST(g.value == 1u);
    lock.unlock();
    setter.join();
  }
  {
    bip::sharable_lock<SharedMutex> reader(rw);
    BOOST_TEST(reader.owns());
    BOOST_TEST(on_other_thread([&] {
      bip::sharable_lock<SharedMutex> second(rw, bip::try_to_lock);
      return second.owns();
    }));
    BOOST_TEST(!on_other_thread([&] { return rw.timed_lock(in(20)); }));
  }
  {
    bip::scoped_lock<SharedMutex> writer(rw, in(5000));
    BOOST_REQUIRE(writer.owns());
    BOOST_TEST(!on_other_thread([&] { return rw.timed_lock_sharable(in(20)); }));
    BOOST_TEST(!on_other_thread([&] { return rw.try_lock_sharable(); }));
  }
  rw.lock_sharable();
  rw.unlock_sharable();
  {
    bip::scoped_lock<RecursiveMutex> outer(rm);
    bip::scoped_lock<RecursiveMutex> inner(rm, in(5000));
    BOOST_TEST(inner.owns());
  }
  BOOST_TEST(g.mutex.timed_lock(pt::pos_infin));
  g.mutex.unlock();
  BOOST_TEST(!on_other_thread([&] {
    std::lock_guard<Mutex> hold(g.mutex);
    return g.mutex.timed_lock(pt::neg_infin);  // already passed: one try, from another thread
  }));
}
