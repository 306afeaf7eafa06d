// What a channel handle keeps in its own process (internal; public headers hold these by value):
// a validated view of the shared object, and the writer logic both channel kinds share.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "shmkit/channel_types.hpp"
#include "shmkit/detail/deadline.hpp"
#include "shmkit/detail/frame_clock.hpp"
#include "shmkit/frame_loan.hpp"

namespace shmkit {
class Segment;
}

namespace shmkit::detail {

struct ChannelHeader;
struct ReaderRecord;
class ChannelEvents;
class ChannelEventSink;

// This process's view of one channel object: pointers into its mapping, plus private copies of
// the geometry taken when it was validated. Hot paths use only the copies, so a process that
// scribbles on the shared header later cannot steer another into reading outside the object.
struct ChannelView {
  ChannelHeader* header = nullptr;
  std::byte* slots = nullptr;       // slot 0
  ReaderRecord* records = nullptr;  // broadcast registration records
  std::uint64_t mask = 0;           // slot_count - 1
  std::uint32_t slot_count = 0;
  std::uint32_t stride = 0;
  std::uint32_t max_frame = 0;
  std::uint32_t reader_capacity = 0;
  ChannelKind kind = ChannelKind::broadcast;
  bool checksum = false;
  bool can_block = false;  // the mapping is writable: waits may count themselves and sleep
  std::string name;        // "segment/channel", for messages
  std::string channel;     // the channel's name in its segment
  ChannelEvents* events = nullptr;  // the segment's writer-owned event fds, if its backend has them

  std::byte* slot(std::uint64_t sequence) const noexcept { return slots + (sequence & mask) * stride; }
  bool valid() const noexcept { return header != nullptr; }
};

// A reader's event-loop fd (notification_fd()): the channel writer's own eventfd, received over
// the segment's control socket (memfd), or else an eventfd in this process signalled by a thread
// that sleeps on the channel's futex word like any blocked reader. POSIX only.
class Notifier;
struct NotifierDeleter {
  void operator()(Notifier* n) const noexcept;
};
using NotifierPtr = std::unique_ptr<Notifier, NotifierDeleter>;
// Starts the thread. The fd is readable at once if frames after `cursor` are already published.
// Error(unsupported) off Linux, Error(resource_limit/system) if eventfd or the thread fail.
NotifierPtr start_notifier(const ChannelView& view, std::uint64_t cursor, std::chrono::milliseconds liveness_check);
int notifier_fd(const Notifier& n) noexcept;
// Empties the eventfd (non-blocking read): call before draining the channel with try_read().
void notifier_clear(const Notifier& n) noexcept;
// The thread found the writer's process dead (and signalled it): a read that finds nothing
// then reports peer_gone instead of timeout, without a liveness check of its own.
bool notifier_saw_dead(const Notifier& n) noexcept;
// The writer's eventfd: the control connection it came over (POLLRDHUP once the writer's process
// is gone); -1 for the thread.
int notifier_hangup_fd(const Notifier& n) noexcept;
bool notifier_uses_thread(const Notifier& n) noexcept;
// The writer's eventfd, after a read found nothing: arms this reader's bit in fd_subscribers
// before its event loop sleeps. True if it armed just now: the caller must probe once more.
bool notifier_arm(Notifier& n) noexcept;
// A read found the channel closed: a notifier on that writer's eventfd moves to a thread of its
// own (a writer attaching later may hold no subscriber fds).
void notifier_writer_closed(Notifier& n) noexcept;

// Finds and validates channel `name` of `kind`: Error(not_found), type_mismatch (another kind or
// type), corrupt, incompatible_format.
ChannelView open_channel(Segment& segment, std::string_view name, ChannelKind kind);

// The writer half of either channel kind. Broadcast: a per-slot seqlock, waits only for lossless
// readers (detaching dead and stuck ones). Queue: waits (per its WaitStrategy) while the ring is
// full, and watches the reader's liveness.
class HeartbeatThread;  // channel_writer.cpp

class WriterCore {
 public:
  WriterCore() noexcept = default;
  // Creates the channel and attaches as its writer (one step, atomic for other processes).
  WriterCore(Segment& segment, std::string_view name, ChannelKind kind, const ChannelConfig& config,
             const WriterOptions& options);
  // Attaches to an existing channel: Error(busy) while another live writer is attached.
  WriterCore(Segment& segment, std::string_view name, ChannelKind kind, const WriterOptions& options);
  WriterCore(WriterCore&& other) noexcept;
  WriterCore& operator=(WriterCore&& other) noexcept;
  WriterCore(const WriterCore&) = delete;
  WriterCore& operator=(const WriterCore&) = delete;
  ~WriterCore();

  // Copy-in publish. Broadcast: waits only for lossless readers (timeout ignored: they are
  // detached instead). Queue: waits at most `timeout` for room (zero or less: fails fast).
  Published publish(std::span<const std::byte> data, std::chrono::nanoseconds timeout);
  Published publish_batch(std::span<const std::span<const std::byte>> frames, std::chrono::nanoseconds timeout);
  // Relaying: publish() of a frame that follows `gap` frames lost upstream (stamped in its slot
  // for readers, added to the header's upstream_lost for tools as the frame completes).
  Published publish_after_gap(std::span<const std::byte> data, std::uint64_t gap, std::chrono::nanoseconds timeout);
  std::uint64_t upstream_lost() const noexcept;
  FrameLoan loan(std::chrono::nanoseconds timeout);
  std::uint64_t commit(FrameLoan& loan, std::size_t size);  // FrameLoan::publish
  void abandon(FrameLoan& loan) noexcept;                    // ~FrameLoan

  void heartbeat() noexcept;
  // Stamps the heartbeat every `interval` from a thread of its own until detach.
  void keep_alive(std::chrono::nanoseconds interval);
  void close() noexcept;
  PeerState reader_state() const;  // queue: the reader's process (none, alive, dead)

  const ChannelView& view() const noexcept { return view_; }
  std::uint64_t next_sequence() const noexcept { return next_; }
  const WriterStats& stats() const noexcept { return stats_; }

 private:
  void attach();
  void detach() noexcept;
  // Error(invalid_argument) for a moved-from writer, a frame over max_frame or a loan out;
  // Error(closed) after close().
  void check_can_publish(std::span<const std::byte> frame) const;
  // Queue: waits for a free slot. ok, timeout or peer_gone.
  Errc await_room(std::chrono::nanoseconds timeout, std::uint64_t frames = 1);
  // Broadcast: waits until every lossless reader is done with the slots the next `frames`
  // frames overwrite, detaching dead and (after options_.detach_after) stuck ones.
  void await_lossless(std::uint64_t frames);
  void wait_for_lossless(std::uint64_t frames);
  void scan_lossless();  // recomputes limit_
  void detach_blockers(std::uint64_t frames, std::int64_t waited_ns);
  std::byte* begin_frame() noexcept;  // broadcast: marks the slot being written (odd version)
  // Stamps the frame's fields, completes the slot, announces it, wakes blocked readers if any:
  // complete_frame() then announce().
  void end_frame(std::byte* slot, std::uint32_t size, std::uint32_t crc, std::int64_t now) noexcept;
  // The slot's fields and its final version; `demote`: hand its lines to the shared cache.
  void complete_frame(std::byte* slot, std::uint32_t size, std::uint32_t crc, std::int64_t now,
                      bool demote) noexcept;
  // Heartbeat, `published`, and the check for blocked readers (once per publish or batch).
  void announce(std::int64_t now) noexcept;
  void return_to_light_fences(bool sleeper) noexcept;
  void wake_fd_subscribers() noexcept;

  ChannelView view_;
  WriterOptions options_;
  std::uint64_t next_ = 0;             // sequence of the next frame (private copy of `published`)
  std::uint64_t consumed_cache_ = 0;   // queue: the reader's `consumed` as last read
  bool loan_out_ = false;
  bool closed_ = false;
  bool light_ = false;                 // publishing with light fences (asymmetric_fence.hpp)
  bool may_light_ = false;             // this process is registered for them
  std::uint32_t quiet_frames_ = 0;     // on full fences: frames since one found a reader asleep
  std::uint64_t pending_gap_ = 0;      // relaying: upstream loss stamped into the next frame's slot
  // Broadcast: frames below limit_ may be written without looking at the lossless readers again
  // (the slowest one's cursor + slots, as last scanned); rescanned when the epoch moves.
  std::uint64_t limit_ = 0;
  std::uint32_t epoch_seen_ = 0;
  bool scanned_ = false;
  FrameClock clock_;                   // frame timestamps
  WriterStats stats_;
  std::unique_ptr<HeartbeatThread> keepalive_;  // stamps through the shared header: moves freely
  std::unique_ptr<ChannelEventSink> events_;    // the readers' eventfds, where this process serves them
};

}  // namespace shmkit::detail
