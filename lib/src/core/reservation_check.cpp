#include "reservation_check.hpp"

#include <cstdio>

#include "memory_budget.hpp"
#include "shmkit/error.hpp"

namespace shmkit::detail {

std::string describe_bytes(std::uint64_t bytes) {
  static const char* names[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int i = 0;
  while (v >= 1024 && i < 6) {
    v /= 1024;
    ++i;
  }
  if (i == 0) return std::to_string(bytes) + " bytes";
  char buf[48];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, names[i]);
  return std::string(buf) + " (" + std::to_string(bytes) + " bytes)";
}

void check_reservation(std::uint64_t size, ReservationKind kind, int fd, const std::string& what) {
  auto refuse = [&](std::uint64_t room, const std::string& limit, const char* todo) {
    throw Error(Errc::out_of_memory, "cannot create " + what + " of " + describe_bytes(size) + ": only " +
                                         describe_bytes(room) + " fit under " + limit + "; " + todo);
  };
  if (kind != ReservationKind::memory && fd >= 0) {
    if (const auto room = free_file_space(fd); room && size > *room)
      refuse(*room, kind == ReservationKind::tmpfs ? "the free space of /dev/shm" : "the free space of its file system",
             kind == ReservationKind::tmpfs ? "create a smaller segment, or free or enlarge /dev/shm"
                                            : "create a smaller segment, or free disk space");
  }
  if (kind == ReservationKind::disk) return;  // file pages are written back, not committed
  if (const auto budget = committable_memory(); budget && size > budget->bytes)
    refuse(budget->bytes, budget->limit, "create a smaller segment, or free memory or raise the limit");
}

}  // namespace shmkit::detail
