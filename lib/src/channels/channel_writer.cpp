// The writer half of both channel kinds, and the public writer facades.
//
// Publish, per frame: [broadcast: version = 2s+1 (release), release fence] -> payload and fields
// -> version = 2s+2 (release) -> published = s+1 (seq_cst, or release plus a light fence) -> load
// data_waiters and data_word (seq_cst); a system call only if a reader is blocked and armed the
// word since the last wake.
// No lock, no allocation, and no system call while nobody is blocked.
// publish_batch: the same per frame, but one clock reading, one heartbeat and one waiter check
// for the whole batch.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <new>
#include <string>
#include <utility>

#include "channel_copy.hpp"
#include "channel_crc.hpp"
#include "frame_clock.hpp"
#include "asymmetric_fence.hpp"
#include "cache_demote.hpp"
#include "cache_prefetch.hpp"
#include "channel_internal.hpp"
#include "channel_events.hpp"
#include "segment_access.hpp"
#include "channel_wait.hpp"
#include "process_identity.hpp"
#include "shmkit/broadcast_channel.hpp"
#include "shmkit/queue_channel.hpp"
#include "shmkit/segment.hpp"

namespace shmkit {
namespace detail {

namespace {

void check_config(const ChannelConfig& c, ChannelKind kind) {
  if (c.slots < kMinSlots || c.slots > kMaxSlots || (c.slots & (c.slots - 1)) != 0)
    throw Error(Errc::invalid_argument, "channel slots must be a power of two from 2 to 2^24, not " + std::to_string(c.slots));
  if (c.max_frame < 1 || c.max_frame > kMaxFrame)
    throw Error(Errc::invalid_argument, "channel max_frame must be 1 to 2^30 bytes, not " + std::to_string(c.max_frame));
  if (c.checksum != Checksum::none && c.checksum != Checksum::crc32c)
    throw Error(Errc::invalid_argument, "unknown channel checksum");
  if (kind == ChannelKind::broadcast && c.max_readers > kMaxReaderRecords)
    throw Error(Errc::invalid_argument, "channel max_readers must be at most " + std::to_string(kMaxReaderRecords));
}

// Lays out a fresh (zeroed) channel object; `state` turns ready last.
void format_channel(void* object, const ChannelConfig& c, ChannelKind kind, std::uint32_t records) {
  auto* h = ::new (object) ChannelHeader{};
  ConfigLine& cfg = h->config;
  cfg.magic = kChannelMagic;
  cfg.layout_version = kChannelLayoutVersion;
  cfg.kind = static_cast<std::uint32_t>(kind);
  cfg.slot_count = c.slots;
  cfg.slot_stride = static_cast<std::uint32_t>(slot_stride_for(c.max_frame));
  cfg.max_frame = c.max_frame;
  cfg.checksum = static_cast<std::uint32_t>(c.checksum);
  cfg.reader_capacity = records;
  cfg.slots_offset = slots_offset_for(records);
  cfg.total_bytes = cfg.slots_offset + std::uint64_t{c.slots} * cfg.slot_stride;
  cfg.created_ns = steady_now_ns();
  auto* base = static_cast<std::byte*>(object);
  for (std::uint32_t i = 0; i < records; ++i) ::new (base + sizeof(ChannelHeader) + i * sizeof(ReaderRecord)) ReaderRecord{};
  for (std::uint32_t i = 0; i < c.slots; ++i) ::new (base + cfg.slots_offset + std::uint64_t{i} * cfg.slot_stride) SlotHeader{};
  // Release: whoever reads `state` as ready (validate_channel) sees everything above.
  cfg.state.store(kChannelReady, std::memory_order_release);
}

}  // namespace

WriterCore::WriterCore(Segment& segment, std::string_view name, ChannelKind kind, const ChannelConfig& config,
                       const WriterOptions& options)
    : options_(options) {
  check_config(config, kind);
  const std::uint32_t records = kind == ChannelKind::broadcast ? config.max_readers : 0;
  const std::uint64_t bytes = slots_offset_for(records) + std::uint64_t{config.slots} * slot_stride_for(config.max_frame);
  const std::size_t lines = static_cast<std::size_t>(bytes / kCacheLine);
  const std::string full_name = segment.name() + "/" + std::string(name);
  // Construct, format and attach under the segment manager's (recursive) lock: no other process
  // can find the channel before it is complete and has its writer.
  auto build = [&] {
    void* object = kind == ChannelKind::broadcast
                       ? static_cast<void*>(segment.construct_array<BroadcastStorage>(name, lines))
                       : static_cast<void*>(segment.construct_array<QueueStorage>(name, lines));
    format_channel(object, config, kind, records);
    view_ = validate_channel(object, lines * kCacheLine, kind, full_name, detail::SegmentAccess::writable(segment));
    view_.channel = std::string(name);
    view_.events = detail::SegmentAccess::channel_events(segment);
    attach();
  };
  segment.manager().atomic_func(build);
}

WriterCore::WriterCore(Segment& segment, std::string_view name, ChannelKind kind, const WriterOptions& options)
    : options_(options) {
  if (!detail::SegmentAccess::writable(segment))
    throw Error(Errc::permission_denied, "a channel writer needs a writable mapping of segment '" + segment.name() + "'");
  view_ = open_channel(segment, name, kind);
  attach();
}

// Stamps a writer's heartbeat while the application is idle. It writes the shared header's
// field directly, so the WriterCore that owns it may move.
class HeartbeatThread {
 public:
  HeartbeatThread(std::atomic<std::int64_t>* stamp, std::chrono::nanoseconds interval)
      : thread_([this, stamp, interval] { run(stamp, interval); }) {}
  ~HeartbeatThread() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  HeartbeatThread(const HeartbeatThread&) = delete;
  HeartbeatThread& operator=(const HeartbeatThread&) = delete;

 private:
  void run(std::atomic<std::int64_t>* stamp, std::chrono::nanoseconds interval) {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, interval, [&] { return stop_; }))
      stamp->store(steady_now_ns(), std::memory_order_relaxed);
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the members it uses exist
};

void WriterCore::keep_alive(std::chrono::nanoseconds interval) {
  if (interval <= std::chrono::nanoseconds::zero())
    throw Error(Errc::invalid_argument, "keep_alive: the heartbeat interval must be positive");
  if (!view_.valid()) throw Error(Errc::closed, "keep_alive on a writer that is not attached");
  keepalive_.reset();
  keepalive_ = std::make_unique<HeartbeatThread>(&view_.header->writer.heartbeat_ns, interval);
}

WriterCore::WriterCore(WriterCore&& other) noexcept
    : view_(std::move(other.view_)),
      options_(other.options_),
      next_(other.next_),
      consumed_cache_(other.consumed_cache_),
      loan_out_(other.loan_out_),
      closed_(other.closed_),
      light_(other.light_),
      may_light_(other.may_light_),
      quiet_frames_(other.quiet_frames_),
      pending_gap_(other.pending_gap_),
      limit_(other.limit_),
      epoch_seen_(other.epoch_seen_),
      scanned_(other.scanned_),
      clock_(other.clock_),
      stats_(other.stats_),
      keepalive_(std::move(other.keepalive_)),
      events_(std::move(other.events_)) {
  other.view_.header = nullptr;
}

WriterCore& WriterCore::operator=(WriterCore&& other) noexcept {
  if (this != &other) {
    detach();
    view_ = std::move(other.view_);
    options_ = other.options_;
    next_ = other.next_;
    consumed_cache_ = other.consumed_cache_;
    loan_out_ = other.loan_out_;
    closed_ = other.closed_;
    light_ = other.light_;
    may_light_ = other.may_light_;
    quiet_frames_ = other.quiet_frames_;
    pending_gap_ = other.pending_gap_;
    limit_ = other.limit_;
    epoch_seen_ = other.epoch_seen_;
    scanned_ = other.scanned_;
    clock_ = other.clock_;
    stats_ = other.stats_;
    keepalive_ = std::move(other.keepalive_);
    events_ = std::move(other.events_);
    other.view_.header = nullptr;
  }
  return *this;
}

WriterCore::~WriterCore() { detach(); }

void WriterCore::attach() {
  WriterLine& w = view_.header->writer;
  if (!claim_identity(w.pid, w.start_time))
    throw Error(Errc::busy, "channel '" + view_.name + "' already has a live writer (pid " +
                                std::to_string(w.pid.load(std::memory_order_relaxed)) + ")");
  std::uint64_t next = w.published.load(std::memory_order_acquire);
  // A writer that died between completing a frame and announcing it left that frame whole:
  // announce it rather than overwrite a frame some reader may already have taken.
  if (slot_header(view_.slot(next)).version.load(std::memory_order_acquire) == 2 * next + 2) {
    ++next;
    w.published.store(next, std::memory_order_seq_cst);
  }
  if (view_.kind == ChannelKind::queue) {
    const std::uint64_t consumed = view_.header->consumer.consumed.load(std::memory_order_acquire);
    if (consumed > next || next - consumed > view_.slot_count) {
      w.pid.store(0, std::memory_order_release);
      throw_corrupt(view_, "the reader released " + std::to_string(consumed) + " of " + std::to_string(next) + " frames");
    }
    consumed_cache_ = consumed;
  }
  next_ = next;
  closed_ = false;
  scanned_ = false;  // look at the lossless readers before the first frame
  // Light fences unless readers asked for full ones (if they only requested them, the writer
  // goes back to light once they stop sleeping). Announced before the first frame: a reader
  // that cannot issue the heavy fence sleeps in short slices while this reads 1.
  may_light_ = enable_light_fences();
  light_ = may_light_ && view_.header->wait.full_fences.load(std::memory_order_seq_cst) == kFencesAsWriterLikes;
  quiet_frames_ = 0;
  w.light_fences.store(light_ ? 1 : 0, std::memory_order_seq_cst);
  w.heartbeat_ns.store(steady_now_ns(), std::memory_order_relaxed);
  w.attach_count.fetch_add(1, std::memory_order_relaxed);
  // seq_cst: a reader that saw `closed` from a previous writer and blocks is woken below anyway.
  w.closed.store(0, std::memory_order_seq_cst);
  // Where this process serves the segment, readers may now ask for eventfds; without, they fall
  // back to a notification thread, so a failure here only costs them that.
  try {
    if (view_.events != nullptr) events_ = view_.events->serve_channel(view_.channel);
  } catch (const std::exception&) {
    events_.reset();
  }
}

void WriterCore::detach() noexcept {
  keepalive_.reset();  // before the header goes: the thread writes into it
  if (!view_.valid()) return;
  close();
  events_.reset();
  view_.header->writer.pid.store(0, std::memory_order_release);
  view_.header = nullptr;
}

void WriterCore::heartbeat() noexcept {
  if (view_.valid()) view_.header->writer.heartbeat_ns.store(steady_now_ns(), std::memory_order_relaxed);
}

void WriterCore::close() noexcept {
  if (!view_.valid() || closed_) return;
  closed_ = true;
  WaitLine& wl = view_.header->wait;
  // After the last `published` store: a reader that sees closed also sees every frame.
  view_.header->writer.closed.store(1, std::memory_order_seq_cst);
  // Closing is rare: wake unconditionally.
  bump_and_wake(wl.data_word);
  wl.fd_subscribers.store(0, std::memory_order_seq_cst);
  if (events_) stats_.wake_calls += events_->signal(~std::uint32_t{0});
}

PeerState WriterCore::reader_state() const {
  if (!view_.valid() || view_.kind != ChannelKind::queue) return PeerState::none;
  return identity_state(view_.header->consumer.pid, view_.header->consumer.start_time);
}

Errc WriterCore::await_room(std::chrono::nanoseconds timeout, std::uint64_t frames) {
  if (next_ + frames - consumed_cache_ <= view_.slot_count) return Errc::ok;
  ConsumerLine& c = view_.header->consumer;
  auto refresh = [&]() -> std::optional<Errc> {
    // seq_cst: inside a blocking wait this is the writer's half of the Dekker handshake with
    // the reader's seq_cst `consumed` store + space_waiters load.
    const std::uint64_t consumed = c.consumed.load(std::memory_order_seq_cst);
    if (consumed > next_ || next_ - consumed > view_.slot_count)
      throw_corrupt(view_, "the reader claims to have released " + std::to_string(consumed) + " of " +
                               std::to_string(next_) + " frames");
    consumed_cache_ = consumed;
    if (next_ + frames - consumed <= view_.slot_count) return Errc::ok;
    return std::nullopt;
  };
  if (refresh()) return Errc::ok;
  ++stats_.full_waits;
  if (timeout.count() <= 0) return Errc::timeout;  // fail fast
  return wait_loop(options_.wait, timeout, WaitPoint{&view_.header->wait.space_word, &view_.header->wait.space_waiters},
                   view_.can_block, refresh,
                   [&] { return identity_state(c.pid, c.start_time) == PeerState::dead; });
}

[[gnu::always_inline]] inline void WriterCore::await_lossless(std::uint64_t frames) {
  // seq_cst: the writer's half of a registering reader's handshake. The reader bumps the epoch,
  // then reads `published` (both sc): either this load sees the new epoch, or the reader sees
  // every frame announced so far and starts no earlier than this frame's overwrite allows.
  const std::uint32_t epoch = view_.header->consumer.lossless_epoch.load(std::memory_order_seq_cst);
  if (epoch == epoch_seen_ && scanned_ && next_ + frames <= limit_) return;
  wait_for_lossless(frames);
}

void WriterCore::scan_lossless() {
  scanned_ = true;
  epoch_seen_ = view_.header->consumer.lossless_epoch.load(std::memory_order_seq_cst);
  std::uint64_t floor = ~std::uint64_t{0};
  for (std::uint32_t i = 0; i < view_.reader_capacity; ++i) {
    ReaderRecord& r = view_.records[i];
    if (r.mode.load(std::memory_order_seq_cst) != kReaderLossless) continue;
    // Acquire (sc: inside a wait, the writer's half of the handshake with a reader's sc fence
    // after its cursor store): pairs with the reader's release store, made after it finished
    // with the frames before its cursor. A cursor past the frames published is damage.
    floor = std::min(floor, std::min(r.cursor.load(std::memory_order_seq_cst), next_));
  }
  limit_ = floor == ~std::uint64_t{0} ? ~std::uint64_t{0} : floor + view_.slot_count;
}

void WriterCore::detach_blockers(std::uint64_t frames, std::int64_t waited_ns) {
  const bool slow = options_.detach_after.count() > 0 && waited_ns >= options_.detach_after.count();
  for (std::uint32_t i = 0; i < view_.reader_capacity; ++i) {
    ReaderRecord& r = view_.records[i];
    if (r.mode.load(std::memory_order_seq_cst) != kReaderLossless) continue;
    const std::uint64_t cursor = std::min(r.cursor.load(std::memory_order_acquire), next_);
    if (next_ + frames <= cursor + view_.slot_count) continue;  // not the one holding us back
    const bool gone = identity_state(r.pid, r.start_time) != PeerState::alive;
    if (!gone && !slow) continue;
    std::uint32_t expected = kReaderLossless;
    // Compare-exchange: the reader may be leaving (or rejoining as someone else) right now.
    if (!r.mode.compare_exchange_strong(expected, gone ? kReaderDetachedDead : kReaderDetachedSlow,
                                        std::memory_order_seq_cst))
      continue;
    (gone ? view_.header->consumer.detached_dead : view_.header->consumer.detached_slow)
        .fetch_add(1, std::memory_order_relaxed);
    ++stats_.detached;
  }
}

void WriterCore::wait_for_lossless(std::uint64_t frames) {
  scan_lossless();
  if (next_ + frames <= limit_) return;
  ++stats_.full_waits;
  WaitLine& wl = view_.header->wait;
  const std::int64_t start = steady_now_ns();
  // Lossless readers wake the writer through the queue writer's word (unused by broadcast).
  (void)wait_loop(
      options_.wait, std::chrono::nanoseconds::max(), WaitPoint{&wl.space_word, &wl.space_waiters}, view_.can_block,
      [&]() -> std::optional<Errc> {
        scan_lossless();
        if (next_ + frames <= limit_) return Errc::ok;
        return std::nullopt;
      },
      [&] {
        // Every liveness check: detach the readers that hold us back and died, or took too long.
        // Never "peer dead": the next probe goes on without them.
        detach_blockers(frames, steady_now_ns() - start);
        return false;
      });
}

std::byte* WriterCore::begin_frame() noexcept {
  std::byte* slot = view_.slot(next_);
  // The slot's lines for writing before the first store: their fetches overlap rather than wait
  // in turn behind the store buffer's head.
  prefetch_for_write(slot);
  if (view_.kind == ChannelKind::broadcast) {
    // Odd version first: a reader copying the frame this slot held will see it change. Release
    // (free on x86) so that a reader that sees the odd version also sees `published` >= next_.
    slot_header(slot).version.store(2 * next_ + 1, std::memory_order_release);
    seqlock_write_fence();
  }
  return slot;
}

[[gnu::always_inline]] inline void WriterCore::complete_frame(std::byte* slot, std::uint32_t size, std::uint32_t crc,
                                                             std::int64_t now, bool demote) noexcept {
  SlotHeader& sh = slot_header(slot);
  sh.timestamp_ns.store(now, kFieldStore);
  sh.size.store(size, kFieldStore);
  sh.crc.store(crc, kFieldStore);
  if (pending_gap_ != 0) {
    // Before the version: a writer that dies after it leaves the header's total consistent
    // with the frames it announced (an importer resumes from published + upstream_lost).
    std::atomic<std::uint64_t>& total = view_.header->writer.upstream_lost;
    total.store(saturating_add(total.load(std::memory_order_relaxed), pending_gap_), std::memory_order_relaxed);
  }
  // Every frame stamps it: a slot reused from the previous lap must not repeat an old gap.
  sh.gap_before.store(std::exchange(pending_gap_, 0), kFieldStore);
  // Release: a reader that sees the even version sees the whole frame.
  sh.version.store(2 * next_ + 2, std::memory_order_release);
  if (demote) demote_to_shared_cache(slot, kSlotPayloadOffset + size);
  ++next_;
  ++stats_.published;
}

[[gnu::always_inline]] inline void WriterCore::announce(std::int64_t now) noexcept {
  WriterLine& w = view_.header->writer;
  w.heartbeat_ns.store(now, std::memory_order_relaxed);
  // Store `published`, then load the waiter count: the writer's half of the Dekker handshake in
  // wait_loop (a blocked reader is either seen here or sees this frame). The store needs a full
  // fence after it; with light fences a sleeping reader's heavy_fence() provides it instead, so
  // the writer does not stall on every frame until its stores leave the store buffer.
  WaitLine& wl = view_.header->wait;
  if (light_ && wl.full_fences.load(std::memory_order_relaxed) == kFencesAsWriterLikes) {
    w.published.store(next_, std::memory_order_release);
    light_fence();
  } else {
    if (light_) {
      // Readers asked for full fences: from this frame on. Announced before this frame, so a
      // reader that sees 0 here also sees every frame published with light fences.
      light_ = false;
      quiet_frames_ = 0;
      w.light_fences.store(0, std::memory_order_seq_cst);
    }
    w.published.store(next_, std::memory_order_seq_cst);
  }
  const bool sleeper = wl.data_waiters.load(std::memory_order_seq_cst) != 0;
  if (sleeper && wake_if_armed(wl.data_word)) ++stats_.wake_calls;
  // Readers asleep in their event loops on our eventfds: the same handshake, one bit each.
  const bool fd_sleeper = wl.fd_subscribers.load(std::memory_order_seq_cst) != 0;
  if (fd_sleeper) wake_fd_subscribers();
  if (!light_ && may_light_) return_to_light_fences(sleeper || fd_sleeper);
}

// Disarms every armed subscriber (each re-arms before it sleeps again) and writes their eventfds.
void WriterCore::wake_fd_subscribers() noexcept {
  const std::uint32_t armed = view_.header->wait.fd_subscribers.exchange(0, std::memory_order_seq_cst);
  if (armed != 0 && events_) stats_.wake_calls += events_->signal(armed);
}

void WriterCore::end_frame(std::byte* slot, std::uint32_t size, std::uint32_t crc, std::int64_t now) noexcept {
  complete_frame(slot, size, crc, now, true);
  announce(now);
  // The slot kPrefetchFrames ahead, for writing: its lines were last read a lap ago, and a
  // writer that streams frames would otherwise wait for each in turn (the fetches now overlap).
  // Here, after the frame is announced, not before it: a reader waiting for this frame (a
  // ping-pong) does not see it later for the extra traffic.
  if (view_.slot_count >= 4 * kPrefetchFrames) prefetch_for_write(view_.slot(next_ + kPrefetchFrames - 1));
}

// On full fences because readers kept going to sleep: once none has been asleep at a publish
// for kLightAfterQuietFrames announcements (they keep up by polling; a batch counts once),
// clear their request and go back.
void WriterCore::return_to_light_fences(bool sleeper) noexcept {
  if (sleeper) {
    quiet_frames_ = 0;
    return;
  }
  if (++quiet_frames_ < kLightAfterQuietFrames) return;
  quiet_frames_ = 0;
  std::atomic<std::uint32_t>& request = view_.header->wait.full_fences;
  std::uint32_t seen = request.load(std::memory_order_relaxed);
  if (seen == kFencesRequired) return;  // a reader cannot issue the heavy fence: never
  if (seen == kFencesRequested && !request.compare_exchange_strong(seen, kFencesAsWriterLikes, std::memory_order_seq_cst))
    return;
  // sc, before the next light publish: a sleeper that still sees 0 counted itself before this
  // store, so the count load after the next light store sees it (channel_wait.hpp).
  view_.header->writer.light_fences.store(1, std::memory_order_seq_cst);
  light_ = true;
}

namespace {

// Copies a frame into its slot and returns its CRC-32C (0 without a checksum): with one, copy
// and CRC in one pass, over the caller's bytes (which nobody else changes).
[[gnu::always_inline]] inline std::uint32_t fill_slot(std::byte* slot, std::span<const std::byte> data,
                                                         bool checksum) noexcept {
  if (checksum) return copy_to_slot_crc(slot_payload(slot), data.data(), data.size());
  copy_to_slot(slot_payload(slot), data.data(), data.size());
  return 0;
}

}  // namespace

[[gnu::always_inline]] inline void WriterCore::check_can_publish(std::span<const std::byte> frame) const {
  if (!view_.valid()) throw Error(Errc::invalid_argument, "publish on a moved-from channel writer");
  if (frame.size() > view_.max_frame)
    throw Error(Errc::invalid_argument, "frame of " + std::to_string(frame.size()) + " bytes exceeds channel '" +
                                            view_.name + "' max_frame of " + std::to_string(view_.max_frame));
  if (loan_out_) throw Error(Errc::invalid_argument, "channel '" + view_.name + "': publish while a loan is out");
  if (closed_) throw Error(Errc::closed, "channel '" + view_.name + "' was closed by this writer");
}

Published WriterCore::publish(std::span<const std::byte> data, std::chrono::nanoseconds timeout) {
  check_can_publish(data);
  if (view_.kind == ChannelKind::queue) {
    const Errc e = await_room(timeout);
    if (e != Errc::ok) return {e, next_};
  } else {
    await_lossless(1);
  }
  std::byte* slot = begin_frame();
  const std::uint32_t crc = fill_slot(slot, data, view_.checksum);
  const std::uint64_t seq = next_;
  end_frame(slot, static_cast<std::uint32_t>(data.size()), crc, clock_.now());
  return {Errc::ok, seq};
}

Published WriterCore::publish_after_gap(std::span<const std::byte> data, std::uint64_t gap,
                                        std::chrono::nanoseconds timeout) {
  pending_gap_ = gap;
  Published p;
  try {
    p = publish(data, timeout);
  } catch (...) {
    pending_gap_ = 0;
    throw;
  }
  pending_gap_ = 0;  // not published (timeout, peer_gone): the caller retries with the same gap
  return p;
}

std::uint64_t WriterCore::upstream_lost() const noexcept {
  return view_.valid() ? view_.header->writer.upstream_lost.load(std::memory_order_relaxed) : 0;
}

Published WriterCore::publish_batch(std::span<const std::span<const std::byte>> frames,
                                     std::chrono::nanoseconds timeout) {
  check_can_publish({});
  if (frames.size() > view_.slot_count)
    throw Error(Errc::invalid_argument, "a batch of " + std::to_string(frames.size()) + " frames exceeds channel '" +
                                            view_.name + "''s " + std::to_string(view_.slot_count) + " slots");
  for (const auto& f : frames) check_can_publish(f);  // all checked before any is written
  const std::uint64_t first = next_;
  if (frames.empty()) return {Errc::ok, first};
  if (view_.kind == ChannelKind::queue) {
    const Errc e = await_room(timeout, frames.size());
    if (e != Errc::ok) return {e, first};
  } else {
    await_lossless(frames.size());
  }
  // One clock reading and one announcement for the batch.
  const std::int64_t now = clock_.now();
  const bool prefetch = view_.slot_count >= 4 * kPrefetchFrames;
  for (const auto& f : frames) {
    // The slot kPrefetchFrames ahead, for writing (end_frame() says why).
    if (prefetch) prefetch_for_write(view_.slot(next_ + kPrefetchFrames));
    std::byte* slot = begin_frame();
    const std::uint32_t crc = fill_slot(slot, f, view_.checksum);
    // Only the first frame's lines are demoted: the one a reader that has caught up waits for.
    complete_frame(slot, static_cast<std::uint32_t>(f.size()), crc, now, next_ == first);
    // Announced frame by frame (release, no fence: the waiter check follows once, in announce):
    // a reader polling the slots is then never more than one frame ahead of `published`.
    view_.header->writer.published.store(next_, std::memory_order_release);
  }
  announce(now);
  return {Errc::ok, first};
}

FrameLoan WriterCore::loan(std::chrono::nanoseconds timeout) {
  if (!view_.valid()) throw Error(Errc::invalid_argument, "loan on a moved-from channel writer");
  if (loan_out_) throw Error(Errc::invalid_argument, "channel '" + view_.name + "': one loan at a time");
  if (closed_) throw Error(Errc::closed, "channel '" + view_.name + "' was closed by this writer");
  FrameLoan l;
  if (view_.kind == ChannelKind::queue) {
    const Errc e = await_room(timeout);
    if (e != Errc::ok) {
      l.status_ = e;
      return l;
    }
  } else {
    await_lossless(1);
  }
  std::byte* slot = begin_frame();
  l.core_ = this;
  l.data_ = slot_payload(slot);
  l.capacity_ = view_.max_frame;
  l.sequence_ = next_;
  loan_out_ = true;
  return l;
}

std::uint64_t WriterCore::commit(FrameLoan& l, std::size_t size) {
  if (size > l.capacity_)
    throw Error(Errc::invalid_argument, "loaned frame of " + std::to_string(size) + " bytes exceeds channel '" +
                                            view_.name + "' max_frame of " + std::to_string(view_.max_frame));
  std::byte* slot = view_.slot(next_);
  // The writer's own bytes; readers only read them.
  const std::uint32_t crc = view_.checksum ? crc32c(0, slot_payload(slot), size) : 0;
  const std::uint64_t seq = next_;
  end_frame(slot, static_cast<std::uint32_t>(size), crc, clock_.now());
  loan_out_ = false;
  l.core_ = nullptr;
  return seq;
}

void WriterCore::abandon(FrameLoan& l) noexcept {
  // Nothing was announced. Broadcast: the slot keeps its odd version until the next frame
  // (same sequence) overwrites it; readers treat its old frame as lost, as they would anyway.
  loan_out_ = false;
  l.core_ = nullptr;
}

}  // namespace detail

// ---- FrameLoan ----

FrameLoan::FrameLoan(FrameLoan&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)),
      data_(other.data_),
      capacity_(other.capacity_),
      sequence_(other.sequence_),
      status_(other.status_) {}

FrameLoan& FrameLoan::operator=(FrameLoan&& other) noexcept {
  if (this != &other) {
    if (core_ != nullptr) core_->abandon(*this);
    core_ = std::exchange(other.core_, nullptr);
    data_ = other.data_;
    capacity_ = other.capacity_;
    sequence_ = other.sequence_;
    status_ = other.status_;
  }
  return *this;
}

FrameLoan::~FrameLoan() {
  if (core_ != nullptr) core_->abandon(*this);
}

std::uint64_t FrameLoan::publish(std::size_t size) {
  if (core_ == nullptr) throw Error(Errc::invalid_argument, "publish of an empty frame loan");
  return core_->commit(*this, size);
}

// ---- Facades ----

BroadcastWriter BroadcastWriter::create(Segment& segment, std::string_view name, const ChannelConfig& config,
                                        const WriterOptions& options) {
  return BroadcastWriter(detail::WriterCore(segment, name, ChannelKind::broadcast, config, options));
}

BroadcastWriter BroadcastWriter::attach(Segment& segment, std::string_view name, const WriterOptions& options) {
  return BroadcastWriter(detail::WriterCore(segment, name, ChannelKind::broadcast, options));
}

std::uint64_t BroadcastWriter::publish(std::span<const std::byte> data) {
  return core_.publish(data, std::chrono::nanoseconds::zero()).sequence;
}

std::uint64_t BroadcastWriter::publish_batch(std::span<const std::span<const std::byte>> frames) {
  return core_.publish_batch(frames, std::chrono::nanoseconds::zero()).sequence;
}

FrameLoan BroadcastWriter::loan() { return core_.loan(std::chrono::nanoseconds::zero()); }

QueueWriter QueueWriter::create(Segment& segment, std::string_view name, const ChannelConfig& config,
                                const WriterOptions& options) {
  return QueueWriter(detail::WriterCore(segment, name, ChannelKind::queue, config, options));
}

QueueWriter QueueWriter::attach(Segment& segment, std::string_view name, const WriterOptions& options) {
  return QueueWriter(detail::WriterCore(segment, name, ChannelKind::queue, options));
}

Published QueueWriter::publish(std::span<const std::byte> data, std::chrono::nanoseconds timeout) {
  return core_.publish(data, timeout);
}

Published QueueWriter::try_publish(std::span<const std::byte> data) {
  return core_.publish(data, std::chrono::nanoseconds::zero());
}

Published QueueWriter::publish_batch(std::span<const std::span<const std::byte>> frames,
                                     std::chrono::nanoseconds timeout) {
  return core_.publish_batch(frames, timeout);
}

FrameLoan QueueWriter::loan(std::chrono::nanoseconds timeout) { return core_.loan(timeout); }

FrameLoan QueueWriter::try_loan() { return core_.loan(std::chrono::nanoseconds::zero()); }

}  // namespace shmkit
