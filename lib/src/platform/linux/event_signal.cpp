#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "event_signal.hpp"
#include "shmkit/error.hpp"

namespace shmkit::detail {

EventSignal::EventSignal(const char* what) {
  read_fd_ = write_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (read_fd_ < 0) {
    const int e = errno;
    throw Error(errc_from_errno(e), std::string(what) + ": eventfd failed", e);
  }
}

EventSignal::~EventSignal() { ::close(read_fd_); }

void EventSignal::signal() const noexcept {
  const std::uint64_t one = 1;
  // EAGAIN (counter saturated) still leaves the fd readable: nothing to do.
  while (::write(write_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void EventSignal::clear() const noexcept {
  std::uint64_t v;
  while (::read(read_fd_, &v, sizeof v) < 0 && errno == EINTR) {
  }
}

}  // namespace shmkit::detail
