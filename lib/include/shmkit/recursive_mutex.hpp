// shmkit::RecursiveMutex: a process-shared mutex that the thread holding it may lock again, with
// the same owner-death rules as shmkit::Mutex (made usable at once, poison flag until cleared).
//
// For code ported from boost::interprocess::interprocess_recursive_mutex. Each lock() or
// successful try_lock() needs its own unlock(); the mutex is free again after the last one. A
// holder that dies frees it whatever its depth. Not for shmkit::Condition (waiting with a mutex
// locked more than once would keep it held): use shmkit::Mutex there.
// Lifetime and layout as for shmkit::Mutex: construct once in a segment; fixed size (asserted).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "shmkit/detail/boost_time.hpp"
#include "shmkit/detail/native_sync.hpp"
#include "shmkit/mutex.hpp"  // LockStatus

namespace shmkit {

class RecursiveMutex {
 public:
  RecursiveMutex();
  ~RecursiveMutex();
  RecursiveMutex(const RecursiveMutex&) = delete;
  RecursiveMutex& operator=(const RecursiveMutex&) = delete;

  // Lockable / TimedLockable, and Boost's timed_lock(ptime). Succeed after a holder died too.
  void lock() { (void)lock_until(detail::kNoDeadline); }
  bool try_lock() { return lock_until(0) != LockStatus::timeout; }
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return lock_until(detail::deadline_after(timeout)) != LockStatus::timeout;
  }
  template <class Clock, class Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& tp) {
    return lock_until(detail::deadline_at(tp)) != LockStatus::timeout;
  }
  bool timed_lock(const boost::posix_time::ptime& abs_time) {
    return lock_until(detail::deadline_from_ptime(abs_time)) != LockStatus::timeout;
  }
  void unlock() noexcept;

  // Returns owner_died to the one locker that took it from a dead holder (it then holds it once).
  [[nodiscard]] LockStatus lock_or_recover() { return lock_until(detail::kNoDeadline); }
  template <class Rep, class Period>
  [[nodiscard]] LockStatus try_lock_or_recover_for(const std::chrono::duration<Rep, Period>& t) {
    return lock_until(detail::deadline_after(t));
  }

  // As for Mutex: true after a holder died, in every process, until clear_poison().
  bool poisoned() const noexcept { return poison_.load(std::memory_order_acquire) != 0; }
  void clear_poison() noexcept { poison_.store(0, std::memory_order_release); }

 private:
  LockStatus lock_until(detail::DeadlineNs deadline);

  detail::NativeMutex native_;
  std::atomic<std::uint32_t> poison_;
  std::uint32_t reserved_ = 0;
};
static_assert(sizeof(RecursiveMutex) == 64 && alignof(RecursiveMutex) == 8);

}  // namespace shmkit
