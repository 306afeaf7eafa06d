// Fixed-size storage for the platform's process-shared lock and condition, and the narrow
// seam (implemented once per platform: src/linux/native_sync.cpp, src/portable/native_sync.cpp)
// that shmkit's public sync types are built on. Internal: templates in public headers need it.
#pragma once

#include <atomic>
#include <cstdint>

#include "shmkit/detail/deadline.hpp"

namespace shmkit::detail {

// What a lock attempt found.
enum class LockOutcome : std::uint32_t {
  acquired = 0,
  owner_died = 1,  // acquired, but the previous holder died holding it
  timeout = 2,     // not acquired before the deadline (or busy, for a try)
};

// Storage sized for the largest platform primitive we place (glibc pthread_mutex_t is 40 bytes,
// pthread_cond_t 48); the .cpp static_asserts that its native type fits.
struct alignas(8) NativeMutex {
  unsigned char storage[56];
};
struct alignas(8) NativeCondition {
  unsigned char storage[56];
};
static_assert(sizeof(NativeMutex) == 56 && sizeof(NativeCondition) == 56);

enum class MutexKind : std::uint32_t { normal = 0, recursive = 1 };

void native_mutex_init(NativeMutex& m, MutexKind kind);
void native_mutex_destroy(NativeMutex& m) noexcept;
// deadline 0 means try once; kNoDeadline means wait forever.
LockOutcome native_mutex_lock(NativeMutex& m, DeadlineNs deadline);
void native_mutex_unlock(NativeMutex& m) noexcept;
// After owner_died: makes the native lock usable again (pthread_mutex_consistent).
void native_mutex_make_consistent(NativeMutex& m) noexcept;

void native_condition_init(NativeCondition& c);
void native_condition_destroy(NativeCondition& c) noexcept;
// Returns acquired (woken, maybe spuriously), timeout, or owner_died (re-acquired from a dead holder).
LockOutcome native_condition_wait(NativeCondition& c, NativeMutex& m, DeadlineNs deadline);
void native_condition_notify_one(NativeCondition& c) noexcept;
void native_condition_notify_all(NativeCondition& c) noexcept;

// True where a holder's death is detected (robust pthread mutexes); false on the fallback.
bool native_mutex_is_robust() noexcept;
// Identifies the platform implementation; recorded in the segment's layout fingerprint so a
// process built with another implementation refuses the segment.
std::uint32_t native_sync_kind() noexcept;

}  // namespace shmkit::detail
