// A helper killed (SIGKILL) in the middle of growing a segment, 200 times per backend, leaves a
// segment the next opener finds consistent and usable.
#define BOOST_TEST_MODULE segment_grow_kill
#include <signal.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

#include "await.hpp"
#include "backends.hpp"
#include "child_process.hpp"
#include "grow_segment.hpp"
#include "shmkit/memfd_handle.hpp"
#include "../helpers/segment_types.hpp"

using namespace shmkit;
using namespace shmkit::test;
namespace bdata = boost::unit_test::data;

namespace {

constexpr std::size_t kSize = kGrowStartSize;

}  // namespace

// A grower killed at any point of grow(): the backing object may be larger than the header says
// (the next grow uses it), the header's size is the old or the new one, the allocator never
// reaches past the header. Killed inside the allocator's own short critical section, the
// allocator is poisoned as after any allocation a process died in: Error(corrupt), never a crash.
BOOST_DATA_TEST_CASE(a_grower_killed_mid_grow_leaves_a_consistent_segment, bdata::make(growable_backends()),
                     backend) {
  // 200 rounds; a sanitizer build divides them by SHMKIT_STRESS_DIVISOR (test/sanitizers.cmake).
  const char* divisor_text = std::getenv("SHMKIT_STRESS_DIVISOR");
  const int divisor = divisor_text != nullptr ? std::max(1, std::atoi(divisor_text)) : 1;
  const int kRounds = 200 / divisor;
  constexpr std::uint64_t kStep = 4096;
  int usable = 0, poisoned = 0;
  for (int round = 0; round < kRounds; ++round) {
    GrowSegment g(backend, kSize + 4096 * kStep);  // room for far more grows than the helper makes
    auto& grows = g->construct<std::atomic<std::uint64_t>>("grows", 0u);
    g->construct<Mutex>("grow-lock");
    auto& values = g->construct<GrowValues>("grow-values");
    for (std::uint64_t i = 0; i < 200; ++i) values.push_back(grow_value(i));
    ChildProcess child = g.helper({"grow-until-killed", std::to_string(kStep)});
    const std::uint64_t target = 1 + static_cast<std::uint64_t>(round) * 7 % 100;  // vary where it dies
    std::optional<ExitStatus> early;
    BOOST_REQUIRE(await([&] {
      return grows.load(std::memory_order_acquire) >= target || (early = child.wait_for(std::chrono::milliseconds(0)));
    }));
    // The message is built whether or not the check fails: never from an empty optional.
    BOOST_REQUIRE_MESSAGE(!early, "helper ended before it was killed: " << (early ? early->describe() : ""));
    child.kill(SIGKILL);
    BOOST_REQUIRE_EQUAL(child.wait().signal, SIGKILL);
    const std::uint64_t done = grows.load(std::memory_order_acquire);

    // The next opener: the header validates, the size is the last finished grow's or the one
    // the helper died in, and every value is there.
    Segment next = Segment::open(g.name, options_for(backend));
    const std::size_t size = next.size();
    BOOST_REQUIRE_MESSAGE(size == kSize + done * kStep || size == kSize + (done + 1) * kStep,
                          "round " << round << ": size " << size << " after " << done << " grows");
    BOOST_REQUIRE_EQUAL(SegmentView::open(g.name, options_for(backend)).size(), size);
    const GrowValues* seen = next.find<GrowValues>("grow-values");
    BOOST_REQUIRE(seen != nullptr);
    BOOST_REQUIRE_EQUAL(seen->size(), 200u);
    for (std::uint64_t i = 0; i < 200; ++i) BOOST_REQUIRE_EQUAL((*seen)[i], grow_value(i));
    try {
      next.grow(kStep);  // takes the dead helper's grow lock over
      BOOST_REQUIRE_EQUAL(next.size(), size + kStep);
      BOOST_REQUIRE(next.free_memory() > (size - kSize) / 2);
      auto& after = next.construct<shmkit::vector<std::uint64_t>>("after", 2000, 9);
      BOOST_REQUIRE_EQUAL(after[1999], 9u);
      ++usable;
    } catch (const Error& e) {
      BOOST_TEST_MESSAGE("round " << round << ": " << e.what());
      BOOST_REQUIRE(e.errc() == Errc::corrupt);
      ++poisoned;
    }
  }
  BOOST_TEST_MESSAGE(to_string(backend) << ": " << usable << " usable, " << poisoned
                                        << " with the allocator poisoned (killed inside its critical section)");
  BOOST_TEST(usable + poisoned == kRounds);
}
