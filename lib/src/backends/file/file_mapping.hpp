// File backend's OS layer (internal): a shmkit segment in a regular, memory-mapped file that
// outlives every process and a reboot. One file per OS: file_mapping_posix.cpp, file_mapping_windows.cpp.
//
// Sessions: every process that has the file mapped holds a shared lock on it (an OFD lock on
// Linux, flock elsewhere). An opener that gets the lock exclusively is alone: it starts a new
// session and may inspect and repair what earlier processes left. A crash releases the lock
// with the process, so "alone" is always the truth, never a guess.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "mapping.hpp"
#include "shmkit/segment_directory.hpp"
#include "shmkit/detail/segment_manager.hpp"

namespace shmkit::detail {

// What this process's open found (per Segment object, not shared).
struct FileSessionReport {
  bool first_in_session = false;  // no other process had the file open
  bool clean = true;              // false: a process had it open and never closed it (killed, crashed, power loss)
  bool other_boot = false;        // last used on another boot
  bool stale_lock_poisoned = false;  // a segment manager lock was found held by a process now gone
};

// Paths: 1 to 4000 characters, no NUL (Error(invalid_argument)).
void validate_path(const std::string& path);

// Creates `path` (Error(already_exists) if present), sizes it to `size` and maps `max_size`
// (>= size; POSIX only, Windows: Error(unsupported) if larger), runs `format` on the private
// file, then links it into place: no opener ever sees a half-formatted file.
std::unique_ptr<Mapping> create_file_mapping(const std::string& path, std::size_t size, std::size_t max_size,
                                             unsigned permissions, const std::function<void(Mapping&)>& format);
// Opens and maps an existing file (up to its header's maximum size) and takes the session lock
// (waits until `deadline` for a process that is starting a session). Error(not_found),
// too_small (truncated), permission_denied.
std::unique_ptr<Mapping> open_file_mapping(const std::string& path, DeadlineNs deadline);
// A peek: opens and maps the file read-only, takes no part in the session (no lock, no count,
// the clean flag untouched), for tools that look without changing anything.
std::unique_ptr<Mapping> peek_file_mapping(const std::string& path);
// Called once the header is validated: starts this process's part of the session (the report
// says what the file's state was), counts it as attached, and lets later openers in.
const FileSessionReport& begin_file_session(Mapping& mapping, SegmentManager& manager);
// The header's half of begin_file_session, the same on every OS (file_session_start.cpp): a
// first process counts an unclean session, records this boot, repairs stale locks; every process
// counts itself attached.
void record_session_start(Mapping& mapping, SegmentManager& manager, FileSessionReport& report);
// This open's report; nullptr for mappings of other backends.
const FileSessionReport* file_session_report(const Mapping& mapping) noexcept;
// msync: synchronous (returns when the data is on disk) or scheduled. No-op for other backends.
void flush_mapping(Mapping& mapping, bool synchronous);
bool remove_file_segment(const std::string& path);

// The private files of creates in `directory` that never finished
// ("<path>.shmkit-new-<creator pid>-<creator start time>-<n>"), fully reserved on disk; stale
// when their creator is dead. Error(unsupported) where the OS layer cannot tell.
std::vector<SegmentListing> list_file_leftovers(const std::string& directory);
// Removes the leftover at `path` if its creator is dead; false (nothing touched) otherwise.
bool remove_file_leftover_if_stale(const std::string& path);

}  // namespace shmkit::detail
