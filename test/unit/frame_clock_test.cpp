// FrameClock: the writer's frame timestamps may reuse the previous reading, but never by more
// than kReuseNs, never go backwards, and never run ahead of the steady clock.
#define BOOST_TEST_MODULE frame_clock
#include <boost/test/unit_test.hpp>
#include <cstdint>

#include "frame_clock.hpp"

using shmkit::detail::FrameClock;
using shmkit::detail::steady_now_ns;

BOOST_AUTO_TEST_CASE(readings_stay_within_the_reuse_bound_of_the_steady_clock) {
  FrameClock clock;
  // The bound holds while the counter is calibrated to 1 %; the margin covers that error.
  constexpr std::int64_t kBound = FrameClock::kReuseNs + FrameClock::kReuseNs / 20;
  std::int64_t last = 0;
  std::uint64_t calls = 0, fresh = 0, late = 0, ahead = 0, backwards = 0;
  const std::int64_t end = steady_now_ns() + 50'000'000;  // 50 ms: past the 2 ms calibration
  for (std::int64_t before = steady_now_ns(); before < end; before = steady_now_ns()) {
    const std::int64_t t = clock.now();
    const std::int64_t after = steady_now_ns();
    ++calls;
    if (t != last) ++fresh;
    if (t < before - kBound) ++late;
    if (t > after) ++ahead;
    if (t < last) ++backwards;
    last = t;
  }
  BOOST_TEST(late == 0u);
  BOOST_TEST(ahead == 0u);
  BOOST_TEST(backwards == 0u);
  BOOST_TEST_MESSAGE(calls << " readings, " << fresh << " from the clock");
#if defined(__x86_64__)
  // With an invariant TSC, readings closer than a quarter of the bound are mostly reused. Where
  // the steady clock itself is slow to read (Wine: about a microsecond), they are not that close.
  const bool close = calls * (FrameClock::kReuseNs / 4) > 50'000'000u;
  if (shmkit::detail::invariant_tsc() && close) BOOST_TEST(fresh * 2 < calls);
#endif
}

BOOST_AUTO_TEST_CASE(readings_far_apart_each_read_the_clock) {
  FrameClock clock;
  std::int64_t last = clock.now();
  for (int i = 0; i < 200; ++i) {
    // Spin (no sleep) until more than the bound has passed: the next reading must be new.
    const std::int64_t until = steady_now_ns() + 2 * FrameClock::kReuseNs;
    while (steady_now_ns() < until) {
    }
    const std::int64_t before = steady_now_ns();
    const std::int64_t t = clock.now();
    BOOST_TEST(t > last);
    BOOST_TEST(t >= before - FrameClock::kReuseNs);
    last = t;
  }
}
