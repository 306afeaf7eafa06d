// FrameClock::now() (shmkit/detail/frame_clock.hpp says why). Where no invariant cycle counter
// exists (not x86, or a CPU whose TSC rate changes) every frame reads the steady clock.
#pragma once

#include "shmkit/detail/deadline.hpp"
#include "shmkit/detail/frame_clock.hpp"

#if defined(__x86_64__) || defined(__i386__)
#ifdef _WIN32
#include <intrin.h>  // before <cpuid.h>, whose __cpuid macro would break mingw-w64's __cpuid declaration
#endif
#include <cpuid.h>
#include <x86intrin.h>
#define SHMKIT_FRAME_CLOCK_TSC 1
#endif

namespace shmkit::detail {

#ifdef SHMKIT_FRAME_CLOCK_TSC

// CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in every P-, C- and T-state.
inline bool invariant_tsc() noexcept {
  static const bool yes = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(0x80000007, &a, &b, &c, &d) != 0 && (d & (1U << 8)) != 0;
  }();
  return yes;
}

inline std::int64_t FrameClock::now() noexcept {
  // Unordered rdtsc: an estimate of the time since the last reading is all it is used for. A
  // count that went backwards (another CPU, a restored VM) wraps to a huge difference: a reading.
  const std::uint64_t tsc = __rdtsc();
  if (reuses_ != 0 && tsc - tsc_ < reuse_ticks_) {
    --reuses_;
    return ns_;
  }
  const std::int64_t ns = steady_now_ns();
  if (tsc < tsc_) untrusted_ = true;  // never reuse again: the counter is not one clock here
  if (reuse_ticks_ == 0 && !untrusted_) calibrate(tsc, ns);
  tsc_ = tsc;
  ns_ = ns;
  reuses_ = reuse_ticks_ != 0 && !untrusted_ ? kMaxReuses : 0;
  return ns;
}

// Cycles per kReuseNs, from two readings at least 2 ms apart, each bracketed by the counter so
// that a preemption inside one shows and the pair is retried (an error below 1 %).
inline void FrameClock::calibrate(std::uint64_t tsc, std::int64_t ns) noexcept {
  if (!invariant_tsc()) {
    untrusted_ = true;
    return;
  }
  const std::uint64_t after = __rdtsc();
  if (anchor_ns_ == 0 || tsc <= anchor_tsc_ || ns <= anchor_ns_) {
    anchor_tsc_ = tsc;
    anchor_ns_ = ns;
    anchor_width_ = after - tsc;
    return;
  }
  if (ns - anchor_ns_ < 2'000'000) return;
  const std::uint64_t span = tsc - anchor_tsc_;
  if ((after - tsc) > span / 256 || anchor_width_ > span / 256) {
    anchor_ns_ = 0;  // one of the two readings was interrupted: start over
    return;
  }
  const double ticks_per_ns = static_cast<double>(span) / static_cast<double>(ns - anchor_ns_);
  reuse_ticks_ = static_cast<std::uint64_t>(ticks_per_ns * static_cast<double>(kReuseNs));
}

#else

inline std::int64_t FrameClock::now() noexcept { return steady_now_ns(); }
inline void FrameClock::calibrate(std::uint64_t, std::int64_t) noexcept {}

#endif

}  // namespace shmkit::detail
