// The shmkit header at offset 0 of every segment (internal). docs/architecture.md draws it.
// Written once by the creator before `state` turns ready; read (and validated) by every opener.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "shmkit/segment.hpp"

namespace shmkit::detail {

// "SHMKSEG1" read as a little-endian integer.
inline constexpr std::uint64_t kSegmentMagic = 0x31474553'4b4d4853ULL;
inline constexpr std::uint32_t kFormatVersion = 1;
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
  std::uint64_t total_size;               // 0x18  bytes of the whole segment
  std::uint64_t manager_offset;           // 0x20
  std::uint64_t manager_size;             // 0x28
  std::int32_t creator_pid;               // 0x30
  std::uint32_t creator_uid;              // 0x34
  std::uint64_t creator_start_time;       // 0x38  clock ticks after boot (Linux), 0 if unknown
  std::uint64_t created_unix_ns;          // 0x40
  std::atomic<std::uint64_t> object_epoch;  // 0x48  odd while a writer changes the named-object index
  LayoutFingerprint layout;               // 0x50
  char name[64];                          // 0x90  NUL-terminated, for tools
  BackendState backend_state;             // 0xD0 .. 0x130  the backend's own (file: sessions)
};
static_assert(sizeof(SegmentHeader) == 304);
static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(offsetof(SegmentHeader, layout) == 0x50 && offsetof(SegmentHeader, name) == 0x90);
static_assert(offsetof(SegmentHeader, backend_state) == 0xD0);

// This build's fingerprint.
LayoutFingerprint current_layout() noexcept;

// Writes every field but `state` (left initializing).
void write_header(SegmentHeader& h, std::string_view name, Backend backend, std::uint64_t total_size);

// Validates a mapping of `mapped_size` bytes that claims to be a ready shmkit segment. Throws
// Error(corrupt / incompatible_format / too_small) naming the segment and what differs.
void validate_header(const SegmentHeader& h, std::size_t mapped_size, std::string_view name);

// Only the magic (and an initializing state) is checked: for callers deciding whether to wait.
bool header_is_ready(const SegmentHeader& h) noexcept;

}  // namespace shmkit::detail
