// The shmkit header at offset 0 of every segment (internal). docs/architecture.md draws it.
// Written once by the creator before `state` turns ready; read (and validated) by every opener.
// docs/format.md is the normative description; the static_asserts below tie it to this code.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "shmkit/segment.hpp"

namespace shmkit::detail {

// "SHMKSEG1" read as a little-endian integer.
inline constexpr std::uint64_t kSegmentMagic = 0x31474553'4b4d4853ULL;
inline constexpr std::uint32_t kFormatVersion = 2;
// The segment manager starts one page in: room for the header to grow, page-aligned allocator.
inline constexpr std::uint64_t kManagerOffset = 4096;

enum SegmentState : std::uint32_t { kInitializing = 0, kReady = 1 };

// Sizes and alignments of what shmkit places in shared memory, and what decides their layout.
// Two builds may share a segment only if these match exactly.
struct LayoutFingerprint {
  std::uint32_t endian_marker;    // 0x01020304 as written by the creator
  std::uint8_t pointer_size;
  std::uint8_t size_t_size;
  std::uint8_t max_align;
  std::uint8_t reserved0;
  std::uint32_t boost_version;    // BOOST_VERSION, e.g. 107400
  std::uint32_t native_sync_kind; // 1: glibc robust pthread
  std::uint32_t sizeof_mutex;
  std::uint32_t sizeof_condition;
  std::uint32_t sizeof_shared_mutex;
  std::uint32_t sizeof_segment_manager;
  std::uint32_t sizeof_native_mutex;
  std::uint32_t alignof_segment_manager;
  std::uint32_t reserved[6];
};
static_assert(sizeof(LayoutFingerprint) == 64);

// Bytes a backend keeps in the header for its own bookkeeping, opaque to the core (the file
// backend's sessions: backends/file/file_state.hpp); zero on backends that keep none.
struct alignas(8) BackendState {
  unsigned char bytes[96];
};
static_assert(sizeof(BackendState) == 96);

struct SegmentHeader {
  std::uint64_t magic;                    // 0x00
  std::uint32_t header_size;              // 0x08  sizeof(SegmentHeader) when written
  std::uint32_t format_version;           // 0x0C
  std::atomic<std::uint32_t> state;       // 0x10  SegmentState; ready is stored last (release)
  std::uint32_t backend;                  // 0x14  shmkit::Backend
  // Bytes of the segment now. Raised by Segment::grow only after the backing object holds them;
  // every process maps max_size and touches nothing at or past total_size.
  std::atomic<std::uint64_t> total_size;  // 0x18  bytes of the whole segment now
  std::uint64_t manager_offset;           // 0x20
  std::atomic<std::uint64_t> manager_size;  // 0x28  total_size - manager_offset (a grow stores it after total_size)
  std::int32_t creator_pid;               // 0x30
  std::uint32_t creator_uid;              // 0x34
  std::uint64_t creator_start_time;       // 0x38  clock ticks after boot (Linux), 0 if unknown
  std::uint64_t created_unix_ns;          // 0x40
  std::atomic<std::uint64_t> object_epoch;  // 0x48  directory seqlock: odd while a writer changes it
  LayoutFingerprint layout;               // 0x50
  char name[64];                          // 0x90  NUL-terminated, for tools
  BackendState backend_state;             // 0xD0 .. 0x130  the backend's own (file: sessions)
  // ---- format 2 ----
  std::uint64_t max_size;                 // 0x130 bytes the segment may grow to (every process maps them); >= total_size
  std::uint64_t directory_offset;         // 0x138 bytes from the segment start to the object directory; 0: none
  std::uint32_t directory_capacity;       // 0x140 entries the directory has room for
  std::uint32_t directory_count;          // 0x144 entries in use, sorted by name
  std::int32_t directory_writer_pid;      // 0x148 the last process that changed the directory
  std::uint32_t reserved0;                // 0x14C
  std::uint64_t directory_writer_start_time;  // 0x150 its start time (as creator_start_time)
  // ---- growth (format 2, formerly reserved and zero) ----
  std::uint64_t growth_step;              // 0x158 bytes an allocation that does not fit grows the segment by; 0: never automatically
  // The process growing the segment: pid << 32 | low 32 bits of its start time; 0: nobody. A
  // dead owner's word is taken over (its grow left the object at most larger, never inconsistent).
  std::atomic<std::uint64_t> grow_owner;  // 0x160
  std::uint64_t reserved[3];              // 0x168 .. 0x180  zero
};
static_assert(sizeof(SegmentHeader) == 384);
static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(offsetof(SegmentHeader, layout) == 0x50 && offsetof(SegmentHeader, name) == 0x90);
static_assert(offsetof(SegmentHeader, backend_state) == 0xD0);
static_assert(offsetof(SegmentHeader, magic) == 0x00 && offsetof(SegmentHeader, header_size) == 0x08 &&
              offsetof(SegmentHeader, format_version) == 0x0C && offsetof(SegmentHeader, state) == 0x10 &&
              offsetof(SegmentHeader, backend) == 0x14 && offsetof(SegmentHeader, total_size) == 0x18 &&
              offsetof(SegmentHeader, manager_offset) == 0x20 && offsetof(SegmentHeader, manager_size) == 0x28 &&
              offsetof(SegmentHeader, creator_pid) == 0x30 && offsetof(SegmentHeader, creator_uid) == 0x34 &&
              offsetof(SegmentHeader, creator_start_time) == 0x38 && offsetof(SegmentHeader, created_unix_ns) == 0x40 &&
              offsetof(SegmentHeader, object_epoch) == 0x48);
static_assert(offsetof(SegmentHeader, max_size) == 0x130 && offsetof(SegmentHeader, directory_offset) == 0x138 &&
              offsetof(SegmentHeader, directory_capacity) == 0x140 && offsetof(SegmentHeader, directory_count) == 0x144 &&
              offsetof(SegmentHeader, directory_writer_pid) == 0x148 &&
              offsetof(SegmentHeader, directory_writer_start_time) == 0x150 &&
              offsetof(SegmentHeader, growth_step) == 0x158 && offsetof(SegmentHeader, grow_owner) == 0x160);
static_assert(offsetof(LayoutFingerprint, boost_version) == 8 && offsetof(LayoutFingerprint, native_sync_kind) == 12 &&
              offsetof(LayoutFingerprint, sizeof_mutex) == 16 && offsetof(LayoutFingerprint, alignof_segment_manager) == 36);

// This build's fingerprint.
LayoutFingerprint current_layout() noexcept;

// Writes every field but `state` (left initializing). max_size >= total_size.
void write_header(SegmentHeader& h, std::string_view name, Backend backend, std::uint64_t total_size,
                  std::uint64_t max_size, std::uint64_t growth_step = 0);

// Validates a mapping of `mapped_size` bytes, whose backing object has `backing_size` bytes,
// that claims to be a ready shmkit segment: total_size <= backing_size, total_size <=
// mapped_size <= max_size. Throws Error(corrupt / incompatible_format / too_small) naming the
// segment and what differs.
void validate_header(const SegmentHeader& h, std::size_t mapped_size, std::size_t backing_size, std::string_view name);

// The bytes to map for a segment whose object has `object_size` bytes and whose first bytes
// (at least sizeof(SegmentHeader), else object_size is returned) are `header`: the header's
// max_size when it is a plausible one (a ready shmkit header, max_size >= object_size and
// below 2^47), else object_size (validate_header then says what is wrong).
std::size_t size_to_map(const void* header, std::size_t header_bytes, std::size_t object_size) noexcept;

// The largest maximum size a segment may have: the address space a mapping reserves.
inline constexpr std::uint64_t kLargestMaxSize = std::uint64_t{1} << 46;

// Only the magic (and an initializing state) is checked: for callers deciding whether to wait.
bool header_is_ready(const SegmentHeader& h) noexcept;

}  // namespace shmkit::detail
