// shmkit::SharedMutex: a process-shared reader-writer lock placed in a segment.
//
// Writer-preferring: once a writer waits, new readers wait behind it, so a stream of readers
// cannot starve writers. Usable with std::unique_lock and std::shared_lock; every lock has a
// timed form. Built on the same native robust mutex as shmkit::Mutex, so a process that dies
// inside lock()/unlock() bookkeeping does not wedge it; a process that dies while *holding*
// shared or exclusive ownership is documented in docs/architecture.md (see "Synchronization").
#pragma once

#include <chrono>
#include <shared_mutex>  // std::shared_lock, for users
#include <cstdint>

#include "shmkit/detail/native_sync.hpp"

namespace shmkit {

class SharedMutex {
 public:
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

 private:
  bool lock_until(detail::DeadlineNs deadline);
  bool lock_shared_until(detail::DeadlineNs deadline);

  detail::NativeMutex state_lock_;
  detail::NativeCondition readers_cv_;
  detail::NativeCondition writers_cv_;
  std::uint32_t readers_ = 0;          // holders of shared ownership
  std::uint32_t writer_ = 0;           // 1 while a writer holds it
  std::uint32_t writers_waiting_ = 0;  // writers queued (readers yield to them)
  std::uint32_t reserved_[3] = {};
};
static_assert(sizeof(SharedMutex) == 192 && alignof(SharedMutex) == 8);

}  // namespace shmkit
