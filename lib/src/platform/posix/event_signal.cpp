// A pipe: the read end is the fd; clear() drains it (as many reads as bytes queued, at most a
// pipe buffer), and a full pipe just stays readable.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "event_signal.hpp"
#include "shmkit/error.hpp"

namespace shmkit::detail {
namespace {

// pipe2() is not in every POSIX libc (macOS): pipe(), then the flags. Another thread's fork+exec
// between the two calls could inherit the fds; that window is the price of portability.
bool set_flags(int fd) noexcept {
  const int fl = ::fcntl(fd, F_GETFL);
  const int fdfl = ::fcntl(fd, F_GETFD);
  return fl >= 0 && fdfl >= 0 && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
         ::fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) == 0;
}

}  // namespace

EventSignal::EventSignal(const char* what) {
  int fds[2] = {-1, -1};
  const bool made = ::pipe(fds) == 0;
  if (!made || !set_flags(fds[0]) || !set_flags(fds[1])) {
    const int e = errno;
    if (made) {
      ::close(fds[0]);
      ::close(fds[1]);
    }
    throw Error(errc_from_errno(e), std::string(what) + ": pipe failed", e);
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
}

EventSignal::~EventSignal() {
  ::close(write_fd_);
  ::close(read_fd_);
}

void EventSignal::signal() const noexcept {
  const char one = 1;
  // EAGAIN (pipe full) still leaves the fd readable: nothing to do.
  while (::write(write_fd_, &one, 1) < 0 && errno == EINTR) {
  }
}

void EventSignal::clear() const noexcept {
  char buf[256];
  for (;;) {
    const ssize_t n = ::read(read_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < static_cast<ssize_t>(sizeof buf)) return;  // empty (EAGAIN), or drained to the end
  }
}

}  // namespace shmkit::detail
