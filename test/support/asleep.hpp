// Whether a waiter is asleep in the kernel, past its final check. A blocked reader counts itself
// as a waiter *before* its last look at the channel (the Dekker handshake with the writer), so a
// waiter count of 1 alone does not say it sleeps: it may still find a frame and return, or signal
// a notification fd once more. A counted waiter whose thread is in state S (interruptible sleep)
// is in its futex or condition wait, after that look: the next frame must wake it.
#pragma once

#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#if !defined(_WIN32)
#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace shmkit::test {

// The caller's kernel thread id (0 where there is no /proc to ask about it).
inline long this_thread_tid() {
#if defined(_WIN32)
  return 0;
#else
  return static_cast<long>(::syscall(SYS_gettid));
#endif
}

namespace detail_asleep {
// State S in a /proc .../stat file; nullopt when it cannot be read (no /proc, or gone).
inline std::optional<bool> stat_says_sleeping(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos || paren + 2 >= stat.size()) return std::nullopt;
  return stat[paren + 2] == 'S';
}
}  // namespace detail_asleep

// Process `pid` (its main thread) sleeps. nullopt where the platform has no /proc.
inline std::optional<bool> process_sleeping(long pid) {
  return detail_asleep::stat_says_sleeping("/proc/" + std::to_string(pid) + "/stat");
}

// Thread `tid` of this process sleeps. nullopt where the platform has no /proc.
inline std::optional<bool> thread_sleeping(long tid) {
  if (tid == 0) return std::nullopt;
  return detail_asleep::stat_says_sleeping("/proc/self/task/" + std::to_string(tid) + "/stat");
}

// Every thread of this process but the caller sleeps (a library's helper thread whose id the
// test cannot learn). nullopt where the platform has no /proc.
inline std::optional<bool> other_threads_sleeping() {
#if defined(_WIN32)
  return std::nullopt;
#else
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return std::nullopt;
  const long self = this_thread_tid();
  bool all = true;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const long tid = std::stol(e->d_name);
    if (tid == self) continue;
    // A thread that ended between readdir and the read no longer counts.
    if (!thread_sleeping(tid).value_or(true)) all = false;
  }
  ::closedir(dir);
  return all;
#endif
}

}  // namespace shmkit::test
