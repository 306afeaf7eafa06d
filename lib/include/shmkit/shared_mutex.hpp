// shmkit::SharedMutex: a process-shared reader-writer lock placed in a segment.
//
// Writer-preferring: once a writer waits, new readers wait behind it, so a stream of readers
// cannot starve writers. Usable with std::unique_lock and std::shared_lock, and with Boost's
// scoped_lock / sharable_lock (lock_sharable, timed_lock(ptime), ...); every lock has a timed form.
// Owner death: each holder and waiting writer is recorded by process identity (pid + start time),
// so a process that dies holding shared or exclusive ownership, or queued as a writer, is found
// by the next process that waits (within a few milliseconds) and its share is given back. A dead
// *writer* also sets the poison flag (poisoned(), clear_poison()), as for shmkit::Mutex; a dead
// reader changed nothing, so it does not. At most kProcesses processes hold or queue at once;
// one more waits (with its timeout) until one of them lets go or dies.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <shared_mutex>  // std::shared_lock, for users
#include <type_traits>

#include "shmkit/detail/boost_time.hpp"
#include "shmkit/detail/native_sync.hpp"

namespace shmkit {

namespace detail {
// One process's part in a SharedMutex. pid 0 or both counts 0: a free entry.
struct SharedMutexShare {
  std::int32_t pid;
  std::uint32_t readers;          // shared locks held by this process's threads
  std::uint64_t start_time;       // with pid, tells this process from a later one with its pid
  std::uint32_t writers_waiting;  // this process's threads queued for exclusive ownership
  std::uint32_t reserved;
};
static_assert(sizeof(SharedMutexShare) == 24 && std::is_standard_layout_v<SharedMutexShare>);
}  // namespace detail

class SharedMutex {
 public:
  // Processes that may hold or queue for the lock at the same time.
  static constexpr std::uint32_t kProcesses = 32;

  SharedMutex();
  ~SharedMutex();
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() { (void)lock_until(detail::kNoDeadline); }
  bool try_lock() { return lock_until(0); }
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& d) {
    return lock_until(detail::deadline_after(d));
  }
  template <class Clock, class Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& tp) {
    return lock_until(detail::deadline_at(tp));
  }
  void unlock() noexcept;

  void lock_shared() { (void)lock_shared_until(detail::kNoDeadline); }
  bool try_lock_shared() { return lock_shared_until(0); }
  template <class Rep, class Period>
  bool try_lock_shared_for(const std::chrono::duration<Rep, Period>& d) {
    return lock_shared_until(detail::deadline_after(d));
  }
  template <class Clock, class Duration>
  bool try_lock_shared_until(const std::chrono::time_point<Clock, Duration>& tp) {
    return lock_shared_until(detail::deadline_at(tp));
  }
  void unlock_shared() noexcept;

  // Boost.Interprocess spellings (interprocess_sharable_mutex); abs_time is UTC, as in Boost.
  bool timed_lock(const boost::posix_time::ptime& abs_time) {
    return lock_until(detail::deadline_from_ptime(abs_time));
  }
  void lock_sharable() { lock_shared(); }
  bool try_lock_sharable() { return try_lock_shared(); }
  bool timed_lock_sharable(const boost::posix_time::ptime& abs_time) {
    return lock_shared_until(detail::deadline_from_ptime(abs_time));
  }
  void unlock_sharable() noexcept { unlock_shared(); }

  // True after a writer died holding the lock, in every process, until clear_poison().
  bool poisoned() const noexcept { return poison_.load(std::memory_order_acquire) != 0; }
  void clear_poison() noexcept { poison_.store(0, std::memory_order_release); }

 private:
  bool lock_until(detail::DeadlineNs deadline);
  bool lock_shared_until(detail::DeadlineNs deadline);
  // The following run with state_lock_ held.
  detail::SharedMutexShare* my_share(bool claim) noexcept;
  bool any_readers() const noexcept;
  bool any_writers_waiting() const noexcept;
  // Gives back the shares of processes that died; true if it found any.
  bool reclaim_dead() noexcept;

  detail::NativeMutex state_lock_;
  detail::NativeCondition readers_cv_;
  detail::NativeCondition writers_cv_;
  std::int32_t writer_pid_ = 0;  // the process holding exclusive ownership; 0 when none
  std::atomic<std::uint32_t> poison_{0};
  std::uint64_t writer_start_time_ = 0;
  detail::SharedMutexShare shares_[kProcesses] = {};
  std::uint32_t reserved_[18] = {};
};
static_assert(sizeof(SharedMutex) == 1024 && alignof(SharedMutex) == 8);
static_assert(std::is_standard_layout_v<SharedMutex>);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace shmkit
