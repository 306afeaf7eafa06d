// The broadcast reader: a private cursor, reading slots under their seqlock.
//
// Fast path: load the slot's version (acquire); if it is 2*cursor+2 the frame is there: copy it,
// acquire fence, re-load the version; unchanged means the copy is whole. No store to shared
// memory, no read of the writer's line. A larger version means the writer lapped us (resync);
// a smaller one means the frame is not written yet (idle_check, which reads `published`).
#include <algorithm>
#include <string>

#include "channel_copy.hpp"
#include "channel_crc.hpp"
#include "channel_internal.hpp"
#include "segment_access.hpp"
#include "channel_wait.hpp"
#include "process_identity.hpp"
#include "shmkit/broadcast_channel.hpp"
#include "shmkit/segment.hpp"

namespace shmkit {

using detail::slot_header;
using detail::slot_payload;

BroadcastReader::BroadcastReader(const SegmentView& view, std::string_view name, const ReaderOptions& options)
    : BroadcastReader(detail::SegmentAccess::segment(view), name, options) {}

BroadcastReader::BroadcastReader(Segment& segment, std::string_view name, const ReaderOptions& options)
    : view_(detail::open_channel(segment, name, ChannelKind::broadcast)), options_(options) {
  const std::uint64_t head = view_.header->writer.published.load(std::memory_order_acquire);
  switch (options_.start) {
    case StartAt::oldest: cursor_ = head > view_.slot_count ? head - view_.slot_count : 0; break;
    case StartAt::newest: cursor_ = head > 0 ? head - 1 : 0; break;
    case StartAt::next: cursor_ = head; break;
  }
  const bool lossless = options_.delivery == Delivery::lossless;
  if (lossless && view_.reader_capacity == 0)
    throw Error(Errc::invalid_argument, "channel '" + view_.name +
                                            "' has no reader records: a lossless reader needs one (create it with "
                                            "max_readers > 0)");
  if ((options_.register_reader || lossless) && view_.reader_capacity > 0) {
    if (!detail::SegmentAccess::writable(segment))
      throw Error(Errc::permission_denied, "channel '" + view_.name +
                                               "': registering a reader (or a lossless one) needs a writable mapping "
                                               "(open with register_reader = false, lossy)");
    for (std::uint32_t i = 0; i < view_.reader_capacity && record_ == nullptr; ++i) {
      detail::ReaderRecord& r = view_.records[i];
      if (detail::claim_identity(r.pid, r.start_time)) record_ = &r;
    }
    if (record_ == nullptr)
      throw Error(Errc::resource_limit, "channel '" + view_.name + "': all " + std::to_string(view_.reader_capacity) +
                                            " reader records are held by live readers (create the channel with more "
                                            "max_readers, or open lossy with register_reader = false)");
    // A dead predecessor may have left the record lossless: the writer would wait for it.
    record_->mode.store(detail::kReaderLossy, std::memory_order_seq_cst);
    record_->lost.store(0, std::memory_order_relaxed);
    record_->delivered.store(0, std::memory_order_relaxed);
    if (lossless) register_lossless();
    note_progress();
    if (lossless_) wake_writer();  // a writer waiting on our first cursor
  }
}

void BroadcastReader::register_lossless() {
  // The writer waits for this cursor from the moment the mode says lossless: never above a
  // frame we still want.
  record_->cursor.store(cursor_, std::memory_order_seq_cst);
  record_->mode.store(detail::kReaderLossless, std::memory_order_seq_cst);
  // Then the epoch, then `published` (all sc): a writer that misses the new epoch announced its
  // frames before, so `head` below covers every frame it may overwrite without looking at us.
  view_.header->consumer.lossless_epoch.fetch_add(1, std::memory_order_seq_cst);
  detail::WriterLine& w = view_.header->writer;
  // A light-fenced writer's `published` store may still sit in its store buffer: drain it (or,
  // without the heavy fence, make the writer use full fences, as a reader that sleeps would).
  if (w.light_fences.load(std::memory_order_seq_cst) != 0 && !detail::heavy_fence())
    view_.header->wait.full_fences.store(detail::kFencesRequired, std::memory_order_seq_cst);
  // The writer may be inside a batch whose epoch check came before our bump: it goes on without
  // looking at us for up to a ring of frames, overwriting frames up to head - 1. Start at head.
  const std::uint64_t head = w.published.load(std::memory_order_seq_cst);
  if (cursor_ < head) cursor_ = head;
  lossless_ = true;
  batch_ = std::clamp<std::uint64_t>(view_.slot_count / 4, 1, 64);
  released_ = cursor_;
}

void BroadcastReader::wake_writer() noexcept {
  released_ = cursor_;
  // sc fence then sc load: the reader's half of the Dekker handshake with a writer waiting for
  // room (it counts itself in space_waiters, then reads our cursor).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  detail::WaitLine& wl = view_.header->wait;
  if (wl.space_waiters.load(std::memory_order_seq_cst) != 0) (void)detail::wake_if_armed(wl.space_word);
}

void BroadcastReader::on_detached() {
  lossless_ = false;
  detached_ = true;
  if (options_.on_detach == OnDetach::fail) {
    const std::uint32_t why = record_->mode.load(std::memory_order_relaxed);
    throw Error(Errc::peer_gone, "channel '" + view_.name + "': the writer detached this lossless reader (" +
                                     (why == detail::kReaderDetachedDead
                                          ? std::string("it took the reader for dead")
                                          : std::string("it held the writer back longer than its detach_after")) +
                                     "); open a new reader to rejoin");
  }
}

BroadcastReader::BroadcastReader(BroadcastReader&& other) noexcept
    : view_(std::move(other.view_)),
      options_(other.options_),
      stats_(other.stats_),
      cursor_(other.cursor_),
      lost_pending_(other.lost_pending_),
      lost_total_(other.lost_total_),
      delivered_(other.delivered_),
      record_(std::exchange(other.record_, nullptr)),
      released_(other.released_),
      batch_(other.batch_),
      lossless_(std::exchange(other.lossless_, false)),
      detached_(other.detached_),
      peeking_(std::exchange(other.peeking_, false)),
      peek_version_(other.peek_version_),
      notifier_(std::move(other.notifier_)) {
  other.view_.header = nullptr;
}

BroadcastReader& BroadcastReader::operator=(BroadcastReader&& other) noexcept {
  if (this != &other) {
    release_record();
    view_ = std::move(other.view_);
    options_ = other.options_;
    stats_ = other.stats_;
    cursor_ = other.cursor_;
    lost_pending_ = other.lost_pending_;
    lost_total_ = other.lost_total_;
    delivered_ = other.delivered_;
    record_ = std::exchange(other.record_, nullptr);
    released_ = other.released_;
    batch_ = other.batch_;
    lossless_ = std::exchange(other.lossless_, false);
    detached_ = other.detached_;
    peeking_ = std::exchange(other.peeking_, false);
    peek_version_ = other.peek_version_;
    notifier_ = std::move(other.notifier_);
    other.view_.header = nullptr;
  }
  return *this;
}

BroadcastReader::~BroadcastReader() { release_record(); }

void BroadcastReader::release_record() noexcept {
  if (record_ != nullptr) {
    // Leaving the lossless set first: the writer stops waiting for us (and may be waiting now).
    if (lossless_) {
      record_->mode.store(detail::kReaderLossy, std::memory_order_seq_cst);
      wake_writer();
    }
    record_->pid.store(0, std::memory_order_release);
  }
  record_ = nullptr;
  lossless_ = false;
}

void BroadcastReader::note_progress() noexcept {
  if (record_ == nullptr) return;
  // Release: for a lossless reader, the writer may overwrite the frames before the cursor once
  // it sees it, so our reads of them come first. Otherwise for tools only.
  record_->cursor.store(cursor_, std::memory_order_release);
  record_->lost.store(lost_total_, std::memory_order_relaxed);
  record_->delivered.store(delivered_, std::memory_order_relaxed);
  // Relaxed peek at the writer's waiter count: wake it now rather than at the batch's end.
  if (lossless_ && (cursor_ - released_ >= batch_ ||
                    view_.header->wait.space_waiters.load(std::memory_order_relaxed) != 0))
    wake_writer();
}

ReadResult BroadcastReader::read(std::span<std::byte> buffer, std::chrono::nanoseconds timeout) {
  return receive(&buffer, timeout);
}
ReadResult BroadcastReader::try_read(std::span<std::byte> buffer) {
  return receive(&buffer, std::chrono::nanoseconds::zero());
}
ReadResult BroadcastReader::peek(std::chrono::nanoseconds timeout) { return receive(nullptr, timeout); }
ReadResult BroadcastReader::try_peek() { return receive(nullptr, std::chrono::nanoseconds::zero()); }

// Inlined into receive: returned through a call, the optional<Errc> took a trip through the
// stack that the CPU could not forward (a store-forwarding stall on every frame).
[[gnu::always_inline]] inline std::optional<Errc> BroadcastReader::probe(std::span<std::byte>* buffer, ReadResult& out) {
  // A few attempts: each lap resyncs; a writer lapping us without pause hands back to the wait.
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::byte* slot = view_.slot(cursor_);
    const std::uint64_t expected = 2 * cursor_ + 2;
    // Acquire: pairs with the writer's release store of the even version (the whole frame).
    const std::uint64_t v = slot_header(slot).version.load(std::memory_order_acquire);
    if (v == expected) {
      if (take(slot, v, buffer, out)) return Errc::ok;
      continue;
    }
    if (v > expected) {
      resync();
      continue;
    }
    switch (idle_check()) {
      case Idle::wait: return std::nullopt;
      case Idle::closed: return Errc::closed;
      case Idle::retry: break;
    }
  }
  return std::nullopt;
}

ReadResult BroadcastReader::receive(std::span<std::byte>* buffer, std::chrono::nanoseconds timeout) {
  if (!view_.valid()) throw Error(Errc::invalid_argument, "read on a moved-from channel reader");
  if (peeking_) (void)finish();  // a new read ends an unfinished peek
  // Relaxed: our own record; the writer's detach shows up here within a read or two.
  if (lossless_ && record_->mode.load(std::memory_order_relaxed) != detail::kReaderLossless) on_detached();
  if (detached_ && options_.on_detach == OnDetach::fail) on_detached();
  ReadResult out;
  detail::WaitLine& wl = view_.header->wait;
  out.status = detail::wait_loop(
      options_.wait, timeout, detail::data_wait_point(wl, view_.header->writer, &stats_), view_.can_block,
      [&] { return probe(buffer, out); }, [&] { return detail::writer_dead(view_); },
      // Relaxed: only says whether probing is worth it (the frame is there, or we were lapped).
      [&] { return slot_header(view_.slot(cursor_)).version.load(std::memory_order_relaxed) >= 2 * cursor_ + 2; });
  // An event loop about to sleep on the writer's eventfd: arm, then look once more.
  if (out.status == Errc::timeout && notifier_ && detail::notifier_arm(*notifier_))
    if (auto r = probe(buffer, out)) out.status = *r;
  // An event loop's try_read after the notifier found the writer dead.
  if (out.status == Errc::timeout && notifier_ && detail::notifier_saw_dead(*notifier_) && detail::writer_dead(view_))
    out.status = Errc::peer_gone;
  if (out.status == Errc::closed && notifier_) detail::notifier_writer_closed(*notifier_);
  if (out.status != Errc::ok) {
    out.lost = std::exchange(lost_pending_, 0);
    out.data = {};
  }
  return out;
}

bool BroadcastReader::take(std::byte* slot, std::uint64_t version, std::span<std::byte>* buffer, ReadResult& out) {
  detail::SlotHeader& sh = slot_header(slot);
  const std::uint32_t size = sh.size.load(detail::kFieldLoad);
  const std::int64_t timestamp = sh.timestamp_ns.load(detail::kFieldLoad);
  const std::uint32_t crc = sh.crc.load(detail::kFieldLoad);
  const std::uint64_t gap = sh.gap_before.load(detail::kFieldLoad);
  // Never copy past the slot, whatever `size` says: it is only trusted after the post-check.
  const std::uint32_t n = std::min(size, view_.max_frame);
  const bool fits = buffer == nullptr || n <= buffer->size();
  std::uint32_t copied_crc = 0;  // of the copy, computed while copying; trusted after the post-check
  if (buffer != nullptr && fits) {
    if (view_.checksum)
      copied_crc = detail::copy_from_slot_crc(buffer->data(), slot_payload(slot), n);
    else
      detail::copy_from_slot(buffer->data(), slot_payload(slot), n);
  }
  const std::uint32_t slot_crc = buffer == nullptr && view_.checksum ? detail::crc_of_slot(slot_payload(slot), n) : 0;
  detail::seqlock_read_fence();
  if (sh.version.load(std::memory_order_relaxed) != version) {  // overwritten while we copied
    resync();
    return false;
  }
  // The copy is whole: what the slot says is what the writer wrote, and must make sense.
  if (size > view_.max_frame)
    detail::throw_corrupt(view_, "frame " + std::to_string(cursor_) + " claims " + std::to_string(size) +
                                     " bytes; max_frame is " + std::to_string(view_.max_frame));
  if (!fits)
    throw Error(Errc::too_small, "frame " + std::to_string(cursor_) + " of channel '" + view_.name + "' has " +
                                     std::to_string(size) + " bytes; the buffer holds " +
                                     std::to_string(buffer->size()) + " (size buffers to max_frame())");
  if (view_.checksum) {
    const std::uint32_t actual = buffer != nullptr ? copied_crc : slot_crc;
    if (actual != crc) {
      // Skip the damaged frame, so the caller can count the failure and read on.
      const std::uint64_t bad = cursor_++;
      note_progress();
      detail::throw_corrupt(view_, "frame " + std::to_string(bad) + " fails its checksum (skipped)");
    }
  }
  // Lost upstream of a relaying writer, reported with this frame (trusted now: any count is valid).
  lost_pending_ = detail::saturating_add(lost_pending_, gap);
  lost_total_ = detail::saturating_add(lost_total_, gap);
  out.status = Errc::ok;
  out.frame = FrameInfo{cursor_, timestamp, size};
  out.data = buffer != nullptr ? std::span<const std::byte>(buffer->data(), n)
                               : std::span<const std::byte>(slot_payload(slot), n);
  out.lost = std::exchange(lost_pending_, 0);
  if (buffer == nullptr) {
    peeking_ = true;  // the cursor moves on in finish(), after the post-check
    peek_version_ = version;
  } else {
    ++cursor_;
    ++delivered_;
    note_progress();
  }
  return true;
}

bool BroadcastReader::finish() {
  if (!peeking_) return false;
  peeking_ = false;
  detail::seqlock_read_fence();  // the caller's reads of the slot come before the re-check
  const bool intact = slot_header(view_.slot(cursor_)).version.load(std::memory_order_relaxed) == peek_version_;
  ++cursor_;
  if (intact) {
    ++delivered_;
  } else {
    ++lost_pending_;
    ++lost_total_;
  }
  note_progress();
  return intact;
}

void BroadcastReader::resync() {
  // Acquire on the version, then `published`: the writer announced frame f before it began
  // overwriting with frame f + slots, so published >= cursor + slots here unless corrupt.
  const std::uint64_t v = slot_header(view_.slot(cursor_)).version.load(std::memory_order_acquire);
  const std::uint64_t head = view_.header->writer.published.load(std::memory_order_acquire);
  if (v <= 2 * cursor_ + 2 || head < cursor_ + view_.slot_count)
    detail::throw_corrupt(view_, "slot of frame " + std::to_string(cursor_) + " has version " + std::to_string(v) +
                                     " while " + std::to_string(head) + " frames are published");
  // Skip to a quarter of a ring behind the oldest slot: the writer is overwriting the oldest
  // right now, and jumping exactly there would only be lapped again.
  const std::uint64_t keep = view_.slot_count - std::max<std::uint64_t>(1, view_.slot_count / 4);
  const std::uint64_t target = head - keep;  // > cursor_, since head >= cursor_ + slots
  lost_pending_ += target - cursor_;
  lost_total_ += target - cursor_;
  cursor_ = target;
  note_progress();
}

BroadcastReader::Idle BroadcastReader::idle_check() {
  const detail::WriterLine& w = view_.header->writer;
  // `closed` before `published`: the writer stores them in the other order, so seeing closed
  // means seeing the final count.
  const bool closed = w.closed.load(std::memory_order_acquire) != 0;
  // seq_cst: inside a blocking wait, the reader's half of the Dekker handshake (wait_loop).
  const std::uint64_t head = w.published.load(std::memory_order_seq_cst);
  if (head <= cursor_ && lossless_ && released_ != cursor_) wake_writer();  // about to wait: let the writer go
  if (head > cursor_) {
    // Announced, so its slot was completed first: a smaller version is not a race but damage.
    const std::uint64_t v = slot_header(view_.slot(cursor_)).version.load(std::memory_order_acquire);
    if (v < 2 * cursor_ + 2)
      detail::throw_corrupt(view_, std::to_string(head) + " frames are published, but the slot of frame " +
                                       std::to_string(cursor_) + " has version " + std::to_string(v));
    return Idle::retry;
  }
  return closed ? Idle::closed : Idle::wait;
}

PeerState BroadcastReader::writer_state(std::chrono::nanoseconds stall_threshold) const {
  return detail::writer_state(view_, stall_threshold);
}

std::uint64_t BroadcastReader::available() const noexcept {
  const std::uint64_t head = view_.header->writer.published.load(std::memory_order_acquire);
  return head > cursor_ ? head - cursor_ : 0;
}

int BroadcastReader::notification_fd() {
  if (!view_.valid()) throw Error(Errc::invalid_argument, "notification_fd on a moved-from channel reader");
  if (!notifier_) notifier_ = detail::start_notifier(view_, cursor_, options_.wait.liveness_check);
  return detail::notifier_fd(*notifier_);
}

void BroadcastReader::clear_notification() noexcept {
  if (notifier_) detail::notifier_clear(*notifier_);
}

int BroadcastReader::writer_hangup_fd() const noexcept { return notifier_ ? detail::notifier_hangup_fd(*notifier_) : -1; }

bool BroadcastReader::notification_uses_thread() const noexcept {
  return notifier_ && detail::notifier_uses_thread(*notifier_);
}

}  // namespace shmkit
