// shmkit::Mutex: a process-shared mutex placed in a segment, robust where the platform allows.
//
// On Linux it is a robust process-shared pthread mutex: when a holder dies, the next locker
// acquires it and is told so. Two ways to lock:
//  - std-style lock()/try_lock()/try_lock_for() (for std::lock_guard, std::unique_lock): if the
//    previous holder died they throw Error(owner_died) without holding the lock, and the mutex
//    becomes not recoverable, because a caller that cannot repair must never see half-updated data.
//  - RobustLock (or lock_or_recover()): acquires and reports owner_died(); the caller repairs the
//    protected data and calls mark_consistent() before unlocking. Unlocking without it makes the
//    mutex not recoverable: every later lock throws Error(not_recoverable), never hangs.
// Lifetime: the object lives in shared memory; construct it once (Segment::construct), destroy it
// when no process uses it. Size and layout are fixed (static_asserts below) and part of the
// segment's layout fingerprint.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "shmkit/detail/native_sync.hpp"

namespace shmkit {

enum class LockStatus : std::uint32_t {
  acquired = 0,    // held; the protected data is consistent
  owner_died = 1,  // held; the previous holder died: repair, then mark_consistent()
  timeout = 2,     // not held: the deadline passed
};

class Condition;

class Mutex {
 public:
  Mutex();
  ~Mutex();
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Lockable / TimedLockable. Throw Error(owner_died) or Error(not_recoverable); see above.
  void lock() { (void)lock_until(detail::kNoDeadline, false); }
  bool try_lock() { return lock_until(0, false) == LockStatus::acquired; }
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return lock_until(detail::deadline_after(timeout), false) == LockStatus::acquired;
  }
  template <class Clock, class Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& tp) {
    return lock_until(detail::deadline_at(tp), false) == LockStatus::acquired;
  }
  void unlock() noexcept;

  // Recovering interface: returns acquired or owner_died (both hold the lock), or timeout.
  [[nodiscard]] LockStatus lock_or_recover() { return lock_until(detail::kNoDeadline, true); }
  template <class Rep, class Period>
  [[nodiscard]] LockStatus try_lock_or_recover_for(const std::chrono::duration<Rep, Period>& t) {
    return lock_until(detail::deadline_after(t), true);
  }
  // Call while holding, after repairing the data the previous (dead) holder left.
  void mark_consistent() noexcept;
  // True while held by a locker that was told owner_died and has not yet marked it consistent.
  bool needs_repair() const noexcept;
  // False on platforms without robust mutexes (a dead holder then blocks until the timeout).
  static bool is_robust() noexcept;

 private:
  friend class Condition;
  LockStatus lock_until(detail::DeadlineNs deadline, bool recover);
  // Applies the owner_died / not_recoverable rules after the native lock was taken.
  LockStatus after_acquire(detail::LockOutcome outcome, bool recover);

  detail::NativeMutex native_;
  std::atomic<std::uint32_t> state_;  // 0 consistent, 1 needs repair, 2 not recoverable
  std::uint32_t reserved_ = 0;
};
static_assert(sizeof(Mutex) == 64 && alignof(Mutex) == 8);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// RAII lock that reports a dead previous holder instead of throwing; works with Condition.
class RobustLock {
 public:
  explicit RobustLock(Mutex& m) : m_(&m), status_(m.lock_or_recover()) {}
  // Waits at most `timeout`; owns_lock() is false if it ran out.
  template <class Rep, class Period>
  RobustLock(Mutex& m, const std::chrono::duration<Rep, Period>& timeout)
      : m_(&m), status_(m.try_lock_or_recover_for(timeout)) {}
  RobustLock(const RobustLock&) = delete;
  RobustLock& operator=(const RobustLock&) = delete;
  ~RobustLock() { unlock(); }

  bool owns_lock() const noexcept { return status_ != LockStatus::timeout; }
  explicit operator bool() const noexcept { return owns_lock(); }
  // The previous holder died holding the lock: repair what it protects, then mark_consistent().
  bool owner_died() const noexcept { return owns_lock() && m_->needs_repair(); }
  void mark_consistent() noexcept { m_->mark_consistent(); }
  void unlock() noexcept {
    if (owns_lock()) m_->unlock();
    status_ = LockStatus::timeout;
  }
  Mutex* mutex() const noexcept { return m_; }

 private:
  friend class Condition;
  Mutex* m_;
  LockStatus status_;
};

}  // namespace shmkit
