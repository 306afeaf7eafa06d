// shmkit::Semaphore: a counting, process-shared semaphore placed in a segment by name.
//
// For pools of slots and for limiting concurrency across processes: wait() takes one unit
// (blocking while the count is 0), post() gives units back. Timed waits use the steady clock.
// A process that dies while blocked in wait() leaves nothing behind: post() wakes every sleeper
// and each re-checks the count, so no wake-up is lost to a dead waiter. A process that dies
// *holding* a unit (between wait() and post()) does leak that unit: a semaphore has no owner to
// detect; guard such pools with a Mutex (robust) if holders may die (docs/locking.md shows how).
// Lifetime and layout as for shmkit::Mutex: construct once in a segment; fixed size (asserted).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "shmkit/detail/deadline.hpp"

namespace shmkit {

class Semaphore {
 public:
  // The largest count a semaphore holds; post() beyond it throws Error(invalid_argument).
  static constexpr std::uint32_t max_value = std::numeric_limits<std::int32_t>::max();

  explicit Semaphore(std::uint32_t initial = 0);
  ~Semaphore() = default;
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Adds n units and wakes waiters. Throws Error(invalid_argument) if the count would pass max_value.
  void post(std::uint32_t n = 1);
  // Takes one unit, blocking while there is none.
  void wait() { (void)wait_until_ns(detail::kNoDeadline); }
  // Takes one unit if there is one; never blocks.
  [[nodiscard]] bool try_wait() noexcept;
  // Takes one unit, waiting at most `timeout`; false if none came.
  template <class Rep, class Period>
  [[nodiscard]] bool try_wait_for(const std::chrono::duration<Rep, Period>& timeout) {
    return wait_until_ns(detail::deadline_after(timeout));
  }
  template <class Clock, class Duration>
  [[nodiscard]] bool try_wait_until(const std::chrono::time_point<Clock, Duration>& tp) {
    return wait_until_ns(detail::deadline_at(tp));
  }
  // The current count: a snapshot, stale as soon as it is returned (for diagnostics and tests).
  std::uint32_t value() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  bool wait_until_ns(detail::DeadlineNs deadline);

  std::atomic<std::uint32_t> count_;       // the futex word: units available
  std::atomic<std::uint32_t> sleepers_{0};  // processes (maybe dead) that announced a sleep
  std::uint32_t magic_;                     // catches use of an unconstructed semaphore
  std::uint32_t reserved_ = 0;
};
static_assert(sizeof(Semaphore) == 16 && alignof(Semaphore) == 4);
static_assert(std::is_standard_layout_v<Semaphore>);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// RAII: holds one unit of a Semaphore for a scope (a slot of a pool).
class SemaphoreSlot {
 public:
  explicit SemaphoreSlot(Semaphore& s) : s_(&s) { s.wait(); }
  // Waits at most `timeout`; owns() is false if no unit came.
  template <class Rep, class Period>
  SemaphoreSlot(Semaphore& s, const std::chrono::duration<Rep, Period>& timeout)
      : s_(s.try_wait_for(timeout) ? &s : nullptr) {}
  SemaphoreSlot(const SemaphoreSlot&) = delete;
  SemaphoreSlot& operator=(const SemaphoreSlot&) = delete;
  ~SemaphoreSlot() { release(); }

  bool owns() const noexcept { return s_ != nullptr; }
  explicit operator bool() const noexcept { return owns(); }
  void release() {
    if (s_ != nullptr) std::exchange(s_, nullptr)->post();
  }

 private:
  Semaphore* s_;
};

}  // namespace shmkit
