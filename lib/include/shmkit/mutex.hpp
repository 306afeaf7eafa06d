// shmkit::Mutex: a process-shared mutex placed in a segment that a dead holder never bricks.
//
// On Linux it is a robust process-shared pthread mutex (portable platform: an owner word whose
// holder waiters check for liveness). When a holder dies, the next locker acquires it, the mutex
// is made consistent at once and stays usable, and a shared *poison* flag is set:
//  - std-style lock()/try_lock()/try_lock_for() (std::lock_guard, std::unique_lock, Boost's
//    scoped_lock) succeed as usual; poisoned() is then true for every later locker in every
//    process, until someone who has checked or repaired the data calls clear_poison().
//  - RobustLock (or lock_or_recover()) also tells the one locker that observed the death
//    (owner_died()), so it can repair the protected data and then clear the poison.
// Nothing here throws owner_died or not_recoverable. docs/locking.md has the whole story.
// Lifetime: the object lives in shared memory; construct it once (Segment::construct), destroy it
// when no process uses it. Size and layout are fixed (static_asserts below) and part of the
// segment's layout fingerprint.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "shmkit/detail/boost_time.hpp"
#include "shmkit/detail/native_sync.hpp"

namespace shmkit {

enum class LockStatus : std::uint32_t {
  acquired = 0,    // held
  owner_died = 1,  // held; the previous holder died holding it (the mutex is now poisoned)
  timeout = 2,     // not held: the deadline passed
};

class Condition;

class Mutex {
 public:
  Mutex();
  ~Mutex();
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Lockable / TimedLockable. A dead previous holder does not make these fail: see poisoned().
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
  // Boost.Interprocess spelling: waits until abs_time (UTC, as Boost's interprocess_mutex does).
  bool timed_lock(const boost::posix_time::ptime& abs_time) {
    return lock_until(detail::deadline_from_ptime(abs_time)) != LockStatus::timeout;
  }
  void unlock() noexcept;

  // True after a holder died holding the mutex, until clear_poison(); seen by every process.
  bool poisoned() const noexcept { return poison_.load(std::memory_order_acquire) != 0; }
  // Call (best while holding it) once the protected data is checked or repaired.
  void clear_poison() noexcept { poison_.store(0, std::memory_order_release); }

  // Recovering interface: returns acquired or owner_died (both hold the lock), or timeout.
  [[nodiscard]] LockStatus lock_or_recover() { return lock_until(detail::kNoDeadline); }
  template <class Rep, class Period>
  [[nodiscard]] LockStatus try_lock_or_recover_for(const std::chrono::duration<Rep, Period>& t) {
    return lock_until(detail::deadline_after(t));
  }
  // Older names of clear_poison() and poisoned(), kept so existing repair code still compiles.
  void mark_consistent() noexcept { clear_poison(); }
  bool needs_repair() const noexcept { return poisoned(); }
  // False on platforms without robust mutexes (a dead holder then blocks until the timeout).
  static bool is_robust() noexcept;

 private:
  friend class Condition;
  LockStatus lock_until(detail::DeadlineNs deadline);
  // A native acquisition from a dead holder: make the native lock usable and poison.
  void adopt_dead_owner() noexcept;

  detail::NativeMutex native_;
  // Nonzero while poisoned. Segments written by older shmkit may hold 2 here ("not
  // recoverable"): read as poisoned, so their data is never trusted silently.
  std::atomic<std::uint32_t> poison_;
  std::uint32_t reserved_ = 0;
};
static_assert(sizeof(Mutex) == 64 && alignof(Mutex) == 8);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// RAII lock that reports a dead previous holder to its owner; works with Condition.
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
  // This lock took the mutex from a holder that died (here or in a Condition wait): repair what
  // it protects, then clear_poison(). Only the one locker that observed the death is told.
  bool owner_died() const noexcept { return status_ == LockStatus::owner_died; }
  // Some holder died since the poison was last cleared (maybe before this lock was taken).
  bool poisoned() const noexcept { return m_->poisoned(); }
  void clear_poison() noexcept { m_->clear_poison(); }
  void mark_consistent() noexcept { m_->clear_poison(); }  // older name of clear_poison()
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
