// Portable POSIX process identity (no /proc): pid and uid, start time unknown (0).
//
// Without a start time a pid cannot be told apart from a later process that reused it: once the
// process we recorded has died and the system handed its pid to another, process_alive() says
// true for the newcomer. Liveness here means "some process has this pid", nothing more.
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "process_identity.hpp"

namespace shmkit::detail {

namespace {
// getpid() is a system call, and the portable native mutex asks for its pid on every lock and
// unlock: cache it, and forget it in a forked child, which has a new pid (as snapshot.cpp does).
std::atomic<std::int32_t> g_pid{0};
void forget_pid_in_child() { g_pid.store(0, std::memory_order_relaxed); }
[[maybe_unused]] const int g_atfork = ::pthread_atfork(nullptr, nullptr, &forget_pid_in_child);
}  // namespace

std::int32_t current_pid() noexcept {
  std::int32_t pid = g_pid.load(std::memory_order_relaxed);
  if (pid == 0) {
    pid = static_cast<std::int32_t>(::getpid());
    g_pid.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

ProcessIdentity current_process() noexcept {
  ProcessIdentity id;
  id.pid = current_pid();
  id.uid = static_cast<std::uint32_t>(::getuid());  // not cached: setuid() may change it
  id.start_time = 0;                                 // unknown: POSIX has no portable way to ask
  return id;
}

std::uint64_t process_start_time(std::int32_t) noexcept { return 0; }

// start_time is ignored: it is 0 for every identity this file hands out, and a non-zero one
// (written by a build with another identity source) cannot be checked without /proc.
bool process_alive(std::int32_t pid, std::uint64_t) noexcept {
  if (pid <= 0) return false;  // kill(0) and kill(-1) would address groups, not a process
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;  // ESRCH: gone
  // kill() also succeeds for a zombie (dead, not yet reaped). For a child of ours we can tell
  // without reaping it: WNOWAIT leaves it waitable for its owner. Others' zombies count as alive.
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
    return false;
  return true;
}

}  // namespace shmkit::detail
