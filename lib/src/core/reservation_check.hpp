// Checking a reservation against what the kernel will really give, before making it: an
// oversized memfd or /dev/shm reservation on Linux does not fail, it wakes the OOM killer.
#pragma once

#include <cstdint>
#include <string>

namespace shmkit::detail {

enum class ReservationKind {
  memory,      // memfd: anonymous shared memory, charged to the memory cgroup
  tmpfs,       // named: a /dev/shm file, charged to the memory cgroup and to the tmpfs's size
  disk,        // file: blocks on the file's file system
};

// Throws Error(out_of_memory) naming `what`, the request and the limit when `size` bytes do not
// fit; `fd` is the backing file (for tmpfs and disk room; -1 for none). Silent where nothing is known.
void check_reservation(std::uint64_t size, ReservationKind kind, int fd, const std::string& what);
// The same for growing `what` by `extra` bytes (the refusal says "cannot grow").
void check_growth(std::uint64_t extra, ReservationKind kind, int fd, const std::string& what);

// Extends the file behind `fd` to at least `bytes`, never shrinking it (posix_fallocate, which
// also reserves the room; ftruncate where the file system cannot reserve): checked first with
// check_growth. Safe when several processes extend the same object at once.
void extend_file(int fd, std::uint64_t bytes, ReservationKind kind, const std::string& what);

// "16 TiB (17592186044416 bytes)"
std::string describe_bytes(std::uint64_t bytes);

}  // namespace shmkit::detail
