// Portable (POSIX) channel reader's event-loop fd: the read end of a pipe private to the reader's
// process. A thread of that process sleeps on the channel's data word exactly like a blocked
// reader (through the word-wait seam, which polls with backoff where there is no futex) and
// writes a byte to the pipe when there is something to report. The writer needs no fd of ours.
// The Linux file is the same with an eventfd (channels/channel_notify_linux.cpp).
//
// Differences from the eventfd: the fd is a pipe's read end (POLLIN as usual), clear() drains it
// with as many reads as bytes queued (at most a pipe buffer), and a full pipe just stays readable.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <system_error>
#include <thread>

#include "channel_internal.hpp"
#include "channel_wait.hpp"

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

class Notifier {
 public:
  Notifier(const ChannelView& view, std::uint64_t cursor, std::chrono::milliseconds liveness)
      : view_(view), signalled_(cursor), liveness_(std::max<std::chrono::milliseconds>(liveness, std::chrono::milliseconds(1))) {
    int fds[2] = {-1, -1};
    const bool made = ::pipe(fds) == 0;
    if (!made || !set_flags(fds[0]) || !set_flags(fds[1])) {
      const int e = errno;
      if (made) close_pair(fds);
      throw Error(errc_from_errno(e), "channel '" + view_.name + "': pipe for notification_fd() failed", e);
    }
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
      close_pair(fds);
      throw Error(Errc::resource_limit, "channel '" + view_.name + "': cannot start the notification thread: " + e.what());
    }
  }
  ~Notifier() {
    // seq_cst store, then a bump of the word the thread sleeps on: it either sees `stop_` in its
    // probe or finds the word changed and returns from its wait.
    stop_.store(true, std::memory_order_seq_cst);
    bump_and_wake(view_.header->wait.data_word);
    thread_.join();
    // Only now: the thread never writes to a closed (or reused) fd number.
    ::close(write_fd_);
    ::close(read_fd_);
  }
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  int fd() const noexcept { return read_fd_; }
  bool saw_dead() const noexcept { return dead_.load(std::memory_order_acquire); }
  void clear() const noexcept {
    char buf[256];
    for (;;) {
      const ssize_t n = ::read(read_fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < static_cast<ssize_t>(sizeof buf)) return;  // empty (EAGAIN), or drained to the end
    }
  }

 private:
  static void close_pair(const int (&fds)[2]) noexcept {
    ::close(fds[0]);
    ::close(fds[1]);
  }

  void signal() noexcept {
    const char one = 1;
    // EAGAIN (pipe full) still leaves the fd readable: nothing to do.
    while (::write(write_fd_, &one, 1) < 0 && errno == EINTR) {
    }
  }

  void run() noexcept {
    WriterLine& w = view_.header->writer;
    WaitLine& wl = view_.header->wait;
    const WaitStrategy block = WaitStrategy::block();
    bool closed_seen = false, dead_seen = false;
    // Something to report: stop, new frames, the writer closing (or reopening).
    auto probe = [&]() -> std::optional<Errc> {
      if (stop_.load(std::memory_order_seq_cst)) return Errc::closed;
      // seq_cst: inside the blocking wait, our half of the Dekker handshake with publish.
      const std::uint64_t pub = w.published.load(std::memory_order_seq_cst);
      const bool closed = w.closed.load(std::memory_order_acquire) != 0;
      if (pub == signalled_ && closed == closed_seen) return std::nullopt;
      signalled_ = pub;
      closed_seen = closed;
      return Errc::ok;
    };
    for (;;) {
      const Errc e = wait_loop(block, liveness_, data_wait_point(wl, w), true, probe, [] { return false; });
      if (stop_.load(std::memory_order_acquire)) return;
      if (e == Errc::ok) {
        signal();
        continue;
      }
      // A quiet interval: has the writer died? Signal the transition once, so that the event
      // loop reads and gets peer_gone.
      const bool dead = writer_dead(view_);
      // Release: the reader that sees the flag after our signal also sees what we saw.
      dead_.store(dead, std::memory_order_release);
      if (dead && !dead_seen) signal();
      dead_seen = dead;
    }
  }

  ChannelView view_;
  std::uint64_t signalled_;  // `published` when we last signalled (thread-private after start)
  std::chrono::milliseconds liveness_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> dead_{false};  // the writer's process was found dead at the last check
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::thread thread_;
};

void NotifierDeleter::operator()(Notifier* n) const noexcept { delete n; }

NotifierPtr start_notifier(const ChannelView& view, std::uint64_t cursor, std::chrono::milliseconds liveness_check) {
  if (!view.can_block)
    throw Error(Errc::permission_denied, "channel '" + view.name + "': notification_fd() needs a writable mapping "
                                                                   "(its thread counts itself as a waiter)");
  return NotifierPtr(new Notifier(view, cursor, liveness_check));
}

int notifier_fd(const Notifier& n) noexcept { return n.fd(); }
void notifier_clear(const Notifier& n) noexcept { n.clear(); }
bool notifier_saw_dead(const Notifier& n) noexcept { return n.saw_dead(); }

}  // namespace shmkit::detail
