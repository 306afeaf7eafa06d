// The file backend's session bookkeeping (internal), kept in the header's backend_state bytes
// (zero on other backends). A "session" starts when a process opens the file while no other
// process has it. docs/persistence.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <new>

#include "segment_header.hpp"

namespace shmkit::detail {

struct FileState {
  std::atomic<std::uint32_t> writers;         // +0   attached processes; close() decrements, a kill does not
  std::uint32_t reserved0;                    // +4
  std::atomic<std::uint64_t> sessions;        // +8   sessions begun so far
  std::uint64_t unclean_sessions;             // +16  sessions that found writers != 0 (a process never closed)
  std::uint64_t last_clean_close_unix_ns;     // +24  when writers last went to 0 by an orderly close
  std::uint8_t boot_id[16];                   // +32  boot of the latest session (Linux boot_id; 0 unknown)
  std::uint8_t reserved[48];                  // +48
};
static_assert(sizeof(FileState) == sizeof(BackendState) && alignof(FileState) <= alignof(BackendState));
static_assert(std::is_standard_layout_v<FileState>);
static_assert(offsetof(FileState, boot_id) == 32);

// The header's backend_state bytes hold a FileState (zero-initialized by write_header).
inline FileState& file_state(SegmentHeader& h) noexcept {
  return *std::launder(reinterpret_cast<FileState*>(h.backend_state.bytes));
}
inline const FileState& file_state(const SegmentHeader& h) noexcept {
  return *std::launder(reinterpret_cast<const FileState*>(h.backend_state.bytes));
}

}  // namespace shmkit::detail
