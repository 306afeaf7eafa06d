// shmkit broadcast channel: one writer, any number of readers, lossy for readers that fall behind
// unless they ask for lossless delivery.
//
// Each frame goes into the next slot of a ring, overwriting the oldest. Every reader keeps its
// own cursor in its own process; a lossy reader that falls more than a ring behind is told how
// many frames it lost (ReadResult::lost) and carries on from the oldest frame still intact. A
// per-slot seqlock guarantees a reader never receives a torn or mixed frame.
// Lossless readers (ReaderOptions::delivery, up to max_readers of them): the writer waits
// (WriterOptions::wait) before overwriting a frame one of them has not read; one that died, or
// kept the writer waiting longer than WriterOptions::detach_after, is detached (ReaderOptions::
// on_detach says what it does then). Without lossless readers the writer never waits.
//
//   auto writer = shmkit::BroadcastWriter::create(segment, "prices", {.slots = 4096, .max_frame = 256});
//   writer.publish(std::as_bytes(std::span(tick)));
//
//   shmkit::BroadcastReader reader(segment, "prices", {.wait = shmkit::WaitStrategy::block()});
//   std::array<std::byte, 256> buf;
//   while (auto r = reader.read(buf, std::chrono::seconds(1))) use(r.data);
//
// or typed (typed_frame.hpp): writer.publish(tick); reader.read<Tick>(timeout)->price.
//
// Handles are this process's; they refer to the Segment, which must outlive them. A handle is
// not thread-safe: use one per thread (any number of readers may share a channel).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "shmkit/channel_types.hpp"
#include "shmkit/detail/channel_core.hpp"
#include "shmkit/frame_loan.hpp"
#include "shmkit/typed_frame.hpp"

namespace shmkit {

class Segment;
class SegmentView;

class BroadcastWriter {
 public:
  // Creates broadcast channel `name` in `segment` and becomes its writer. Error(already_exists),
  // out_of_memory, invalid_argument (slots not a power of two, sizes out of range).
  // `options`: how the writer waits for lossless readers, and when it detaches them.
  static BroadcastWriter create(Segment& segment, std::string_view name, const ChannelConfig& config = {},
                                const WriterOptions& options = {});
  // Becomes the writer of an existing channel (say, a restarted writer); sequences continue.
  // Error(not_found), type_mismatch (a queue, or not a channel), corrupt, busy (a live writer).
  static BroadcastWriter attach(Segment& segment, std::string_view name, const WriterOptions& options = {});

  BroadcastWriter(BroadcastWriter&&) noexcept = default;
  BroadcastWriter& operator=(BroadcastWriter&&) noexcept = default;
  // Closes the channel (see close()) and detaches.
  ~BroadcastWriter() = default;

  // Copies `data` into the next slot and publishes it; returns its sequence. Takes no lock,
  // allocates nothing, and makes no system call unless a reader is blocked. Waits only while a
  // lossless reader has not read the frame the slot holds (at most detach_after per reader).
  // Error(invalid_argument) if data is larger than max_frame().
  std::uint64_t publish(std::span<const std::byte> data);
  // Publishes `frames` in order, as publish() would one by one, but reads the clock and checks
  // for blocked readers once for the batch: every frame carries the same timestamp. Returns
  // the first frame's sequence. Error(invalid_argument) if a frame is larger than max_frame()
  // or there are more frames than slots() (nothing is published then).
  std::uint64_t publish_batch(std::span<const std::span<const std::byte>> frames);
  // Zero-copy: lends the next slot (see FrameLoan), once the lossless readers are done with it.
  // Lossy readers still reading the frame that slot held see it overwritten and count it as lost.
  FrameLoan loan();

  // Typed frames (typed_frame.hpp): one T of sizeof(T) bytes per frame.
  template <FrameType T>
  std::uint64_t publish(const T& value) {
    return publish(std::as_bytes(std::span<const T, 1>(&value, 1)));
  }
  template <FrameType T>
  TypedLoan<T> loan() {
    return TypedLoan<T>(loan());
  }

  // Stamps the heartbeat without publishing: call it at an interval while idle, so readers
  // asking for writer_state() see the writer alive rather than stalled.
  void heartbeat() noexcept { core_.heartbeat(); }
  // Or let a thread of the writer's own stamp it every `interval` (until the writer is destroyed):
  // readers then see an idle writer alive, and a hung one (the process runs, the thread too) as
  // alive as well, so prefer heartbeat() from the loop that does the work when that matters.
  void keep_alive(std::chrono::nanoseconds interval = std::chrono::milliseconds(100)) { core_.keep_alive(interval); }
  // Tells readers no more frames follow: they receive what is in the ring, then Errc::closed.
  // A writer that attaches later reopens the channel.
  void close() noexcept { core_.close(); }

  std::uint32_t max_frame() const noexcept { return core_.view().max_frame; }
  std::uint32_t slots() const noexcept { return core_.view().slot_count; }
  // Frames published on this channel so far = the next frame's sequence.
  std::uint64_t published() const noexcept { return core_.next_sequence(); }
  const WriterStats& stats() const noexcept { return core_.stats(); }

  // ---- Relaying frames from elsewhere (shmkit-bridge and the like) ----
  // publish() of a frame that follows `gap` frames lost upstream: readers count them in
  // ReadResult::lost with this frame, and tools see the total in ChannelStatus::upstream_lost.
  std::uint64_t publish_after_gap(std::span<const std::byte> data, std::uint64_t gap) {
    return core_.publish_after_gap(data, gap, std::chrono::nanoseconds::zero()).sequence;
  }
  // Frames reported lost upstream on this channel, by every writer so far.
  std::uint64_t upstream_lost() const noexcept { return core_.upstream_lost(); }

 private:
  explicit BroadcastWriter(detail::WriterCore core) noexcept : core_(std::move(core)) {}
  detail::WriterCore core_;
};

class BroadcastReader {
 public:
  // Opens channel `name` for reading. Error(not_found), type_mismatch, corrupt,
  // resource_limit (register_reader or lossless, and every registration record taken),
  // permission_denied (register_reader or lossless on a read-only mapping).
  // Lossless: from the oldest frame the writer has not begun to overwrite (StartAt::oldest),
  // or as asked; frames before that are not counted as lost.
  BroadcastReader(Segment& segment, std::string_view name, const ReaderOptions& options = {});
  // Through a read-only view: options.register_reader must be false (a registered reader writes
  // its record in the channel), else Error(permission_denied).
  BroadcastReader(const SegmentView& view, std::string_view name, const ReaderOptions& options = {});
  BroadcastReader(BroadcastReader&& other) noexcept;
  BroadcastReader& operator=(BroadcastReader&& other) noexcept;
  BroadcastReader(const BroadcastReader&) = delete;
  BroadcastReader& operator=(const BroadcastReader&) = delete;
  ~BroadcastReader();  // frees its registration record

  // Copy-out: waits (per options.wait, at most `timeout`) for the next frame and copies it into
  // `buffer`. Error(too_small) if the frame is larger than the buffer (nothing is consumed:
  // size the buffer to max_frame()); Error(corrupt) for a corrupt channel or a checksum mismatch.
  ReadResult read(std::span<std::byte> buffer, std::chrono::nanoseconds timeout);
  // Never waits and makes no system call.
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

  // Read in place: the next frame's payload, in the slot. The writer may overwrite it while you
  // read: call finish() when done; if it returns false the slot was overwritten meanwhile and
  // whatever you derived from data must be discarded (the frame counts as lost).
  ReadResult peek(std::chrono::nanoseconds timeout);
  ReadResult try_peek();
  // Ends the peek (post-check) and moves on; false if there was none or the frame was overwritten.
  bool finish();

  // The writer: closed, dead, none, stalled (no heartbeat for longer than stall_threshold), alive.
  PeerState writer_state(std::chrono::nanoseconds stall_threshold = std::chrono::seconds(1)) const;

  std::uint64_t position() const noexcept { return cursor_; }  // next sequence it will read
  std::uint64_t lost() const noexcept { return lost_total_; }
  std::uint64_t delivered() const noexcept { return delivered_; }
  // Frames published but not yet read (a hint; may exceed slots() when this reader fell behind).
  std::uint64_t available() const noexcept;
  std::uint32_t max_frame() const noexcept { return view_.max_frame; }
  std::uint32_t slots() const noexcept { return view_.slot_count; }
  // Lossless and the writer has not detached it.
  bool lossless() const noexcept { return lossless_; }
  // Was lossless, and the writer detached it (it died, for the writer, or held it back too long).
  bool detached() const noexcept { return detached_; }
  // How often this reader slept in the kernel (tune the spin window by it) and fenced for it.
  const ReaderStats& stats() const noexcept { return stats_; }

  // For event loops (epoll, poll, Boost.Asio): an fd that becomes readable when frames arrive,
  // when the writer closes, and when the writer's process dies. On readable: clear_notification(),
  // then try_read()/try_peek() until they return timeout (or closed/peer_gone). An empty
  // try_read() is what re-arms the fd: only then may the loop sleep. Spurious wake-ups happen
  // (an empty try_read() answers them). The fd belongs to this reader (do not close it).
  // memfd segments whose writer's process serves the segment: the writer's own eventfd for this
  // reader, received over the control socket (no thread; the writer's death shows on
  // writer_hangup_fd()). Otherwise a thread of this process sleeps on the channel's futex word and
  // signals a private eventfd (it shows as a blocked reader in channel_status). Level-triggered
  // and EPOLLET both work. Error(unsupported) on Windows. docs/channels.md, "Event loops".
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

 private:
  enum class Idle { wait, retry, closed };
  ReadResult receive(std::span<std::byte>* buffer, std::chrono::nanoseconds timeout);
  // One attempt: a frame taken (ok), closed, or nullopt (nothing yet).
  std::optional<Errc> probe(std::span<std::byte>* buffer, ReadResult& out);
  bool take(std::byte* slot, std::uint64_t version, std::span<std::byte>* buffer, ReadResult& out);
  void resync();      // lapped by the writer: skip ahead to the oldest frame likely intact
  Idle idle_check();  // the next slot is not written yet: closed? corrupt? or just wait
  void note_progress() noexcept;
  void release_record() noexcept;
  void register_lossless();
  void wake_writer() noexcept;   // lossless: a writer waiting for room sees our cursor
  void on_detached();            // the writer detached us: lossy from now, or Error(peer_gone)

  detail::ChannelView view_;
  ReaderOptions options_;
  ReaderStats stats_;
  std::uint64_t cursor_ = 0;        // sequence of the next frame to read
  std::uint64_t lost_pending_ = 0;  // lost since the last result
  std::uint64_t lost_total_ = 0;
  std::uint64_t delivered_ = 0;
  detail::ReaderRecord* record_ = nullptr;
  std::uint64_t released_ = 0;      // lossless: cursor as of the last check for a waiting writer
  std::uint64_t batch_ = 1;         // lossless: frames between those checks
  bool lossless_ = false;
  bool detached_ = false;
  bool peeking_ = false;
  std::uint64_t peek_version_ = 0;
  detail::NotifierPtr notifier_;
};

}  // namespace shmkit
