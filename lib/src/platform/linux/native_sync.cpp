// Linux implementation of the native sync seam: robust, process-shared pthread primitives.
#include <pthread.h>

#include <cerrno>
#include <ctime>
#include <new>

#include "shmkit/detail/native_sync.hpp"
#include "shmkit/error.hpp"

// ThreadSanitizer intercepts pthread_mutex_lock/trylock/timedlock but not clocklock (gcc 12,
// clang 14): under TSan the timed lock below is announced through its mutex annotations, or TSan
// misses the acquisition (no happens-before edge; the unlock reported "of an unlocked mutex").
#if defined(__SANITIZE_THREAD__)
#define SHMKIT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMKIT_TSAN 1
#endif
#endif
#ifdef SHMKIT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace shmkit::detail {
namespace {

static_assert(sizeof(pthread_mutex_t) <= sizeof(NativeMutex::storage));
static_assert(alignof(pthread_mutex_t) <= alignof(NativeMutex));
static_assert(sizeof(pthread_cond_t) <= sizeof(NativeCondition::storage));
static_assert(alignof(pthread_cond_t) <= alignof(NativeCondition));

pthread_mutex_t* as_mutex(NativeMutex& m) { return std::launder(reinterpret_cast<pthread_mutex_t*>(m.storage)); }
pthread_cond_t* as_cond(NativeCondition& c) { return std::launder(reinterpret_cast<pthread_cond_t*>(c.storage)); }

timespec to_timespec(DeadlineNs ns) {
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

void check(int rc, const char* what) {
  if (rc != 0) throw_os_error(what, rc);
}

LockOutcome outcome_of(int rc, const char* what) {
  switch (rc) {
    case 0: return LockOutcome::acquired;
    case EOWNERDEAD: return LockOutcome::owner_died;
    case ETIMEDOUT:
    case EBUSY: return LockOutcome::timeout;
    case ENOTRECOVERABLE:
      // shmkit never unlocks without pthread_mutex_consistent(), so only a foreign writer
      // scribbling on the lock word gets here.
      throw Error(Errc::not_recoverable, std::string(what) + ": the lock is not recoverable");
    default: throw_os_error(what, rc);
  }
}

}  // namespace

void native_mutex_init(NativeMutex& m, MutexKind kind) {
  pthread_mutexattr_t attr;
  check(pthread_mutexattr_init(&attr), "pthread_mutexattr_init");
  check(pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), "pthread_mutexattr_setpshared");
  check(pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST), "pthread_mutexattr_setrobust");
  check(pthread_mutexattr_settype(&attr, kind == MutexKind::recursive ? PTHREAD_MUTEX_RECURSIVE
                                                                     : PTHREAD_MUTEX_NORMAL),
        "pthread_mutexattr_settype");
  const int rc = pthread_mutex_init(::new (m.storage) pthread_mutex_t, &attr);
  pthread_mutexattr_destroy(&attr);
  check(rc, "pthread_mutex_init");
}

void native_mutex_destroy(NativeMutex& m) noexcept { pthread_mutex_destroy(as_mutex(m)); }

LockOutcome native_mutex_lock(NativeMutex& m, DeadlineNs deadline) {
  pthread_mutex_t* pm = as_mutex(m);
  if (deadline == kNoDeadline) return outcome_of(pthread_mutex_lock(pm), "pthread_mutex_lock");
  if (deadline == 0) return outcome_of(pthread_mutex_trylock(pm), "pthread_mutex_trylock");
  const timespec ts = to_timespec(deadline);
  // clocklock (glibc 2.30+) takes CLOCK_MONOTONIC: timedlock would follow wall-clock jumps.
#ifdef SHMKIT_TSAN
  // A holder that is already dead is found by the intercepted trylock, whose EOWNERDEAD path also
  // clears TSan's record of that holder (a thread of this process that exited holding it).
  if (const int rc = pthread_mutex_trylock(pm); rc != EBUSY) return outcome_of(rc, "pthread_mutex_trylock");
  __tsan_mutex_pre_lock(pm, __tsan_mutex_try_lock);
  const int rc = pthread_mutex_clocklock(pm, CLOCK_MONOTONIC, &ts);
  const bool held = rc == 0 || rc == EOWNERDEAD;
  __tsan_mutex_post_lock(pm, held ? __tsan_mutex_try_lock : __tsan_mutex_try_lock | __tsan_mutex_try_lock_failed, 0);
  return outcome_of(rc, "pthread_mutex_clocklock");
#else
  return outcome_of(pthread_mutex_clocklock(pm, CLOCK_MONOTONIC, &ts), "pthread_mutex_clocklock");
#endif
}

void native_mutex_unlock(NativeMutex& m) noexcept { pthread_mutex_unlock(as_mutex(m)); }

void native_mutex_make_consistent(NativeMutex& m) noexcept { pthread_mutex_consistent(as_mutex(m)); }

void native_condition_init(NativeCondition& c) {
  pthread_condattr_t attr;
  check(pthread_condattr_init(&attr), "pthread_condattr_init");
  check(pthread_condattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), "pthread_condattr_setpshared");
  check(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), "pthread_condattr_setclock");
  const int rc = pthread_cond_init(::new (c.storage) pthread_cond_t, &attr);
  pthread_condattr_destroy(&attr);
  check(rc, "pthread_cond_init");
}

void native_condition_destroy(NativeCondition& c) noexcept { pthread_cond_destroy(as_cond(c)); }

LockOutcome native_condition_wait(NativeCondition& c, NativeMutex& m, DeadlineNs deadline) {
  if (deadline == kNoDeadline)
    return outcome_of(pthread_cond_wait(as_cond(c), as_mutex(m)), "pthread_cond_wait");
  const timespec ts = to_timespec(deadline);
  return outcome_of(pthread_cond_timedwait(as_cond(c), as_mutex(m), &ts), "pthread_cond_timedwait");
}

void native_condition_notify_one(NativeCondition& c) noexcept { pthread_cond_signal(as_cond(c)); }
void native_condition_notify_all(NativeCondition& c) noexcept { pthread_cond_broadcast(as_cond(c)); }

bool native_mutex_is_robust() noexcept { return true; }
std::uint32_t native_sync_kind() noexcept { return 1; }  // 1: glibc robust pthread

}  // namespace shmkit::detail
