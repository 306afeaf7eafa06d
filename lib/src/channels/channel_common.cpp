// Channels as named objects: validation of the shared header, identity records, status, names.
#include <algorithm>
#include <bit>
#include <string>

#include "channel_internal.hpp"
#include "segment_access.hpp"
#include "process_identity.hpp"
#include "shmkit/channel.hpp"
#include "shmkit/segment.hpp"

namespace shmkit {

const char* to_string(ChannelKind k) noexcept {
  switch (k) {
    case ChannelKind::broadcast: return "broadcast";
    case ChannelKind::queue: return "queue";
  }
  return "unknown";
}

const char* to_string(Checksum c) noexcept {
  switch (c) {
    case Checksum::none: return "none";
    case Checksum::crc32c: return "crc32c";
  }
  return "unknown";
}

const char* to_string(PeerState s) noexcept {
  switch (s) {
    case PeerState::none: return "none";
    case PeerState::alive: return "alive";
    case PeerState::stalled: return "stalled";
    case PeerState::closed: return "closed";
    case PeerState::dead: return "dead";
  }
  return "unknown";
}

const char* to_string(WaitKind k) noexcept {
  switch (k) {
    case WaitKind::busy_poll: return "busy_poll";
    case WaitKind::spin_then_block: return "spin_then_block";
    case WaitKind::block: return "block";
  }
  return "unknown";
}

namespace detail {

void throw_corrupt(const ChannelView& view, const std::string& what) {
  throw Error(Errc::corrupt, "channel '" + view.name + "' is corrupt: " + what);
}

ChannelView validate_channel(void* object, std::size_t object_bytes, ChannelKind kind, const std::string& name,
                             bool writable) {
  ChannelView v;
  v.name = name;
  auto fail = [&](const std::string& what) { throw_corrupt(v, what); };
  if (object_bytes < sizeof(ChannelHeader)) fail("its object (" + std::to_string(object_bytes) + " bytes) is smaller than a channel header");
  auto* h = std::launder(reinterpret_cast<ChannelHeader*>(object));
  const ConfigLine& c = h->config;
  // Acquire: pairs with the creator's release store of `state`, published after everything else.
  if (c.state.load(std::memory_order_acquire) != kChannelReady)
    fail("its header was never finished (its creator died while building it) or was overwritten");
  if (c.magic != kChannelMagic) fail("bad magic number in its header");
  if (c.layout_version != kChannelLayoutVersion)
    throw Error(Errc::incompatible_format, "channel '" + name + "' has layout version " +
                                               std::to_string(c.layout_version) + "; this shmkit reads version " +
                                               std::to_string(kChannelLayoutVersion));
  if (c.kind != static_cast<std::uint32_t>(kind))
    fail("its header says kind " + std::to_string(c.kind) + ", its type says " + to_string(kind));
  if (c.slot_count < kMinSlots || c.slot_count > kMaxSlots || !std::has_single_bit(c.slot_count))
    fail("slot count " + std::to_string(c.slot_count) + " is not a power of two in [2, 2^24]");
  if (c.max_frame < 1 || c.max_frame > kMaxFrame) fail("max frame " + std::to_string(c.max_frame) + " is out of range");
  if (c.slot_stride != slot_stride_for(c.max_frame))
    fail("slot stride " + std::to_string(c.slot_stride) + " does not match max frame " + std::to_string(c.max_frame));
  if (c.checksum > static_cast<std::uint32_t>(Checksum::crc32c)) fail("unknown checksum " + std::to_string(c.checksum));
  const std::uint32_t max_records = kind == ChannelKind::broadcast ? kMaxReaderRecords : 0;
  if (c.reader_capacity > max_records) fail("reader capacity " + std::to_string(c.reader_capacity) + " is out of range");
  if (c.slots_offset != slots_offset_for(c.reader_capacity)) fail("slots offset " + std::to_string(c.slots_offset) + " is wrong");
  // Every factor is bounded above, so this cannot overflow.
  const std::uint64_t total = c.slots_offset + std::uint64_t{c.slot_count} * c.slot_stride;
  if (c.total_bytes != total || total > object_bytes)
    fail("it claims " + std::to_string(c.total_bytes) + " bytes; its geometry needs " + std::to_string(total) +
         " and its object has " + std::to_string(object_bytes));

  auto* base = static_cast<std::byte*>(object);
  v.header = h;
  v.slots = base + c.slots_offset;
  v.records = c.reader_capacity > 0 ? std::launder(reinterpret_cast<ReaderRecord*>(base + sizeof(ChannelHeader))) : nullptr;
  v.slot_count = c.slot_count;
  v.mask = c.slot_count - 1;
  v.stride = c.slot_stride;
  v.max_frame = c.max_frame;
  v.reader_capacity = c.reader_capacity;
  v.kind = kind;
  v.checksum = c.checksum == static_cast<std::uint32_t>(Checksum::crc32c);
  v.can_block = writable;
  return v;
}

ChannelView open_channel(Segment& segment, std::string_view name, ChannelKind kind) {
  std::pair<void*, std::size_t> found{nullptr, 0};
  if (kind == ChannelKind::broadcast) {
    auto [p, n] = segment.find_array<BroadcastStorage>(name);
    found = {p, n};
  } else {
    auto [p, n] = segment.find_array<QueueStorage>(name);
    found = {p, n};
  }
  if (found.first == nullptr)
    throw Error(Errc::not_found, "segment '" + segment.name() + "' has no channel named '" + std::string(name) + "'");
  ChannelView v = validate_channel(found.first, found.second * kCacheLine, kind, segment.name() + "/" + std::string(name),
                                   detail::SegmentAccess::writable(segment));
  v.channel = std::string(name);
  v.events = detail::SegmentAccess::channel_events(segment);
  return v;
}

bool claim_identity(std::atomic<std::int32_t>& pid, std::atomic<std::uint64_t>& start_time) {
  const ProcessIdentity me = current_process();
  for (;;) {
    std::int32_t holder = pid.load(std::memory_order_acquire);
    if (holder != 0 && process_alive(holder, start_time.load(std::memory_order_acquire))) return false;
    // Compare-exchange: of several processes replacing the same dead holder, exactly one wins.
    if (pid.compare_exchange_strong(holder, me.pid, std::memory_order_acq_rel)) {
      start_time.store(me.start_time, std::memory_order_release);
      return true;
    }
  }
}

PeerState identity_state(const std::atomic<std::int32_t>& pid, const std::atomic<std::uint64_t>& start_time) {
  const std::int32_t p = pid.load(std::memory_order_acquire);
  if (p == 0) return PeerState::none;
  return process_alive(p, start_time.load(std::memory_order_acquire)) ? PeerState::alive : PeerState::dead;
}

PeerState writer_state(const ChannelView& view, std::chrono::nanoseconds stall_threshold) {
  const WriterLine& w = view.header->writer;
  if (w.closed.load(std::memory_order_acquire) != 0) return PeerState::closed;
  const PeerState s = identity_state(w.pid, w.start_time);
  if (s != PeerState::alive) return s;
  const std::int64_t age = steady_now_ns() - w.heartbeat_ns.load(std::memory_order_relaxed);
  return age > stall_threshold.count() ? PeerState::stalled : PeerState::alive;
}

bool writer_dead(const ChannelView& view) {
  const WriterLine& w = view.header->writer;
  return w.closed.load(std::memory_order_acquire) == 0 && identity_state(w.pid, w.start_time) == PeerState::dead;
}

namespace {

// A channel of either kind, for the kind-agnostic calls below.
ChannelView open_any(Segment& segment, std::string_view name) {
  try {
    return open_channel(segment, name, ChannelKind::broadcast);
  } catch (const Error& e) {
    if (e.errc() != Errc::type_mismatch) throw;
  }
  try {
    return open_channel(segment, name, ChannelKind::queue);
  } catch (const Error& e) {
    if (e.errc() != Errc::type_mismatch) throw;
    throw Error(Errc::type_mismatch, "object '" + std::string(name) + "' in segment '" + segment.name() +
                                         "' is not a channel");
  }
}

}  // namespace
}  // namespace detail

ChannelStatus channel_status(Segment& segment, std::string_view name, std::chrono::nanoseconds stall_threshold) {
  const detail::ChannelView v = detail::open_any(segment, name);
  const detail::ChannelHeader& h = *v.header;
  ChannelStatus s;
  s.name = std::string(name);
  s.kind = v.kind;
  s.config.slots = v.slot_count;
  s.config.max_frame = v.max_frame;
  s.config.checksum = v.checksum ? Checksum::crc32c : Checksum::none;
  s.config.max_readers = v.reader_capacity;
  s.published = h.writer.published.load(std::memory_order_acquire);
  s.upstream_lost = h.writer.upstream_lost.load(std::memory_order_relaxed);
  s.writer_pid = h.writer.pid.load(std::memory_order_acquire);
  s.writer = detail::writer_state(v, stall_threshold);
  s.heartbeat_age_ns = detail::steady_now_ns() - h.writer.heartbeat_ns.load(std::memory_order_relaxed);
  s.blocked_readers = h.wait.data_waiters.load(std::memory_order_acquire);
  s.blocked_writers = h.wait.space_waiters.load(std::memory_order_acquire);
  if (v.kind == ChannelKind::queue) {
    s.consumed = h.consumer.consumed.load(std::memory_order_acquire);
    s.reader_pid = h.consumer.pid.load(std::memory_order_acquire);
    s.reader = detail::identity_state(h.consumer.pid, h.consumer.start_time);
  } else {
    s.detached_dead = h.consumer.detached_dead.load(std::memory_order_relaxed);
    s.detached_slow = h.consumer.detached_slow.load(std::memory_order_relaxed);
  }
  for (std::uint32_t i = 0; i < v.reader_capacity; ++i) {
    const detail::ReaderRecord& r = v.records[i];
    ChannelReaderStatus rs;
    rs.pid = r.pid.load(std::memory_order_acquire);
    if (rs.pid == 0) continue;
    rs.alive = detail::identity_state(r.pid, r.start_time) == PeerState::alive;
    rs.cursor = r.cursor.load(std::memory_order_relaxed);
    rs.lost = r.lost.load(std::memory_order_relaxed);
    rs.delivered = r.delivered.load(std::memory_order_relaxed);
    const std::uint32_t mode = r.mode.load(std::memory_order_relaxed);
    rs.delivery = mode == detail::kReaderLossless ? Delivery::lossless : Delivery::lossy;
    rs.detached = mode == detail::kReaderDetachedSlow || mode == detail::kReaderDetachedDead;
    s.readers.push_back(rs);
  }
  return s;
}

ChannelStatus channel_status(const SegmentView& view, std::string_view name, std::chrono::nanoseconds stall_threshold) {
  return channel_status(detail::SegmentAccess::segment(view), name, stall_threshold);
}

bool destroy_channel(Segment& segment, std::string_view name) {
  try {
    return segment.destroy<detail::BroadcastStorage>(name);
  } catch (const Error& e) {
    if (e.errc() != Errc::type_mismatch) throw;
  }
  return segment.destroy<detail::QueueStorage>(name);
}

}  // namespace shmkit
