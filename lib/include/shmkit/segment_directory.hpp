// What shmkit segments exist on this host, who uses them, and which are stale.
//
// For tools (shmkit-inspect --list / --gc) and for applications that clean up after a crashed
// creator. A segment is *stale* when its creator is dead (pid plus process start time, so a
// reused pid is not mistaken for the creator) and no live process has it mapped; only stale
// segments are ever removed. Linux reads /dev/shm and /proc; elsewhere these throw
// Error(unsupported).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shmkit/segment.hpp"

namespace shmkit {

struct SegmentListing {
  std::string name;
  Backend backend = Backend::named;
  std::string location;       // /dev/shm/<name>, or the memfd segment's control socket
  std::uint64_t size = 0;     // bytes (named); 0 when unknown
  bool valid = false;         // a complete shmkit header was read (named) / a server answers (memfd)
  std::string problem;        // why not valid, for display
  std::int32_t creator_pid = 0;
  bool creator_alive = false;
  std::vector<std::int32_t> users;  // live processes that map it (only those /proc lets us read)
  // Creator dead and nobody maps it (named); nobody answers on the socket (memfd).
  bool stale = false;
};

// Named segments made by shmkit (files in /dev/shm that start with shmkit's magic, ready or
// half-made) and the control sockets in the default socket directory, sorted by name.
std::vector<SegmentListing> list_segments();

// What shmkit left in `directory` that belongs to no finished segment: the private files of file
// segment creates that never finished ("<path>.shmkit-new-<pid>-<start time>-<n>", each as large
// as its segment), with `name` and `location` their path. Stale when their creator is dead
// (pid and start time; the pid alone where the platform has no start times). Windows:
// Error(unsupported).
std::vector<SegmentListing> list_segments_in(const std::string& directory);

// Removes `name` if it is stale (see above); returns true if it did. A live creator or any
// process mapping it: false, nothing touched. Backend::file: `name` is a leftover's path from
// list_segments_in (a finished file segment is never stale).
bool remove_if_stale(std::string_view name, Backend backend = Backend::named);

}  // namespace shmkit
