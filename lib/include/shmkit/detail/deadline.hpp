// Deadlines as steady-clock nanoseconds, so that every timed wait in shmkit takes one form.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace shmkit::detail {

// Nanoseconds on std::chrono::steady_clock (CLOCK_MONOTONIC on Linux): immune to wall-clock jumps.
using DeadlineNs = std::int64_t;
inline constexpr DeadlineNs kNoDeadline = std::numeric_limits<DeadlineNs>::max();

inline DeadlineNs steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <class Rep, class Period>
DeadlineNs deadline_after(const std::chrono::duration<Rep, Period>& d) noexcept {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  if (ns <= 0) return steady_now_ns();
  const DeadlineNs now = steady_now_ns();
  return ns > kNoDeadline - now ? kNoDeadline : now + static_cast<DeadlineNs>(ns);
}

template <class Clock, class Duration>
DeadlineNs deadline_at(const std::chrono::time_point<Clock, Duration>& tp) noexcept {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  } else {
    return deadline_after(tp - Clock::now());  // other clocks: measured once, then steady
  }
}

}  // namespace shmkit::detail
