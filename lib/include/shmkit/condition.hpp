// shmkit::Condition: a process-shared condition variable for shmkit::Mutex, placed in a segment.
//
// Waits take std::unique_lock<shmkit::Mutex>, shmkit::RobustLock or Boost's
// scoped_lock<shmkit::Mutex>. Every wait can be bounded (wait_for / wait_until, or Boost's
// timed_wait with a ptime); the clock is steady, so wall-clock changes do not shorten or stretch it.
// If, on waking, the mutex is re-acquired from a holder that died, the wait returns normally
// with the lock held and the mutex poisoned (Mutex::poisoned()); with RobustLock,
// lock.owner_died() is also true, as for Mutex::lock_or_recover().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <type_traits>

#include "shmkit/detail/boost_time.hpp"
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
    (void)wait_until_ns(*lock.mutex(), detail::kNoDeadline, status_of(lock));
  }
  template <class Lock, class Predicate>
  void wait(Lock& lock, Predicate pred) {
    while (!pred()) wait(lock);
  }
  template <class Lock, class Clock, class Duration>
  std::cv_status wait_until(Lock& lock, const std::chrono::time_point<Clock, Duration>& tp) {
    return wait_until_ns(*lock.mutex(), detail::deadline_at(tp), status_of(lock))
               ? std::cv_status::no_timeout
               : std::cv_status::timeout;
  }
  template <class Lock, class Clock, class Duration, class Predicate>
  bool wait_until(Lock& lock, const std::chrono::time_point<Clock, Duration>& tp, Predicate pred) {
    const detail::DeadlineNs deadline = detail::deadline_at(tp);
    while (!pred()) {
      if (!wait_until_ns(*lock.mutex(), deadline, status_of(lock))) return pred();
    }
    return true;
  }
  template <class Lock, class Rep, class Period>
  std::cv_status wait_for(Lock& lock, const std::chrono::duration<Rep, Period>& d) {
    return wait_until_ns(*lock.mutex(), detail::deadline_after(d), status_of(lock))
               ? std::cv_status::no_timeout
               : std::cv_status::timeout;
  }
  template <class Lock, class Rep, class Period, class Predicate>
  bool wait_for(Lock& lock, const std::chrono::duration<Rep, Period>& d, Predicate pred) {
    const detail::DeadlineNs deadline = detail::deadline_after(d);
    while (!pred()) {
      if (!wait_until_ns(*lock.mutex(), deadline, status_of(lock))) return pred();
    }
    return true;
  }

  // Boost.Interprocess spellings (interprocess_condition): abs_time is UTC, as in Boost.
  template <class Lock>
  bool timed_wait(Lock& lock, const boost::posix_time::ptime& abs_time) {
    return wait_until_ns(*lock.mutex(), detail::deadline_from_ptime(abs_time), status_of(lock));
  }
  template <class Lock, class Predicate>
  bool timed_wait(Lock& lock, const boost::posix_time::ptime& abs_time, Predicate pred) {
    const detail::DeadlineNs deadline = detail::deadline_from_ptime(abs_time);
    while (!pred()) {
      if (!wait_until_ns(*lock.mutex(), deadline, status_of(lock))) return pred();
    }
    return true;
  }

 private:
  // Where a wait records that it re-acquired from a dead holder: only RobustLock has a place.
  template <class Lock>
  static LockStatus* status_of(Lock& lock) noexcept {
    if constexpr (std::is_same_v<Lock, RobustLock>) {
      return &lock.status_;
    } else {
      return nullptr;
    }
  }
  // False on timeout. The mutex is held again on return.
  bool wait_until_ns(Mutex& m, detail::DeadlineNs deadline, LockStatus* status);

  detail::NativeCondition native_;
  std::uint64_t reserved_ = 0;
};
static_assert(sizeof(Condition) == 64 && alignof(Condition) == 8);

}  // namespace shmkit
