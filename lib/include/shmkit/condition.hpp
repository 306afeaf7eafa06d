// shmkit::Condition: a process-shared condition variable for shmkit::Mutex, placed in a segment.
//
// Waits take std::unique_lock<shmkit::Mutex> or shmkit::RobustLock. Every wait can be bounded
// (wait_for / wait_until); the clock is steady, so wall-clock changes do not shorten or stretch it.
// If, on waking, the mutex is re-acquired from a holder that died: with RobustLock the wait
// returns and lock.owner_died() is true; with std::unique_lock it throws Error(owner_died) with
// the lock held (unlocking it then makes the mutex not recoverable, as for Mutex::lock()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>

#include "shmkit/detail/native_sync.hpp"
#include "shmkit/mutex.hpp"

namespace shmkit {

class Condition {
 public:
  Condition();
  ~Condition();
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  void notify_one() noexcept;
  void notify_all() noexcept;

  template <class Lock>
  void wait(Lock& lock) {
    (void)wait_until_ns(*lock.mutex(), detail::kNoDeadline, robust_of(lock));
  }
  template <class Lock, class Predicate>
  void wait(Lock& lock, Predicate pred) {
    while (!pred()) wait(lock);
  }
  template <class Lock, class Clock, class Duration>
  std::cv_status wait_until(Lock& lock, const std::chrono::time_point<Clock, Duration>& tp) {
    return wait_until_ns(*lock.mutex(), detail::deadline_at(tp), robust_of(lock))
               ? std::cv_status::no_timeout
               : std::cv_status::timeout;
  }
  template <class Lock, class Clock, class Duration, class Predicate>
  bool wait_until(Lock& lock, const std::chrono::time_point<Clock, Duration>& tp, Predicate pred) {
    const detail::DeadlineNs deadline = detail::deadline_at(tp);
    while (!pred()) {
      if (!wait_until_ns(*lock.mutex(), deadline, robust_of(lock))) return pred();
    }
    return true;
  }
  template <class Lock, class Rep, class Period>
  std::cv_status wait_for(Lock& lock, const std::chrono::duration<Rep, Period>& d) {
    return wait_until_ns(*lock.mutex(), detail::deadline_after(d), robust_of(lock))
               ? std::cv_status::no_timeout
               : std::cv_status::timeout;
  }
  template <class Lock, class Rep, class Period, class Predicate>
  bool wait_for(Lock& lock, const std::chrono::duration<Rep, Period>& d, Predicate pred) {
    const detail::DeadlineNs deadline = detail::deadline_after(d);
    while (!pred()) {
      if (!wait_until_ns(*lock.mutex(), deadline, robust_of(lock))) return pred();
    }
    return true;
  }

 private:
  template <class Lock>
  static bool robust_of(const Lock&) noexcept {
    return std::is_same_v<Lock, RobustLock>;
  }
  // False on timeout. The mutex is held again on return (or when it throws owner_died).
  bool wait_until_ns(Mutex& m, detail::DeadlineNs deadline, bool robust);

  detail::NativeCondition native_;
  std::uint64_t reserved_ = 0;
};
static_assert(sizeof(Condition) == 64 && alignof(Condition) == 8);

}  // namespace shmkit
