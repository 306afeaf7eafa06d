// Linux: a process's start time is field 22 of /proc/<pid>/stat (clock ticks after boot).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "process_identity.hpp"

namespace shmkit::detail {

namespace {

struct StatFields {
  char state = '?';
  std::uint64_t start_time = 0;
};

StatFields read_stat(std::int32_t pid) noexcept {
  StatFields out;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return out;
  buf[n] = '\0';
  // The command name (field 2) may hold spaces and ')': fields are counted after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ' || p[2] == '\0') return out;
  out.state = p[2];
  int field = 2;
  for (++p; *p != '\0' && field < 22; ++p) {
    if (*p == ' ') ++field;
  }
  if (field == 22) out.start_time = std::strtoull(p, nullptr, 10);
  return out;
}

}  // namespace

std::uint64_t process_start_time(std::int32_t pid) noexcept { return read_stat(pid).start_time; }

std::int32_t current_pid() noexcept { return static_cast<std::int32_t>(::getpid()); }

ProcessIdentity current_process() noexcept {
  ProcessIdentity id;
  id.pid = static_cast<std::int32_t>(::getpid());
  id.uid = static_cast<std::uint32_t>(::getuid());
  id.start_time = process_start_time(id.pid);
  return id;
}

bool process_alive(std::int32_t pid, std::uint64_t start_time) noexcept {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  const StatFields now = read_stat(pid);
  // Gone between the two checks, or a zombie (dead, not yet reaped by its parent).
  if (now.start_time == 0 || now.state == 'Z' || now.state == 'X') return false;
  return start_time == 0 || now.start_time == start_time;
}

}  // namespace shmkit::detail
