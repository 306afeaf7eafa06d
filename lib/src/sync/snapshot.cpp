// Out-of-line parts of shmkit::Snapshot<T>: writer identity and the reader's back-off.
#include "shmkit/snapshot.hpp"

#include <atomic>
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif
#include <string>
#include <thread>

#include "process_identity.hpp"
#include "shmkit/error.hpp"

namespace shmkit::detail {

namespace {
// getpid() is a system call: cache it, and forget it in a forked child (which has a new pid).
std::atomic<std::int32_t> g_self_pid{0};
#if defined(__unix__) || defined(__APPLE__)
void forget_pid_in_child() { g_self_pid.store(0, std::memory_order_relaxed); }
[[maybe_unused]] const int g_atfork = ::pthread_atfork(nullptr, nullptr, &forget_pid_in_child);
#endif
}  // namespace

std::int32_t snapshot_self_pid() noexcept {
  std::int32_t pid = g_self_pid.load(std::memory_order_relaxed);
  if (pid == 0) {
    pid = current_process().pid;
    g_self_pid.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

void snapshot_check_writer(std::int32_t pid) {
  if (pid != 0 && !process_alive(pid, 0))
    throw Error(Errc::owner_died, "the writer of this shmkit::Snapshot (pid " + std::to_string(pid) +
                                      ") died in the middle of a store: the value is half-written until "
                                      "the next store(), which repairs it");
}

void snapshot_backoff(std::uint32_t round) noexcept {
  if (round < 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    return;
  }
  std::this_thread::yield();
}

}  // namespace shmkit::detail
