// shmkit queue channel: one writer, one reader, lossless, with backpressure.
//
// Every frame is delivered exactly once and in order. When the ring is full the writer waits
// (per its WaitStrategy, at most the timeout it passes) or fails fast (try_publish). Each side
// registers its process (pid plus start time) in the channel: a writer waiting on a reader that
// died gets Errc::peer_gone, and so does a reader waiting on a writer that died, once it has
// read everything that writer published.
//
//   auto q = shmkit::QueueWriter::create(segment, "jobs", {.slots = 1024, .max_frame = 4096});
//   if (!q.publish(bytes, std::chrono::milliseconds(100))) handle_full_or_gone();
//
//   shmkit::QueueReader r(segment, "jobs");
//   while (auto f = r.read(buf, std::chrono::seconds(5))) process(f.data);
//
// The reader releases slots in batches (and whenever it finds the queue empty or the writer
// waiting), so the writer seldom touches the reader's cache line and vice versa. If the reader's
// process dies, frames it received but had not yet released are delivered again to the next
// reader that attaches.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "shmkit/channel_types.hpp"
#include "shmkit/detail/channel_core.hpp"
#include "shmkit/frame_loan.hpp"
#include "shmkit/typed_frame.hpp"

namespace shmkit {

class Segment;

class QueueWriter {
 public:
  // Creates queue channel `name` and becomes its writer (config.max_readers is ignored).
  static QueueWriter create(Segment& segment, std::string_view name, const ChannelConfig& config = {},
                            const WriterOptions& options = {});
  // Becomes the writer of an existing queue (a restarted writer). Error(busy) while a live
  // writer is attached.
  static QueueWriter attach(Segment& segment, std::string_view name, const WriterOptions& options = {});

  QueueWriter(QueueWriter&&) noexcept = default;
  QueueWriter& operator=(QueueWriter&&) noexcept = default;
  ~QueueWriter() = default;  // closes, then detaches

  // Copies `data` into the next slot, waiting at most `timeout` for room. status: ok, timeout,
  // peer_gone (the reader died). Error(invalid_argument) if data is larger than max_frame().
  Published publish(std::span<const std::byte> data, std::chrono::nanoseconds timeout);
  // Fails fast: timeout at once if the ring is full.
  Published try_publish(std::span<const std::byte> data);
  // Publishes `frames` in order, all or none: waits at most `timeout` for room for the whole
  // batch, then copies them in, reading the clock and checking for a blocked reader once (every
  // frame carries the same timestamp). sequence: the first frame's. Error(invalid_argument) if
  // a frame is larger than max_frame() or there are more frames than slots().
  Published publish_batch(std::span<const std::span<const std::byte>> frames, std::chrono::nanoseconds timeout);
  // Zero-copy: waits for room like publish(), then lends the slot. An empty loan's status()
  // says why (timeout, peer_gone).
  FrameLoan loan(std::chrono::nanoseconds timeout);
  FrameLoan try_loan();

  // Typed frames (typed_frame.hpp): one T of sizeof(T) bytes per frame.
  template <FrameType T>
  Published publish(const T& value, std::chrono::nanoseconds timeout) {
    return publish(std::as_bytes(std::span<const T, 1>(&value, 1)), timeout);
  }
  template <FrameType T>
  Published try_publish(const T& value) {
    return try_publish(std::as_bytes(std::span<const T, 1>(&value, 1)));
  }
  template <FrameType T>
  TypedLoan<T> loan(std::chrono::nanoseconds timeout) {
    return TypedLoan<T>(loan(timeout));
  }
  template <FrameType T>
  TypedLoan<T> try_loan() {
    return TypedLoan<T>(try_loan());
  }

  // The reader's process: none (no reader attached), alive or dead.
  PeerState reader_state() const { return core_.reader_state(); }
  void heartbeat() noexcept { core_.heartbeat(); }
  // Or let a thread of the writer's own stamp it every `interval` (until the writer is destroyed):
  // readers then see an idle writer alive, and a hung one (the process runs, the thread too) as
  // alive as well, so prefer heartbeat() from the loop that does the work when that matters.
  void keep_alive(std::chrono::nanoseconds interval = std::chrono::milliseconds(100)) { core_.keep_alive(interval); }
  // The reader receives every frame, then Errc::closed.
  void close() noexcept { core_.close(); }

  std::uint32_t max_frame() const noexcept { return core_.view().max_frame; }
  std::uint32_t slots() const noexcept { return core_.view().slot_count; }
  std::uint64_t published() const noexcept { return core_.next_sequence(); }
  const WriterStats& stats() const noexcept { return core_.stats(); }

  // ---- Relaying frames from elsewhere (shmkit-bridge and the like) ----
  // publish() of a frame that follows `gap` frames lost upstream (say, a network link that
  // dropped them): the reader counts them in ReadResult::lost with this frame and in lost(),
  // tools in ChannelStatus::upstream_lost. Not published (timeout, peer_gone): nothing counted.
  Published publish_after_gap(std::span<const std::byte> data, std::uint64_t gap, std::chrono::nanoseconds timeout) {
    return core_.publish_after_gap(data, gap, timeout);
  }
  std::uint64_t upstream_lost() const noexcept { return core_.upstream_lost(); }

 private:
  explicit QueueWriter(detail::WriterCore core) noexcept : core_(std::move(core)) {}
  detail::WriterCore core_;
};

class QueueReader {
 public:
  // Attaches as the queue's reader. Error(not_found), type_mismatch, corrupt, busy (a live
  // reader is attached), permission_denied (a read-only mapping: a queue reader must release).
  QueueReader(Segment& segment, std::string_view name, const ReaderOptions& options = {});
  QueueReader(QueueReader&& other) noexcept;
  QueueReader& operator=(QueueReader&& other) noexcept;
  QueueReader(const QueueReader&) = delete;
  QueueReader& operator=(const QueueReader&) = delete;
  ~QueueReader();  // releases what it read, detaches

  // Copy-out: the next frame into `buffer`, waiting at most `timeout`. status: ok, timeout,
  // closed, peer_gone. Error(too_small) if the frame does not fit (nothing is consumed).
  ReadResult read(std::span<std::byte> buffer, std::chrono::nanoseconds timeout);
  ReadResult try_read(std::span<std::byte> buffer);
  // Typed frames (typed_frame.hpp): the next frame as a T. Error(type_mismatch) if its size is
  // not sizeof(T) (the frame is consumed).
  template <FrameType T>
  TypedReadResult<T> read(std::chrono::nanoseconds timeout) {
    return detail::read_typed<T>(*this, [&](std::span<std::byte> b) { return read(b, timeout); });
  }
  template <FrameType T>
  TypedReadResult<T> try_read() {
    return detail::read_typed<T>(*this, [&](std::span<std::byte> b) { return try_read(b); });
  }
  // Read in place: the slot stays the reader's until finish() (always true for a queue).
  ReadResult peek(std::chrono::nanoseconds timeout);
  ReadResult try_peek();
  bool finish();

  PeerState writer_state(std::chrono::nanoseconds stall_threshold = std::chrono::seconds(1)) const;
  // For event loops: an fd that becomes readable when frames arrive (see BroadcastReader).
  int notification_fd();
  void clear_notification() noexcept;
  // With the writer's eventfd (memfd segments served by the writer's process): the control
  // connection it came over; add it to the same epoll set for EPOLLRDHUP, which says the writer's
  // process is gone. -1 before notification_fd() and with the notification thread (which signals
  // the writer's death through the fd itself).
  int writer_hangup_fd() const noexcept;
  // True when notification_fd() is served by a thread of this process (named and file segments,
  // or no eventfd to be had from the writer's process); false with the writer's eventfd.
  bool notification_uses_thread() const noexcept;

  std::uint64_t position() const noexcept { return head_; }
  // Frames lost upstream of a relaying writer (publish_after_gap), as reported with the frames
  // read so far. A queue itself never loses a frame.
  std::uint64_t lost() const noexcept { return lost_total_; }
  std::uint64_t available() const noexcept;
  std::uint32_t max_frame() const noexcept { return view_.max_frame; }
  std::uint32_t slots() const noexcept { return view_.slot_count; }
  // How often this reader slept in the kernel (tune the spin window by it) and fenced for it.
  const ReaderStats& stats() const noexcept { return stats_; }

 private:
  ReadResult receive(std::span<std::byte>* buffer, std::chrono::nanoseconds timeout);
  bool try_take(std::span<std::byte>* buffer, ReadResult& out);
  bool refresh_tail();  // re-reads the writer's `published`: true if frames are waiting
  void consume_one() noexcept;
  void release() noexcept;  // publishes `consumed` and wakes a writer waiting for room
  void detach() noexcept;

  detail::ChannelView view_;
  ReaderOptions options_;
  ReaderStats stats_;
  std::uint64_t head_ = 0;         // sequence of the next frame to read
  std::uint64_t tail_cache_ = 0;   // the writer's `published` as last read
  std::uint64_t released_ = 0;     // `consumed` as this reader last published it
  std::uint64_t batch_ = 1;        // release after this many frames
  std::uint32_t ready_run_ = 0;    // reads in a row that found their frame already there
  std::uint64_t lost_total_ = 0;   // upstream gaps reported with the frames read
  bool peeking_ = false;
  detail::NotifierPtr notifier_;
};

}  // namespace shmkit
