// The queue reader: consumes in order, releases slots to the writer in batches.
//
// The writer never touches a slot until the reader has released it (published `consumed` past
// it), so reads need no seqlock: the acquire of `published` orders the frame before the read.
// Both sides cache the other's index and re-read it only when their cached view says empty
// (reader) or full (writer), so the two index lines rarely move between cores.
#include <algorithm>
#include <cstring>
#include <string>

#include "cache_prefetch.hpp"
#include "channel_crc.hpp"
#include "channel_internal.hpp"
#include "segment_access.hpp"
#include "channel_wait.hpp"
#include "shmkit/queue_channel.hpp"
#include "shmkit/segment.hpp"

namespace shmkit {

namespace {
// Reads in a row that found their frame already complete before the reader counts as far
// behind: it then learns `published` at each release and prefetches ahead (try_take).
constexpr std::uint32_t kBehindRun = 32;
}  // namespace

using detail::slot_header;
using detail::slot_payload;

QueueReader::QueueReader(Segment& segment, std::string_view name, const ReaderOptions& options)
    : view_(detail::open_channel(segment, name, ChannelKind::queue)), options_(options) {
  if (!detail::SegmentAccess::writable(segment))
    throw Error(Errc::permission_denied, "channel '" + view_.name + "': a queue reader needs a writable mapping");
  detail::ConsumerLine& c = view_.header->consumer;
  if (!detail::claim_identity(c.pid, c.start_time)) {
    const std::int32_t holder = c.pid.load(std::memory_order_relaxed);
    view_.header = nullptr;
    throw Error(Errc::busy, "channel '" + view_.name + "' already has a live reader (pid " + std::to_string(holder) + ")");
  }
  head_ = c.consumed.load(std::memory_order_acquire);
  released_ = head_;
  try {
    tail_cache_ = head_;
    (void)refresh_tail();
  } catch (...) {
    detach();
    throw;
  }
  // Release a quarter of the ring at a time (at most 64 frames): one store to the shared line
  // per batch instead of per frame, while the writer never waits long for room.
  batch_ = std::clamp<std::uint64_t>(view_.slot_count / 4, 1, 64);
}

QueueReader::QueueReader(QueueReader&& other) noexcept
    : view_(std::move(other.view_)),
      options_(other.options_),
      stats_(other.stats_),
      head_(other.head_),
      tail_cache_(other.tail_cache_),
      released_(other.released_),
      batch_(other.batch_),
      ready_run_(other.ready_run_),
      lost_total_(other.lost_total_),
      peeking_(std::exchange(other.peeking_, false)),
      notifier_(std::move(other.notifier_)) {
  other.view_.header = nullptr;
}

QueueReader& QueueReader::operator=(QueueReader&& other) noexcept {
  if (this != &other) {
    detach();
    view_ = std::move(other.view_);
    options_ = other.options_;
    stats_ = other.stats_;
    head_ = other.head_;
    tail_cache_ = other.tail_cache_;
    released_ = other.released_;
    batch_ = other.batch_;
    ready_run_ = other.ready_run_;
    lost_total_ = other.lost_total_;
    peeking_ = std::exchange(other.peeking_, false);
    notifier_ = std::move(other.notifier_);
    other.view_.header = nullptr;
  }
  return *this;
}

QueueReader::~QueueReader() { detach(); }

void QueueReader::detach() noexcept {
  if (!view_.valid()) return;
  release();
  view_.header->consumer.pid.store(0, std::memory_order_release);
  view_.header = nullptr;
}

ReadResult QueueReader::read(std::span<std::byte> buffer, std::chrono::nanoseconds timeout) {
  return receive(&buffer, timeout);
}
ReadResult QueueReader::try_read(std::span<std::byte> buffer) {
  return receive(&buffer, std::chrono::nanoseconds::zero());
}
ReadResult QueueReader::peek(std::chrono::nanoseconds timeout) { return receive(nullptr, timeout); }
ReadResult QueueReader::try_peek() { return receive(nullptr, std::chrono::nanoseconds::zero()); }

ReadResult QueueReader::receive(std::span<std::byte>* buffer, std::chrono::nanoseconds timeout) {
  if (!view_.valid()) throw Error(Errc::invalid_argument, "read on a moved-from channel reader");
  if (peeking_) (void)finish();
  ReadResult out;
  detail::WaitLine& wl = view_.header->wait;
  const detail::WriterLine& w = view_.header->writer;
  auto probe = [&]() -> std::optional<Errc> {
    // The next slot itself says when its frame is complete (the writer's release store of its
    // version, after the payload): polling it keeps the reader off the writer's line, which the
    // writer stores to on every frame. `published` is read (seq_cst) only when the slot is not
    // ready, which is also what the blocking wait's handshake needs.
    if (head_ == tail_cache_ &&
        slot_header(view_.slot(head_)).version.load(std::memory_order_acquire) == 2 * head_ + 2)
      tail_cache_ = head_ + 1;
    if (head_ == tail_cache_) {
      // `closed` before `published` (the writer stores them in the other order).
      const bool closed = w.closed.load(std::memory_order_acquire) != 0;
      if (!refresh_tail()) {
        release();  // about to wait: hand back everything read, so the writer is never stuck
        if (closed) return Errc::closed;
        return std::nullopt;
      }
    }
    return try_take(buffer, out) ? std::optional<Errc>(Errc::ok) : std::nullopt;
  };
  // Relaxed: only says whether probing is worth it; the probe loads the version with acquire.
  auto maybe_ready = [&] {
    return head_ != tail_cache_ ||
           slot_header(view_.slot(head_)).version.load(std::memory_order_relaxed) == 2 * head_ + 2;
  };
  ready_run_ = !maybe_ready() ? 0 : ready_run_ < kBehindRun ? ready_run_ + 1 : kBehindRun;
  out.status = detail::wait_loop(options_.wait, timeout, detail::data_wait_point(wl, view_.header->writer, &stats_),
                                 view_.can_block, probe, [&] { return detail::writer_dead(view_); }, maybe_ready);
  // An event loop about to sleep on the writer's eventfd: arm, then look once more.
  if (out.status == Errc::timeout && notifier_ && detail::notifier_arm(*notifier_))
    if (auto r = probe()) out.status = *r;
  // An event loop's try_read after the notifier found the writer dead.
  if (out.status == Errc::timeout && notifier_ && detail::notifier_saw_dead(*notifier_) && detail::writer_dead(view_))
    out.status = Errc::peer_gone;
  if (out.status == Errc::closed && notifier_) detail::notifier_writer_closed(*notifier_);
  if (out.status != Errc::ok) out.data = {};
  return out;
}

bool QueueReader::refresh_tail() {
  // seq_cst: inside a blocking wait, the reader's half of the Dekker handshake (wait_loop).
  const std::uint64_t tail = view_.header->writer.published.load(std::memory_order_seq_cst);
  // The writer completes a slot, then announces it: a reader polling the slots may have taken
  // the newest frame already (never more than one: announcing it precedes the next frame).
  if (tail + 1 == head_) {
    tail_cache_ = head_;
    return false;
  }
  if (tail < head_ || tail - head_ > view_.slot_count)
    detail::throw_corrupt(view_, "the writer claims " + std::to_string(tail) + " frames published; the reader is at " +
                                     std::to_string(head_) + " of a " + std::to_string(view_.slot_count) + "-slot ring");
  tail_cache_ = tail;
  return tail != head_;
}

bool QueueReader::try_take(std::span<std::byte>* buffer, ReadResult& out) {
  std::byte* slot = view_.slot(head_);
  detail::SlotHeader& sh = slot_header(slot);
  // Relaxed: ordered after the acquire load (of `published` or of this version) that covered it.
  const std::uint64_t v = sh.version.load(std::memory_order_relaxed);
  if (v != 2 * head_ + 2)
    detail::throw_corrupt(view_, "slot of frame " + std::to_string(head_) + " has version " + std::to_string(v));
  const std::uint32_t size = sh.size.load(std::memory_order_relaxed);
  if (size > view_.max_frame)
    detail::throw_corrupt(view_, "frame " + std::to_string(head_) + " claims " + std::to_string(size) +
                                     " bytes; max_frame is " + std::to_string(view_.max_frame));
  const std::byte* payload = slot_payload(slot);
  // Only frames known complete (below `published`): never a line the writer is still filling.
  if (head_ + detail::kReadAheadFrames < tail_cache_)
    detail::prefetch_for_read(view_.slot(head_ + detail::kReadAheadFrames));
  std::uint32_t crc = 0;
  if (buffer != nullptr) {
    if (size > buffer->size())
      throw Error(Errc::too_small, "frame " + std::to_string(head_) + " of channel '" + view_.name + "' has " +
                                       std::to_string(size) + " bytes; the buffer holds " +
                                       std::to_string(buffer->size()) + " (size buffers to max_frame())");
    // The slot is ours until released: copy (and checksum in the same pass) without a seqlock.
    if (view_.checksum)
      crc = detail::crc32c_copy(buffer->data(), payload, size);
    else
      std::memcpy(buffer->data(), payload, size);
    payload = buffer->data();
  }
  const bool damaged = view_.checksum && (buffer != nullptr ? crc : detail::crc32c(0, payload, size)) !=
                                             sh.crc.load(std::memory_order_relaxed);
  if (damaged) {
    // Consume the damaged frame, so the caller can count the failure and read on.
    const std::uint64_t bad = head_;
    consume_one();
    detail::throw_corrupt(view_, "frame " + std::to_string(bad) + " fails its checksum (skipped)");
  }
  out.status = Errc::ok;
  out.frame = FrameInfo{head_, sh.timestamp_ns.load(std::memory_order_relaxed), size};
  out.lost = sh.gap_before.load(std::memory_order_relaxed);
  lost_total_ = detail::saturating_add(lost_total_, out.lost);
  out.data = std::span<const std::byte>(payload, size);
  if (buffer == nullptr) {
    peeking_ = true;  // the slot stays ours until finish()
  } else {
    consume_one();
  }
  return true;
}

bool QueueReader::finish() {
  if (!peeking_) return false;
  peeking_ = false;
  consume_one();
  return true;
}

void QueueReader::consume_one() noexcept {
  ++head_;
  // Relaxed peek at the writer's waiter count: if it waits for room, release now, not at the
  // batch boundary (release() re-checks with seq_cst).
  if (head_ - released_ >= batch_ ||
      view_.header->wait.space_waiters.load(std::memory_order_relaxed) != 0)
    release();
}

void QueueReader::release() noexcept {
  if (released_ == head_) return;
  released_ = head_;
  detail::WaitLine& wl = view_.header->wait;
  // seq_cst store then seq_cst load: mirror of the writer's publish (Dekker with the writer's
  // wait for room in wait_loop).
  view_.header->consumer.consumed.store(head_, std::memory_order_seq_cst);
  if (wl.space_waiters.load(std::memory_order_seq_cst) != 0) (void)detail::wake_if_armed(wl.space_word);
  if (ready_run_ >= kBehindRun) {
    const std::uint64_t t = view_.header->writer.published.load(std::memory_order_acquire);
    if (t > tail_cache_ && t - head_ <= view_.slot_count) tail_cache_ = t;
  }
}

PeerState QueueReader::writer_state(std::chrono::nanoseconds stall_threshold) const {
  return detail::writer_state(view_, stall_threshold);
}

std::uint64_t QueueReader::available() const noexcept {
  const std::uint64_t tail = view_.header->writer.published.load(std::memory_order_acquire);
  return tail > head_ ? tail - head_ : 0;
}

int QueueReader::notification_fd() {
  if (!view_.valid()) throw Error(Errc::invalid_argument, "notification_fd on a moved-from channel reader");
  if (!notifier_) notifier_ = detail::start_notifier(view_, head_, options_.wait.liveness_check);
  return detail::notifier_fd(*notifier_);
}

void QueueReader::clear_notification() noexcept {
  if (notifier_) detail::notifier_clear(*notifier_);
}

int QueueReader::writer_hangup_fd() const noexcept { return notifier_ ? detail::notifier_hangup_fd(*notifier_) : -1; }

bool QueueReader::notification_uses_thread() const noexcept {
  return notifier_ && detail::notifier_uses_thread(*notifier_);
}

}  // namespace shmkit
