// A pollable signal private to this process (internal platform seam): an fd that becomes
// readable (POLLIN) after signal() and stays so until clear(), for event loops. Linux: an eventfd
// (platform/linux/event_signal.cpp); other POSIX systems: a pipe (platform/posix/event_signal.cpp).
// Windows has no such fd (none is compiled there).
#pragma once

namespace shmkit::detail {

class EventSignal {
 public:
  // Throws Error (the errno's code) when the fd cannot be made; `what` names the user for the message.
  explicit EventSignal(const char* what);
  ~EventSignal();
  EventSignal(const EventSignal&) = delete;
  EventSignal& operator=(const EventSignal&) = delete;

  int fd() const noexcept { return read_fd_; }
  // Async-signal-safe, lock-free: a write(). A signal already pending stays pending.
  void signal() const noexcept;
  void clear() const noexcept;

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;  // the same fd as read_fd_ for an eventfd
};

}  // namespace shmkit::detail
