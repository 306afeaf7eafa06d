// The shared-memory layout of a shmkit channel (internal; docs/channels.md draws it).
//
// A channel is one named object in a segment: an array of 64-byte lines (BroadcastStorage or
// QueueStorage, so that find() of the wrong kind is a type_mismatch). Inside it, by offset:
//
//   0x000  ConfigLine      geometry; written once by the creator, `state` stored last
//   0x040  WriterLine      written by the writer on every publish (published count, heartbeat)
//   0x080  ConsumerLine    written by the queue's reader when it releases slots
//   0x0C0  WaitLine        futex words and waiter counts (written only around blocking waits)
//   0x100  ReaderRecord[reader_capacity]   broadcast: optional registration, one line per reader
//   slots_offset           Slot[slot_count], slot_stride bytes each: SlotHeader, then the payload
//
// Every field is fixed-size; positions are offsets from the object's start, never pointers, so
// the object means the same at any mapping address. Fields another process writes are atomics
// (always lock-free, so they work between processes). A process never trusts the geometry it
// reads: it validates it once (channel_common.cpp) and keeps private copies for the hot paths.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace shmkit::detail {

inline constexpr std::size_t kCacheLine = 64;

// "SHMKCHN1", as the bytes appear in memory (little-endian integer).
inline constexpr std::uint64_t kChannelMagic = 0x314E48434B4D4853ULL;
// 2: the writer may use light fences (WriterLine::light_fences, WaitLine::full_fences); a reader
//    of layout 1 would not issue the heavy fence that makes them safe.
// 3: broadcast readers may be lossless (ReaderRecord::mode): a writer of layout 2 would overwrite
//    frames they have not read.
inline constexpr std::uint32_t kChannelLayoutVersion = 3;
inline constexpr std::uint32_t kChannelReady = 0x52454459;  // "YDER": stored last by the creator

// Limits a valid header stays within (checked on open; they also keep every product in range).
inline constexpr std::uint32_t kMinSlots = 2;
inline constexpr std::uint32_t kMaxSlots = 1U << 24;
inline constexpr std::uint32_t kMaxFrame = 1U << 30;
inline constexpr std::uint32_t kMaxReaderRecords = 4096;

struct ConfigLine {
  std::uint64_t magic;               // 0x00 kChannelMagic
  std::uint32_t layout_version;      // 0x08 kChannelLayoutVersion
  std::uint32_t kind;                // 0x0C shmkit::ChannelKind
  std::uint32_t slot_count;          // 0x10 a power of two in [kMinSlots, kMaxSlots]
  std::uint32_t slot_stride;         // 0x14 bytes per slot: slot_stride_for(max_frame)
  std::uint32_t max_frame;           // 0x18 payload bytes a slot holds, 1..kMaxFrame
  std::uint32_t checksum;            // 0x1C shmkit::Checksum
  std::uint32_t reader_capacity;     // 0x20 ReaderRecords (broadcast); 0 for a queue
  std::atomic<std::uint32_t> state;  // 0x24 kChannelReady, stored (release) after everything else
  std::uint64_t slots_offset;        // 0x28 slots_offset_for(reader_capacity)
  std::uint64_t total_bytes;         // 0x30 slots_offset + slot_count * slot_stride
  std::int64_t created_ns;           // 0x38 steady clock, for tools
};

// The writer's line. Readers poll `published` (or, faster, the slots themselves).
struct alignas(kCacheLine) WriterLine {
  std::atomic<std::uint64_t> published;     // 0x40 frames published = the next frame's sequence
  std::atomic<std::int64_t> heartbeat_ns;   // 0x48 steady ns of the last publish or heartbeat()
  std::atomic<std::int32_t> pid;            // 0x50 the attached writer, 0 when none
  std::atomic<std::uint32_t> closed;        // 0x54 1 once the writer closed the channel
  std::atomic<std::uint64_t> start_time;    // 0x58 the writer's process start time (pid reuse)
  std::atomic<std::uint64_t> attach_count;  // 0x60 writers that ever attached (tools)
  std::atomic<std::uint32_t> light_fences;  // 0x68 1 while the writer publishes with light fences
  std::uint32_t reserved0;                  // 0x6C
  std::atomic<std::uint64_t> upstream_lost; // 0x70 frames a relaying writer reported lost upstream
  std::uint64_t reserved1;                  // 0x78
};

// The queue reader's line. Broadcast channels use only its lossless words (0x98..0xAF): readers
// keep private cursors, and the writer reads this line on every publish but writes it only
// when it detaches a reader.
struct alignas(kCacheLine) ConsumerLine {
  std::atomic<std::uint64_t> consumed;      // 0x80 frames the reader released: slots free again
  std::atomic<std::int32_t> pid;            // 0x88 the attached reader, 0 when none
  std::uint32_t reserved0;                  // 0x8C
  std::atomic<std::uint64_t> start_time;    // 0x90 the reader's process start time
  std::atomic<std::uint32_t> lossless_epoch;  // 0x98 broadcast: bumped by every lossless registration
  std::uint32_t reserved1;                  // 0x9C
  std::atomic<std::uint64_t> detached_dead; // 0xA0 broadcast: lossless readers detached, process gone
  std::atomic<std::uint64_t> detached_slow; // 0xA8 broadcast: ... held the writer back too long
  std::uint64_t reserved[2];                // 0xB0
};

// Blocking waits. Readers wait on data_word, the queue writer on space_word. A waiter bumps its
// waiter count and sets the word's low bit ("armed") before its final check; the other side
// makes a wake call only when the count is non-zero and the word is armed, and disarms it (next
// even value) as it wakes. Publishing with nobody blocked makes no system call, and a burst of
// publishes wakes a sleeping reader once, not once per frame.
struct alignas(kCacheLine) WaitLine {
  std::atomic<std::uint32_t> data_word;      // 0xC0 futex word: generation << 1 | armed
  std::atomic<std::uint32_t> data_waiters;   // 0xC4 readers inside a blocking wait
  std::atomic<std::uint32_t> space_word;     // 0xC8 futex word for the queue writer, same scheme
  std::atomic<std::uint32_t> space_waiters;  // 0xCC queue writer inside a blocking wait
  std::atomic<std::uint32_t> fd_subscribers; // 0xD0 reserved: eventfd subscribers (follow-up)
  std::atomic<std::uint32_t> full_fences;    // 0xD4 kFencesAsWriterLikes / kFencesRequired / kFencesRequested
  std::uint64_t reserved[5];                 // 0xD8
};

// WaitLine::full_fences: what readers ask of the writer's publish fence (channel_wait.hpp).
inline constexpr std::uint32_t kFencesAsWriterLikes = 0;  // light fences where the writer can
inline constexpr std::uint32_t kFencesRequired = 1;       // a reader cannot issue the heavy fence: for good
inline constexpr std::uint32_t kFencesRequested = 2;      // readers keep going to sleep: the writer clears it
                                                          // after kLightAfterQuietFrames frames with no sleeper
inline constexpr std::uint32_t kLightAfterQuietFrames = 1024;

struct ChannelHeader {
  ConfigLine config;      // 0x000
  WriterLine writer;      // 0x040
  ConsumerLine consumer;  // 0x080
  WaitLine wait;          // 0x0C0
};

// A broadcast reader's optional registration, for tools ("who is behind"), and for a lossless
// reader the cursor the writer waits for. Written by the reader that claimed it (pid 0 -> its
// pid, by compare-exchange); the writer writes only `mode`, when it detaches the reader.
struct alignas(kCacheLine) ReaderRecord {
  std::atomic<std::int32_t> pid;          // +0x00 0 when free
  std::atomic<std::uint32_t> mode;        // +0x04 kReaderLossy, kReaderLossless, kReaderDetached*
  std::atomic<std::uint64_t> start_time;  // +0x08
  std::atomic<std::uint64_t> cursor;      // +0x10 the next sequence this reader will read
  std::atomic<std::uint64_t> lost;        // +0x18 frames overwritten before it read them
  std::atomic<std::uint64_t> delivered;   // +0x20 frames it received
  std::uint64_t reserved[3];              // +0x28
};

// ReaderRecord::mode. Lossless: the writer never overwrites frame `cursor` (release-stored by
// the reader after it finished with the frame before). Detached: the writer stopped waiting.
inline constexpr std::uint32_t kReaderLossy = 0;
inline constexpr std::uint32_t kReaderLossless = 1;
inline constexpr std::uint32_t kReaderDetachedSlow = 2;  // held the writer back longer than its bound
inline constexpr std::uint32_t kReaderDetachedDead = 3;  // its process was gone

// The start of every slot. `version` is the slot's seqlock: 2*seq+1 while the writer fills it
// with frame `seq`, 2*seq+2 once frame `seq` is complete. It only grows.
struct SlotHeader {
  std::atomic<std::uint64_t> version;       // +0x00
  std::atomic<std::int64_t> timestamp_ns;   // +0x08 writer's steady clock at publish
  std::atomic<std::uint32_t> size;          // +0x10 payload bytes
  std::atomic<std::uint32_t> crc;           // +0x14 CRC32C of the payload, when enabled
  std::atomic<std::uint64_t> gap_before;    // +0x18 frames lost upstream just before this one (relays)
};
inline constexpr std::uint32_t kSlotPayloadOffset = 32;  // payloads are 32-byte aligned

// The units a channel object is allocated in (distinct types per kind, see above).
struct alignas(kCacheLine) BroadcastStorage {
  unsigned char bytes[kCacheLine];
};
struct alignas(kCacheLine) QueueStorage {
  unsigned char bytes[kCacheLine];
};

constexpr std::uint64_t slot_stride_for(std::uint64_t max_frame) noexcept {
  return (kSlotPayloadOffset + max_frame + kCacheLine - 1) / kCacheLine * kCacheLine;
}
constexpr std::uint64_t slots_offset_for(std::uint64_t reader_capacity) noexcept {
  return sizeof(ChannelHeader) + reader_capacity * sizeof(ReaderRecord);
}

// ---- Layout checks: these offsets are the on-memory format (docs/channels.md) ----
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(std::atomic<std::int32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint32_t>) == 4 && sizeof(std::atomic<std::uint64_t>) == 8);
static_assert(std::is_standard_layout_v<ChannelHeader> && std::is_standard_layout_v<ReaderRecord> &&
              std::is_standard_layout_v<SlotHeader>);

static_assert(sizeof(ConfigLine) == 64);
static_assert(offsetof(ConfigLine, state) == 0x24 && offsetof(ConfigLine, slots_offset) == 0x28 &&
              offsetof(ConfigLine, created_ns) == 0x38);
static_assert(sizeof(WriterLine) == 64 && sizeof(ConsumerLine) == 64 && sizeof(WaitLine) == 64);
static_assert(sizeof(ChannelHeader) == 256 && alignof(ChannelHeader) == 64);
static_assert(offsetof(ChannelHeader, writer) == 0x40 && offsetof(ChannelHeader, consumer) == 0x80 &&
              offsetof(ChannelHeader, wait) == 0xC0);
static_assert(offsetof(WriterLine, published) == 0 && offsetof(WriterLine, heartbeat_ns) == 8 &&
              offsetof(WriterLine, pid) == 16 && offsetof(WriterLine, closed) == 20 &&
              offsetof(WriterLine, start_time) == 24 && offsetof(WriterLine, attach_count) == 32 &&
              offsetof(WriterLine, light_fences) == 40 && offsetof(WriterLine, upstream_lost) == 0x30);
static_assert(offsetof(ConsumerLine, consumed) == 0 && offsetof(ConsumerLine, pid) == 8 &&
              offsetof(ConsumerLine, start_time) == 16 && offsetof(ConsumerLine, lossless_epoch) == 0x18 &&
              offsetof(ConsumerLine, detached_dead) == 0x20 && offsetof(ConsumerLine, detached_slow) == 0x28);
static_assert(offsetof(WaitLine, data_word) == 0 && offsetof(WaitLine, data_waiters) == 4 &&
              offsetof(WaitLine, space_word) == 8 && offsetof(WaitLine, space_waiters) == 12 &&
              offsetof(WaitLine, fd_subscribers) == 16 && offsetof(WaitLine, full_fences) == 20);
static_assert(sizeof(ReaderRecord) == 64 && offsetof(ReaderRecord, mode) == 0x04 && offsetof(ReaderRecord, cursor) == 0x10 &&
              offsetof(ReaderRecord, lost) == 0x18 && offsetof(ReaderRecord, delivered) == 0x20);
static_assert(sizeof(SlotHeader) <= kSlotPayloadOffset && offsetof(SlotHeader, timestamp_ns) == 8 &&
              offsetof(SlotHeader, size) == 16 && offsetof(SlotHeader, crc) == 20 &&
              offsetof(SlotHeader, gap_before) == 24);
static_assert(sizeof(BroadcastStorage) == kCacheLine && alignof(BroadcastStorage) == kCacheLine);
static_assert(sizeof(QueueStorage) == kCacheLine && alignof(QueueStorage) == kCacheLine);
static_assert(slot_stride_for(1) == 64 && slot_stride_for(32) == 64 && slot_stride_for(64) == 128);
static_assert(slots_offset_for(0) == 256 && slots_offset_for(16) == 256 + 16 * 64);
// Largest geometry: the object's size still fits easily in 64 bits.
static_assert(slots_offset_for(kMaxReaderRecords) + std::uint64_t{kMaxSlots} * slot_stride_for(kMaxFrame) <
              (std::uint64_t{1} << 56));

}  // namespace shmkit::detail
