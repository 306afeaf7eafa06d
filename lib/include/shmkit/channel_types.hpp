// The vocabulary shared by shmkit's channels (broadcast_channel.hpp, queue_channel.hpp): how a
// channel is sized, what a frame carries, what a read or publish returns, and what a reader can
// learn about its writer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "shmkit/error.hpp"
#include "shmkit/wait_strategy.hpp"

namespace shmkit {

enum class ChannelKind : std::uint32_t {
  broadcast = 1,  // one writer, any number of readers; lossy for readers that fall behind, unless lossless
  queue = 2,      // one writer, one reader; lossless, the writer waits when it is full
};
const char* to_string(ChannelKind k) noexcept;

enum class Checksum : std::uint32_t {
  none = 0,
  crc32c = 1,  // CRC-32C (Castagnoli) of the payload: the CPU's crc32 instruction where present
};
const char* to_string(Checksum c) noexcept;

// Geometry, fixed when the channel is created.
struct ChannelConfig {
  std::uint32_t slots = 1024;        // frames the ring holds: a power of two, 2 .. 2^24
  std::uint32_t max_frame = 1024;    // largest payload in bytes, 1 .. 2^30
  Checksum checksum = Checksum::none;
  std::uint32_t max_readers = 16;    // broadcast: registration records, for tools and lossless readers (0: none)
};

// Where a broadcast reader starts.
enum class StartAt : std::uint8_t {
  oldest = 0,  // the oldest frame still in the ring
  newest = 1,  // the most recent frame already published (if any), then what follows
  next = 2,    // only frames published after the reader opened
};

// How a broadcast reader receives frames.
enum class Delivery : std::uint8_t {
  lossy = 0,     // the writer never waits for it; frames it falls a ring behind on are lost
  lossless = 1,  // every frame, in order: the writer waits for it (docs/channels.md "Lossless broadcast")
};

// What a lossless broadcast reader does once the writer detached it (it held the writer back
// longer than the writer's bound, WriterOptions::detach_after).
enum class OnDetach : std::uint8_t {
  continue_lossy = 0,  // read on as a lossy reader: frames overwritten meanwhile count in `lost`
  fail = 1,            // reads throw Error(peer_gone) ("detached"); reopen the reader to rejoin
};

// Options and configs have a default for every member, so designated initializers may name any
// subset of them without -Wmissing-field-initializers warnings.
struct ReaderOptions {
  WaitStrategy wait = {};
  StartAt start = StartAt::oldest;  // broadcast only; a queue reader resumes where it stopped
  // Broadcast: claim a registration record (pid, cursor, frames lost) so that tools can list
  // this reader. Off: the reader writes nothing to the segment except while blocked in a wait.
  bool register_reader = true;
  // Broadcast: lossless takes a registration record (register_reader is implied).
  Delivery delivery = Delivery::lossy;
  OnDetach on_detach = OnDetach::continue_lossy;
};

struct WriterOptions {
  // How publish()/loan() wait for room: a queue's reader, a broadcast's lossless readers.
  WaitStrategy wait = {};
  // Broadcast: a lossless reader that keeps the ring full for longer than this in one wait is
  // detached (zero: never for slowness). A dead one is detached at the wait's next liveness
  // check (wait.liveness_check), whatever this says.
  std::chrono::nanoseconds detach_after = std::chrono::seconds(1);
};

struct FrameInfo {
  std::uint64_t sequence = 0;     // 0, 1, 2, ... in publish order
  // The writer's std::chrono::steady_clock at publish, or up to 0.5 us before it when frames
  // follow each other that closely (the writer then reuses a reading: docs/channels.md).
  std::int64_t timestamp_ns = 0;
  std::uint32_t size = 0;         // payload bytes
};

// The outcome of a read or peek.
//  status ok: a frame (frame, data).   timeout: none arrived within the wait (try_*: none now).
//  closed: the writer closed the channel and every frame was read.
//  peer_gone: the writer's process died and every frame it published was read.
// A corrupt channel is not a status: reads throw Error(corrupt).
struct ReadResult {
  Errc status = Errc::timeout;
  FrameInfo frame;
  // Copy-out: the payload in the caller's buffer. Peek: the payload in the slot, valid until
  // finish() (broadcast: only if finish() then returns true).
  std::span<const std::byte> data;
  // Broadcast: frames this reader lost (overwritten before it got to them) since its previous
  // result. Sum of `lost` over all results + frames received == frames published.
  // Both kinds, on a relayed channel: plus the frames lost upstream just before this frame
  // (the relaying writer's publish_after_gap), so the sum counts frames published upstream.
  std::uint64_t lost = 0;

  explicit operator bool() const noexcept { return status == Errc::ok; }
};

// The outcome of a queue publish: ok (with the frame's sequence), timeout (still full when the
// wait ended; try_publish: full now), or peer_gone (the reader's process died).
struct Published {
  Errc status = Errc::ok;
  std::uint64_t sequence = 0;

  explicit operator bool() const noexcept { return status == Errc::ok; }
};

// What one side of a channel can tell about the other.
enum class PeerState : std::uint8_t {
  none = 0,     // nobody attached
  alive = 1,    // attached, process running, heartbeat recent
  stalled = 2,  // process running, but no heartbeat for longer than the threshold asked for
  closed = 3,   // the writer closed the channel on purpose
  dead = 4,     // the process is gone (pid plus start time, so a reused pid does not fool it)
};
const char* to_string(PeerState s) noexcept;

// Counters of this process's writer handle (never shared).
struct WriterStats {
  std::uint64_t published = 0;   // frames this handle published
  std::uint64_t wake_calls = 0;  // system calls made to wake blocked readers
  std::uint64_t full_waits = 0;  // publishes that found the ring full and had to wait (queue
                                 // reader, or broadcast lossless readers)
  std::uint64_t detached = 0;    // broadcast: lossless readers this handle detached
};

// Counters of this process's reader handle (never shared): how often it went to the kernel.
struct ReaderStats {
  std::uint64_t sleeps = 0;        // blocking waits that slept on the futex word
  std::uint64_t heavy_fences = 0;  // membarrier calls made for a light-fenced writer before sleeping
};

// For tools: one registered broadcast reader.
struct ChannelReaderStatus {
  std::int32_t pid = 0;
  bool alive = false;
  std::uint64_t cursor = 0;     // next sequence it will read
  std::uint64_t lost = 0;
  std::uint64_t delivered = 0;
  Delivery delivery = Delivery::lossy;  // lossless while the writer waits for it
  bool detached = false;                // was lossless; the writer detached it (slow or dead)
};

// For tools: a channel as its shared header describes it.
struct ChannelStatus {
  std::string name;
  ChannelKind kind = ChannelKind::broadcast;
  ChannelConfig config;
  std::uint64_t published = 0;
  std::uint64_t consumed = 0;           // queue: frames the reader released
  std::uint64_t upstream_lost = 0;      // relayed channels: frames reported lost upstream
  std::int32_t writer_pid = 0;
  PeerState writer = PeerState::none;
  std::int64_t heartbeat_age_ns = 0;    // since the writer's last publish or heartbeat
  std::int32_t reader_pid = 0;          // queue
  PeerState reader = PeerState::none;   // queue (alive, dead or none)
  std::uint32_t blocked_readers = 0;    // readers inside a blocking wait for frames right now
  std::uint32_t fd_sleepers = 0;        // readers armed on the writer's eventfd (asleep in an event loop, or about to be)
  std::uint32_t blocked_writers = 0;    // queue: the writer inside a blocking wait for room
  std::vector<ChannelReaderStatus> readers;  // broadcast: registered readers
  std::uint64_t detached_dead = 0;      // broadcast: lossless readers detached because their process died
  std::uint64_t detached_slow = 0;      // broadcast: ... because they held the writer back too long
};

}  // namespace shmkit
