// Windows: who a process is (seam: process_identity.hpp).
//
// * pid: GetCurrentProcessId (a DWORD; Windows pids are small multiples of 4 and fit int32);
//   current_pid() asks it every time (it reads the thread environment block: no system call).
// * uid: always 0. Windows identifies users by SID, not by a number; nothing in shmkit compares
//   uids on Windows (the memfd backend's peer-credential checks are Linux only), so a segment
//   header's creator_uid reads 0 there.
// * start_time: the process's creation time from GetProcessTimes, a FILETIME: 100 ns units since
//   1601-01-01 UTC (not clock ticks after boot as on Linux). Only ever compared with values from
//   this same function, on this host.
// * process_alive: OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE); exited means
//   the process object is signaled (WaitForSingleObject(h, 0)), or, where SYNCHRONIZE is refused,
//   GetExitCodeProcess != STILL_ACTIVE. A pid is reused only once every handle to the old
//   process is closed; comparing creation times tells a reused pid apart.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <cstdint>

#include "process_identity.hpp"

namespace shmkit::detail {
namespace {

class ProcessHandle {
 public:
  explicit ProcessHandle(HANDLE h) noexcept : h_(h) {}
  ~ProcessHandle() {
    if (h_ != nullptr) ::CloseHandle(h_);
  }
  ProcessHandle(const ProcessHandle&) = delete;
  ProcessHandle& operator=(const ProcessHandle&) = delete;
  HANDLE get() const noexcept { return h_; }
  explicit operator bool() const noexcept { return h_ != nullptr; }

 private:
  HANDLE h_;
};

struct Opened {
  HANDLE handle = nullptr;
  bool can_wait = false;  // opened with SYNCHRONIZE
  DWORD error = 0;        // why OpenProcess failed, when handle is null
};

Opened open_process(std::int32_t pid) noexcept {
  Opened o;
  const DWORD id = static_cast<DWORD>(pid);
  o.handle = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE, id);
  if (o.handle != nullptr) {
    o.can_wait = true;
    return o;
  }
  // A process of another user (or a protected one) may grant the query right but not SYNCHRONIZE.
  o.handle = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, id);
  if (o.handle == nullptr) o.error = ::GetLastError();
  return o;
}

std::uint64_t creation_time(HANDLE h) noexcept {
  FILETIME created{}, exited{}, kernel{}, user{};
  if (!::GetProcessTimes(h, &created, &exited, &kernel, &user)) return 0;
  return (static_cast<std::uint64_t>(created.dwHighDateTime) << 32) | created.dwLowDateTime;
}

bool has_exited(HANDLE h, bool can_wait) noexcept {
  if (can_wait) return ::WaitForSingleObject(h, 0) == WAIT_OBJECT_0;
  // Ambiguous for a process that exits with code 259 (STILL_ACTIVE): only used when the object
  // cannot be waited on.
  DWORD code = 0;
  return ::GetExitCodeProcess(h, &code) && code != STILL_ACTIVE;
}

}  // namespace

std::uint64_t process_start_time(std::int32_t pid) noexcept {
  if (pid <= 0) return 0;
  const Opened o = open_process(pid);
  const ProcessHandle h(o.handle);
  if (!h || has_exited(h.get(), o.can_wait)) return 0;  // gone (an exited process still held open counts as gone)
  return creation_time(h.get());
}

// GetCurrentProcessId reads the TEB: no system call, nothing to cache.
std::int32_t current_pid() noexcept { return static_cast<std::int32_t>(::GetCurrentProcessId()); }

// Computed once: a Windows process keeps its pid and creation time for life (there is no fork).
ProcessIdentity current_process() noexcept {
  static const ProcessIdentity self = [] {
    ProcessIdentity id;
    id.pid = static_cast<std::int32_t>(::GetCurrentProcessId());
    id.uid = 0;  // see the top of this file
    id.start_time = creation_time(::GetCurrentProcess());  // pseudo-handle: nothing to close
    return id;
  }();
  return self;
}

bool process_alive(std::int32_t pid, std::uint64_t start_time) noexcept {
  if (pid <= 0) return false;
  const Opened o = open_process(pid);
  if (!o.handle) {
    // ERROR_INVALID_PARAMETER: no such process. ERROR_ACCESS_DENIED: it exists but is not ours
    // to query (another user's, a protected process); its start time cannot be compared, so it
    // counts as alive, as on Linux a process we may not signal is still there.
    return o.error == ERROR_ACCESS_DENIED;
  }
  const ProcessHandle h(o.handle);
  if (has_exited(h.get(), o.can_wait)) return false;
  if (start_time == 0) return true;
  const std::uint64_t now = creation_time(h.get());
  return now == 0 || now == start_time;  // 0: cannot tell, so alive (never report a live process dead)
}

}  // namespace shmkit::detail
