// Portable logic of shmkit's sync types over the native seam (native_sync.hpp).
#include <string>

#include "shmkit/condition.hpp"
#include "shmkit/detail/segment_manager.hpp"
#include "shmkit/error.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/shared_mutex.hpp"

namespace shmkit {
namespace {

enum : std::uint32_t { kConsistent = 0, kNeedsRepair = 1, kNotRecoverable = 2 };

[[noreturn]] void throw_not_recoverable() {
  throw Error(Errc::not_recoverable,
              "mutex is not recoverable: a holder died and the data it protects was not repaired "
              "(use shmkit::RobustLock and mark_consistent() to repair); recreate the mutex and "
              "the data it guards");
}

[[noreturn]] void throw_owner_died() {
  throw Error(Errc::owner_died,
              "the previous holder of the mutex died while holding it, so the data it protects may "
              "be half-updated; the mutex is now not recoverable. Lock it with shmkit::RobustLock "
              "to be told of this and repair the data instead");
}

}  // namespace

// ---- Mutex -------------------------------------------------------------------------------

Mutex::Mutex() : state_(kConsistent) { detail::native_mutex_init(native_, detail::MutexKind::normal); }

Mutex::~Mutex() { detail::native_mutex_destroy(native_); }

LockStatus Mutex::lock_until(detail::DeadlineNs deadline, bool recover) {
  return after_acquire(detail::native_mutex_lock(native_, deadline), recover);
}

LockStatus Mutex::after_acquire(detail::LockOutcome outcome, bool recover) {
  if (outcome == detail::LockOutcome::timeout) return LockStatus::timeout;
  if (outcome == detail::LockOutcome::owner_died) {
    // The native lock is made usable at once; shmkit's own state word carries "needs repair",
    // so a repairer that dies too is seen by the next locker just the same.
    detail::native_mutex_make_consistent(native_);
    if (state_.load(std::memory_order_relaxed) != kNotRecoverable)
      state_.store(kNeedsRepair, std::memory_order_relaxed);
  }
  switch (state_.load(std::memory_order_relaxed)) {
    case kConsistent: return LockStatus::acquired;
    case kNeedsRepair:
      if (recover) return LockStatus::owner_died;
      state_.store(kNotRecoverable, std::memory_order_relaxed);
      detail::native_mutex_unlock(native_);
      throw_owner_died();
    default:
      detail::native_mutex_unlock(native_);
      throw_not_recoverable();
  }
}

void Mutex::unlock() noexcept {
  // Unlocking while repair is still owed is a refusal to repair: later lockers must not trust the data.
  if (state_.load(std::memory_order_relaxed) == kNeedsRepair)
    state_.store(kNotRecoverable, std::memory_order_relaxed);
  detail::native_mutex_unlock(native_);
}

void Mutex::mark_consistent() noexcept {
  if (state_.load(std::memory_order_relaxed) == kNeedsRepair)
    state_.store(kConsistent, std::memory_order_relaxed);
}

bool Mutex::needs_repair() const noexcept { return state_.load(std::memory_order_relaxed) == kNeedsRepair; }

bool Mutex::is_robust() noexcept { return detail::native_mutex_is_robust(); }

// ---- Condition -----------------------------------------------------------------------------

Condition::Condition() { detail::native_condition_init(native_); }
Condition::~Condition() { detail::native_condition_destroy(native_); }
void Condition::notify_one() noexcept { detail::native_condition_notify_one(native_); }
void Condition::notify_all() noexcept { detail::native_condition_notify_all(native_); }

bool Condition::wait_until_ns(Mutex& m, detail::DeadlineNs deadline, bool robust) {
  const detail::LockOutcome outcome = detail::native_condition_wait(native_, m.native_, deadline);
  if (outcome == detail::LockOutcome::owner_died || m.state_.load(std::memory_order_relaxed) != kConsistent) {
    if (outcome == detail::LockOutcome::owner_died) detail::native_mutex_make_consistent(m.native_);
    if (m.state_.load(std::memory_order_relaxed) == kNotRecoverable) throw_not_recoverable();
    m.state_.store(kNeedsRepair, std::memory_order_relaxed);
    // The caller's lock object still owns the mutex; unlocking it unrepaired marks it not recoverable.
    if (!robust) throw_owner_died();
  }
  return outcome != detail::LockOutcome::timeout;
}

// ---- SharedMutex ---------------------------------------------------------------------------

namespace {

// Holds SharedMutex's internal state lock. The critical sections only update counters, so a
// holder that died left them whole: the lock is made consistent and work goes on.
class StateGuard {
 public:
  StateGuard(detail::NativeMutex& m, detail::DeadlineNs deadline) : m_(m) {
    const auto outcome = detail::native_mutex_lock(m_, deadline);
    if (outcome == detail::LockOutcome::owner_died) detail::native_mutex_make_consistent(m_);
    owns_ = outcome != detail::LockOutcome::timeout;
  }
  ~StateGuard() {
    if (owns_) detail::native_mutex_unlock(m_);
  }
  StateGuard(const StateGuard&) = delete;
  StateGuard& operator=(const StateGuard&) = delete;
  bool owns() const { return owns_; }
  // Waits on cv; false on timeout. The state lock is held again on return.
  bool wait(detail::NativeCondition& cv, detail::DeadlineNs deadline) {
    const auto outcome = detail::native_condition_wait(cv, m_, deadline);
    if (outcome == detail::LockOutcome::owner_died) detail::native_mutex_make_consistent(m_);
    return outcome != detail::LockOutcome::timeout;
  }

 private:
  detail::NativeMutex& m_;
  bool owns_;
};

}  // namespace

SharedMutex::SharedMutex() {
  detail::native_mutex_init(state_lock_, detail::MutexKind::normal);
  detail::native_condition_init(readers_cv_);
  detail::native_condition_init(writers_cv_);
}

SharedMutex::~SharedMutex() {
  detail::native_condition_destroy(writers_cv_);
  detail::native_condition_destroy(readers_cv_);
  detail::native_mutex_destroy(state_lock_);
}

bool SharedMutex::lock_until(detail::DeadlineNs deadline) {
  StateGuard g(state_lock_, deadline);
  if (!g.owns()) return false;
  ++writers_waiting_;
  while (writer_ != 0 || readers_ != 0) {
    if (deadline == 0 || !g.wait(writers_cv_, deadline)) {
      if (writer_ == 0 && readers_ == 0) break;
      --writers_waiting_;
      // Readers held back by this writer may go now.
      if (writers_waiting_ == 0) detail::native_condition_notify_all(readers_cv_);
      return false;
    }
  }
  --writers_waiting_;
  writer_ = 1;
  return true;
}

void SharedMutex::unlock() noexcept {
  StateGuard g(state_lock_, detail::kNoDeadline);
  writer_ = 0;
  if (writers_waiting_ != 0) detail::native_condition_notify_one(writers_cv_);
  detail::native_condition_notify_all(readers_cv_);
}

bool SharedMutex::lock_shared_until(detail::DeadlineNs deadline) {
  StateGuard g(state_lock_, deadline);
  if (!g.owns()) return false;
  while (writer_ != 0 || writers_waiting_ != 0) {
    if (deadline == 0 || !g.wait(readers_cv_, deadline)) {
      if (writer_ == 0 && writers_waiting_ == 0) break;
      return false;
    }
  }
  ++readers_;
  return true;
}

void SharedMutex::unlock_shared() noexcept {
  StateGuard g(state_lock_, detail::kNoDeadline);
  if (readers_ > 0) --readers_;
  if (readers_ == 0 && writers_waiting_ != 0) detail::native_condition_notify_one(writers_cv_);
}

// ---- The segment manager's locks -----------------------------------------------------------

namespace detail {

template <MutexKind Kind>
bool ManagerMutex<Kind>::acquired(LockOutcome outcome) {
  if (outcome == LockOutcome::timeout) return false;
  if (outcome == LockOutcome::owner_died) {
    // A process died inside the allocator or the name index: their trees may be half-linked.
    poisoned_.store(1, std::memory_order_release);
    native_mutex_make_consistent(native_);
  }
  if (poisoned_.load(std::memory_order_acquire) != 0) {
    native_mutex_unlock(native_);
    throw Error(Errc::corrupt,
                "a process died while allocating in or looking up names in this segment, so its "
                "allocator may be inconsistent; the segment is marked suspect: recreate it");
  }
  return true;
}

template <MutexKind Kind>
bool ManagerMutex<Kind>::reinitialize_stale() noexcept {
  // Any owner recorded in the word is from another boot: a try-lock only tells held from free.
  // What it acquired is released first, so no robust list of ours points into the old lock.
  bool held = true;
  try {
    const LockOutcome outcome = native_mutex_lock(native_, 0);
    if (outcome == LockOutcome::owner_died) native_mutex_make_consistent(native_);
    if (outcome != LockOutcome::timeout) native_mutex_unlock(native_);
    held = outcome != LockOutcome::acquired;
  } catch (...) {
  }
  try {
    native_mutex_init(native_, Kind);
  } catch (...) {
    held = true;  // pthread_mutex_init does not fail on valid storage; if it did, refuse to use it
  }
  if (held) poisoned_.store(1, std::memory_order_release);
  return held;
}

template class ManagerMutex<MutexKind::normal>;
template class ManagerMutex<MutexKind::recursive>;

}  // namespace detail
}  // namespace shmkit
