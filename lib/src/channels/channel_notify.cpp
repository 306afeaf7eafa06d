// A channel reader's event-loop fd (Linux and other POSIX systems): a signal fd private to the
// reader's process (EventSignal: an eventfd on Linux, a pipe elsewhere), signalled by a thread of
// that process which sleeps on the channel's data word exactly like a blocked reader. The writer
// needs no fd of ours and makes its one wake call only when this thread (or another reader) armed
// the word, so publishing stays syscall-free while the thread is awake.
//
// Why a thread rather than an eventfd the writer writes: the writer's process would need our fd,
// and for named segments there is no channel to pass it (pidfd_getfd needs ptrace rights). The
// memfd control channel could carry one (docs/channels.md, "Follow-ups").
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <system_error>
#include <thread>

#include "channel_internal.hpp"
#include "channel_wait.hpp"
#include "event_signal.hpp"

namespace shmkit::detail {

class Notifier {
 public:
  Notifier(const ChannelView& view, std::uint64_t cursor, std::chrono::milliseconds liveness)
      : view_(view),
        signalled_(cursor),
        liveness_(std::max<std::chrono::milliseconds>(liveness, std::chrono::milliseconds(1))),
        signal_(("channel '" + view.name + "': notification_fd()").c_str()) {
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
      throw Error(Errc::resource_limit, "channel '" + view_.name + "': cannot start the notification thread: " + e.what());
    }
  }
  ~Notifier() {
    // seq_cst store, then a bump of the word the thread sleeps on: it either sees `stop_` in its
    // probe or finds the word changed and returns from its wait.
    stop_.store(true, std::memory_order_seq_cst);
    bump_and_wake(view_.header->wait.data_word);
    thread_.join();  // before signal_ goes: the thread never writes to a closed fd
  }
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  int fd() const noexcept { return signal_.fd(); }
  bool saw_dead() const noexcept { return dead_.load(std::memory_order_acquire); }
  void clear() const noexcept { signal_.clear(); }

 private:
  void signal() const noexcept { signal_.signal(); }

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
  std::atomic<bool> stop_{false};
  std::atomic<bool> dead_{false};  // the writer's process was found dead at the last check
  EventSignal signal_;
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
