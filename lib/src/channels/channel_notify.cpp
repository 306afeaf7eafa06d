// A channel reader's event-loop fd (Linux and other POSIX systems), one of two kinds:
//  - the writer's own eventfd for this reader's subscriber slot, received over the segment's
//    control socket (memfd segments whose channel writer serves the segment). No thread: the
//    reader arms its bit in fd_subscribers before its loop sleeps, the writer writes the fd.
//  - otherwise a signal fd private to the reader's process (EventSignal: an eventfd on Linux, a
//    pipe elsewhere), signalled by a thread of that process which sleeps on the channel's data
//    word exactly like a blocked reader: for named segments there is no channel to pass the
//    writer's fd (pidfd_getfd needs ptrace rights).
// Either way publishing stays syscall-free while no reader sleeps.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <system_error>
#include <thread>

#include "asymmetric_fence.hpp"
#include "channel_events.hpp"
#include "channel_internal.hpp"
#include "channel_wait.hpp"
#include "event_signal.hpp"

namespace shmkit::detail {

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual int fd() const noexcept = 0;
  virtual void clear() const noexcept = 0;
  virtual bool saw_dead() const noexcept = 0;
  virtual int hangup_fd() const noexcept { return -1; }
  virtual bool uses_thread() const noexcept { return true; }
  virtual bool arm() noexcept { return false; }
  // A read found the channel closed.
  virtual void writer_closed() noexcept {}
};

namespace {

class ThreadNotifier final : public Notifier {
 public:
  // `forward_fd` (an eventfd the caller keeps open while we live), when given, is signalled
  // instead of our own fd.
  ThreadNotifier(const ChannelView& view, std::uint64_t cursor, std::chrono::milliseconds liveness, int forward_fd = -1)
      : view_(view),
        signalled_(cursor),
        liveness_(std::max<std::chrono::milliseconds>(liveness, std::chrono::milliseconds(1))),
        forward_fd_(forward_fd),
        signal_(("channel '" + view.name + "': notification_fd()").c_str()) {
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
      throw Error(Errc::resource_limit, "channel '" + view_.name + "': cannot start the notification thread: " + e.what());
    }
  }
  ~ThreadNotifier() override {
    // seq_cst store, then a bump of the word the thread sleeps on: it either sees `stop_` in its
    // probe or finds the word changed and returns from its wait.
    stop_.store(true, std::memory_order_seq_cst);
    bump_and_wake(view_.header->wait.data_word);
    thread_.join();  // before signal_ goes: the thread never writes to a closed fd
  }
  ThreadNotifier(const ThreadNotifier&) = delete;
  ThreadNotifier& operator=(const ThreadNotifier&) = delete;

  int fd() const noexcept override { return signal_.fd(); }
  bool saw_dead() const noexcept override { return dead_.load(std::memory_order_acquire); }
  void clear() const noexcept override { signal_.clear(); }

 private:
  void signal() const noexcept {
    if (forward_fd_ < 0) return signal_.signal();
    const std::uint64_t one = 1;
    while (::write(forward_fd_, &one, sizeof one) < 0 && errno == EINTR) {
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
      const Errc e = wait_loop(block, liveness_, data_wait_point(wl, w), true, probe,
                               [] { return false; });
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
  int forward_fd_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> dead_{false};  // the writer's process was found dead at the last check
  EventSignal signal_;
  std::thread thread_;
};

// The writer's eventfd: this reader's slot's bit in fd_subscribers is its "asleep" flag.
class EventFdNotifier final : public Notifier {
 public:
  EventFdNotifier(const ChannelView& view, EventFdGrant grant, std::chrono::milliseconds liveness) noexcept
      : view_(view),
        event_fd_(grant.event_fd),
        connection_(grant.connection),
        bit_(1u << grant.slot),
        liveness_(liveness),
        granted_writer_(view.header->writer.attach_count.load(std::memory_order_acquire)) {}
  ~EventFdNotifier() override {
    bridge_.reset();  // its thread may write our fd until it has joined
    // Disarmed before the connection closes: the server frees the slot only after that.
    view_.header->wait.fd_subscribers.fetch_and(~bit_, std::memory_order_relaxed);
    ::close(event_fd_);
    ::close(connection_);
  }
  int fd() const noexcept override { return event_fd_; }
  void clear() const noexcept override {
    std::uint64_t v;
    while (::read(event_fd_, &v, sizeof v) < 0 && errno == EINTR) {
    }
  }
  // The server's process (where the writer lives) hung up. Polled only when a read found nothing
  // while still armed from before: a writer alive since our last arm would have cleared the bit
  // with its wake-up, so in the common case (woken by the writer) this costs no system call.
  bool saw_dead() const noexcept override {
    if (bridge_) return bridge_->saw_dead();
    if (!armed_before_) return false;
    pollfd p{connection_, POLLRDHUP, 0};
    int r = 0;
    do {
      r = ::poll(&p, 1, 0);
    } while (r < 0 && errno == EINTR);
    return r != 0 && (r < 0 || (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0);
  }
  int hangup_fd() const noexcept override { return connection_; }
  bool uses_thread() const noexcept override { return bridge_ != nullptr; }
  void writer_closed() noexcept override {
    if (!bridge_) start_bridge();
  }

  // The reader's half of the handshake in announce(): our bit (seq_cst), then the caller's probe
  // of `published` (seq_cst). Still armed since our last arm: every later publish sees the bit.
  bool arm() noexcept override {
    if (bridge_) return false;
    WaitLine& wl = view_.header->wait;
    const WriterLine& w = view_.header->writer;
    if ((w.closed.load(std::memory_order_acquire) != 0 ||
         w.attach_count.load(std::memory_order_acquire) != granted_writer_) &&
        start_bridge())
      return false;
    armed_before_ = (wl.fd_subscribers.load(std::memory_order_seq_cst) & bit_) != 0;
    if (armed_before_) return false;
    wl.fd_subscribers.fetch_or(bit_, std::memory_order_seq_cst);
    // A light-fenced writer, as in wait_loop: the heavy fence makes its last `published` store
    // visible to our probe or its next fd_subscribers load see our bit.
    if (view_.header->writer.light_fences.load(std::memory_order_seq_cst) != 0) {
      if (heavy_fence()) {
        std::uint32_t none = kFencesAsWriterLikes;
        if (wl.full_fences.load(std::memory_order_relaxed) == none)
          wl.full_fences.compare_exchange_strong(none, kFencesRequested, std::memory_order_relaxed);
      } else {
        wl.full_fences.store(kFencesRequired, std::memory_order_seq_cst);
        // It may have missed our bit until it switches: wake our own loop to look again.
        if (view_.header->writer.light_fences.load(std::memory_order_seq_cst) != 0) {
          const std::uint64_t one = 1;
          while (::write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
          }
        }
      }
    }
    return true;
  }

 private:
  ChannelView view_;
  int event_fd_;
  int connection_;
  // The writer that writes our fd has closed (a later one may attach from a process that holds
  // no subscriber fds): from now on a thread of ours signals the same fd. False if none starts.
  bool start_bridge() noexcept {
    try {
      bridge_ = std::make_unique<ThreadNotifier>(
          view_, view_.header->writer.published.load(std::memory_order_seq_cst), liveness_, event_fd_);
    } catch (...) {
      return false;  // stays on the closed writer's fd, which its close() signalled
    }
    view_.header->wait.fd_subscribers.fetch_and(~bit_, std::memory_order_relaxed);
    // Frames up to the thread's start are the loop's to find: wake it to look once more.
    const std::uint64_t one = 1;
    while (::write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
    return true;
  }

  std::uint32_t bit_;
  std::chrono::milliseconds liveness_;
  std::uint64_t granted_writer_;  // the writer's attach_count when the fd was granted
  bool armed_before_ = false;     // the last arm() found our bit still set
  std::unique_ptr<ThreadNotifier> bridge_;  // once that writer closed
};

}  // namespace

void NotifierDeleter::operator()(Notifier* n) const noexcept { delete n; }

// How long a reader waits for the writer's process to answer its FD_REQUEST.
constexpr std::chrono::seconds kEventFdRequestTimeout{2};

NotifierPtr start_notifier(const ChannelView& view, std::uint64_t cursor, std::chrono::milliseconds liveness_check) {
  if (!view.can_block)
    throw Error(Errc::permission_denied, "channel '" + view.name + "': notification_fd() needs a writable mapping "
                                                                   "(it counts itself as a waiter)");
  if (view.events != nullptr) {
    // The writer's eventfd where its process serves the segment; anything else (no such writer
    // there, an old server, no free slot) leaves the thread, which works everywhere.
    try {
      const EventFdGrant grant = view.events->request_event_fd(view.channel, deadline_after(kEventFdRequestTimeout));
      try {
        NotifierPtr n(new EventFdNotifier(view, grant, liveness_check));
        // Armed from the start; frames already there (or a close) make the fd readable at once.
        n->arm();
        const WriterLine& w = view.header->writer;
        if (w.published.load(std::memory_order_seq_cst) != cursor || w.closed.load(std::memory_order_seq_cst) != 0) {
          const std::uint64_t one = 1;
          while (::write(grant.event_fd, &one, sizeof one) < 0 && errno == EINTR) {
          }
        }
        return n;
      } catch (...) {
        ::close(grant.event_fd);
        ::close(grant.connection);
        throw;
      }
    } catch (const Error&) {
    }
  }
  return NotifierPtr(new ThreadNotifier(view, cursor, liveness_check));
}

int notifier_fd(const Notifier& n) noexcept { return n.fd(); }
void notifier_clear(const Notifier& n) noexcept { n.clear(); }
bool notifier_saw_dead(const Notifier& n) noexcept { return n.saw_dead(); }
int notifier_hangup_fd(const Notifier& n) noexcept { return n.hangup_fd(); }
bool notifier_uses_thread(const Notifier& n) noexcept { return n.uses_thread(); }
bool notifier_arm(Notifier& n) noexcept { return n.arm(); }
void notifier_writer_closed(Notifier& n) noexcept { n.writer_closed(); }

}  // namespace shmkit::detail
