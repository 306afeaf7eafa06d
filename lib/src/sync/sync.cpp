// Portable logic of shmkit's sync types over the native seam (native_sync.hpp).
#include <atomic>
#include <string>

#include "shmkit/condition.hpp"
#include "shmkit/detail/segment_manager.hpp"
#include "shmkit/error.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/recursive_mutex.hpp"
#include "shmkit/shared_mutex.hpp"
#include "process_identity.hpp"

namespace shmkit {

// ---- Mutex -------------------------------------------------------------------------------

Mutex::Mutex() : poison_(0) { detail::native_mutex_init(native_, detail::MutexKind::normal); }

Mutex::~Mutex() { detail::native_mutex_destroy(native_); }

void Mutex::adopt_dead_owner() noexcept {
  // Consistent at once, so the lock never becomes unusable; the poison, not the native state,
  // carries "the data may be half-updated", and a repairer that dies too is reported the same way.
  detail::native_mutex_make_consistent(native_);
  poison_.store(1, std::memory_order_release);
}

LockStatus Mutex::lock_until(detail::DeadlineNs deadline) {
  switch (detail::native_mutex_lock(native_, deadline)) {
    case detail::LockOutcome::acquired: return LockStatus::acquired;
    case detail::LockOutcome::owner_died: adopt_dead_owner(); return LockStatus::owner_died;
    default: return LockStatus::timeout;
  }
}

void Mutex::unlock() noexcept { detail::native_mutex_unlock(native_); }

bool Mutex::is_robust() noexcept { return detail::native_mutex_is_robust(); }

// ---- RecursiveMutex ------------------------------------------------------------------------

RecursiveMutex::RecursiveMutex() : poison_(0) { detail::native_mutex_init(native_, detail::MutexKind::recursive); }

RecursiveMutex::~RecursiveMutex() { detail::native_mutex_destroy(native_); }

LockStatus RecursiveMutex::lock_until(detail::DeadlineNs deadline) {
  switch (detail::native_mutex_lock(native_, deadline)) {
    case detail::LockOutcome::acquired: return LockStatus::acquired;
    case detail::LockOutcome::owner_died:
      detail::native_mutex_make_consistent(native_);
      poison_.store(1, std::memory_order_release);
      return LockStatus::owner_died;
    default: return LockStatus::timeout;
  }
}

void RecursiveMutex::unlock() noexcept { detail::native_mutex_unlock(native_); }

// ---- Condition -----------------------------------------------------------------------------

Condition::Condition() { detail::native_condition_init(native_); }
Condition::~Condition() { detail::native_condition_destroy(native_); }
void Condition::notify_one() noexcept { detail::native_condition_notify_one(native_); }
void Condition::notify_all() noexcept { detail::native_condition_notify_all(native_); }

bool Condition::wait_until_ns(Mutex& m, detail::DeadlineNs deadline, LockStatus* status) {
  const detail::LockOutcome outcome = detail::native_condition_wait(native_, m.native_, deadline);
  if (outcome == detail::LockOutcome::owner_died) {
    m.adopt_dead_owner();
    if (status != nullptr) *status = LockStatus::owner_died;
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

// While a waiter sleeps on a held SharedMutex it looks this often whether the holders still live:
// a dead process cannot notify, so its death is found by looking.
constexpr detail::DeadlineNs kLivenessPeriodNs = 2'000'000;

// This process's identity, read once per process (a forked child reads its own).
detail::ProcessIdentity me() noexcept {
  static std::atomic<std::int32_t> cached_pid{0};
  static std::atomic<std::uint64_t> cached_start{0};
  const std::int32_t pid = detail::current_pid();
  if (cached_pid.load(std::memory_order_acquire) != pid) {
    cached_start.store(detail::process_start_time(pid), std::memory_order_relaxed);
    cached_pid.store(pid, std::memory_order_release);
  }
  detail::ProcessIdentity id;
  id.pid = pid;
  id.start_time = cached_start.load(std::memory_order_relaxed);
  return id;
}

bool same_process(std::int32_t pid, std::uint64_t start, const detail::ProcessIdentity& id) noexcept {
  return pid == id.pid && (start == 0 || id.start_time == 0 || start == id.start_time);
}

detail::DeadlineNs next_look(detail::DeadlineNs deadline) noexcept {
  const detail::DeadlineNs now = detail::steady_now_ns();
  return deadline - now > kLivenessPeriodNs ? now + kLivenessPeriodNs : deadline;
}

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

detail::SharedMutexShare* SharedMutex::my_share(bool claim) noexcept {
  const detail::ProcessIdentity id = me();
  detail::SharedMutexShare* free_entry = nullptr;
  for (auto& s : shares_) {
    if (same_process(s.pid, s.start_time, id)) return &s;
    if (free_entry == nullptr && (s.pid <= 0 || (s.readers == 0 && s.writers_waiting == 0))) free_entry = &s;
  }
  if (!claim || free_entry == nullptr) return nullptr;
  // Counts first, pid last: a process that dies in between leaves an entry that reads as free.
  free_entry->readers = 0;
  free_entry->writers_waiting = 0;
  free_entry->start_time = id.start_time;
  free_entry->pid = id.pid;
  return free_entry;
}

bool SharedMutex::any_readers() const noexcept {
  for (const auto& s : shares_)
    if (s.pid > 0 && s.readers != 0) return true;
  return false;
}

bool SharedMutex::any_writers_waiting() const noexcept {
  for (const auto& s : shares_)
    if (s.pid > 0 && s.writers_waiting != 0) return true;
  return false;
}

bool SharedMutex::reclaim_dead() noexcept {
  const detail::ProcessIdentity id = me();
  bool found = false;
  if (writer_pid_ > 0 && !same_process(writer_pid_, writer_start_time_, id) &&
      !detail::process_alive(writer_pid_, writer_start_time_)) {
    // It may have been half-way through changing what the lock protects.
    poison_.store(1, std::memory_order_release);
    writer_pid_ = 0;
    found = true;
  }
  for (auto& s : shares_) {
    if (s.pid <= 0 || (s.readers == 0 && s.writers_waiting == 0) || same_process(s.pid, s.start_time, id)) continue;
    if (detail::process_alive(s.pid, s.start_time)) continue;
    s.readers = 0;
    s.writers_waiting = 0;
    s.pid = 0;
    found = true;
  }
  if (found) {
    detail::native_condition_notify_all(writers_cv_);
    detail::native_condition_notify_all(readers_cv_);
  }
  return found;
}

bool SharedMutex::lock_until(detail::DeadlineNs deadline) {
  StateGuard g(state_lock_, deadline);
  if (!g.owns()) return false;
  detail::SharedMutexShare* share = nullptr;
  const auto busy = [&] { return writer_pid_ > 0 || any_readers(); };
  // Queue as a waiting writer (readers hold back for it), once this process has an entry.
  const auto queue = [&] {
    if (share == nullptr && (share = my_share(true)) != nullptr) ++share->writers_waiting;
  };
  queue();
  // Holders are checked for liveness only when a try finds the lock busy or a wait ran a whole
  // period without being woken: a live holder's unlock always wakes us.
  bool look = deadline == 0;
  while (share == nullptr || busy()) {
    if (look && reclaim_dead()) {
      queue();
      continue;
    }
    if (deadline == 0 || detail::steady_now_ns() >= deadline) {
      if (share != nullptr) {
        --share->writers_waiting;
        // Readers held back by this writer may go now.
        if (!any_writers_waiting()) detail::native_condition_notify_all(readers_cv_);
      }
      return false;
    }
    look = !g.wait(writers_cv_, next_look(deadline));
    queue();
  }
  writer_start_time_ = me().start_time;
  writer_pid_ = me().pid;
  --share->writers_waiting;
  return true;
}

void SharedMutex::unlock() noexcept {
  StateGuard g(state_lock_, detail::kNoDeadline);
  writer_pid_ = 0;
  if (any_writers_waiting()) detail::native_condition_notify_all(writers_cv_);
  detail::native_condition_notify_all(readers_cv_);
}

bool SharedMutex::lock_shared_until(detail::DeadlineNs deadline) {
  StateGuard g(state_lock_, deadline);
  if (!g.owns()) return false;
  detail::SharedMutexShare* share = nullptr;
  const auto blocked = [&] { return writer_pid_ > 0 || any_writers_waiting() || (share = my_share(true)) == nullptr; };
  bool look = deadline == 0;  // as in lock_until
  while (blocked()) {
    if (look && reclaim_dead()) continue;
    if (deadline == 0 || detail::steady_now_ns() >= deadline) return false;
    look = !g.wait(readers_cv_, next_look(deadline));
  }
  ++share->readers;
  return true;
}

void SharedMutex::unlock_shared() noexcept {
  StateGuard g(state_lock_, detail::kNoDeadline);
  detail::SharedMutexShare* share = my_share(false);
  if (share != nullptr && share->readers > 0) --share->readers;
  if (!any_readers() && any_writers_waiting()) detail::native_condition_notify_all(writers_cv_);
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
