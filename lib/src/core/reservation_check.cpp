#include "reservation_check.hpp"

#include <cstdio>

#if !defined(_WIN32)
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "file_space.hpp"
#endif

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

namespace {

void check(std::uint64_t size, ReservationKind kind, int fd, const std::string& what, bool growth) {
  auto refuse = [&](std::uint64_t room, const std::string& limit, const char* todo) {
    throw Error(Errc::out_of_memory, (growth ? "cannot grow " + what + " by " : "cannot create " + what + " of ") +
                                         describe_bytes(size) + ": only " + describe_bytes(room) + " fit under " +
                                         limit + "; " + todo);
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

}  // namespace

void check_reservation(std::uint64_t size, ReservationKind kind, int fd, const std::string& what) {
  check(size, kind, fd, what, false);
}

void check_growth(std::uint64_t extra, ReservationKind kind, int fd, const std::string& what) {
  check(extra, kind, fd, what, true);
}

#if !defined(_WIN32)
void extend_file(int fd, std::uint64_t bytes, ReservationKind kind, const std::string& what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_os_error("cannot stat " + what, errno);
  const auto have = static_cast<std::uint64_t>(st.st_size);
  if (have >= bytes) return;
  check_growth(bytes - have, kind, fd, what);
  // posix_fallocate only ever raises the size: two processes growing at once cannot shrink it.
  const int rc = reserve_file_space(fd, bytes);
  if (rc == 0) return;
  if (rc == EOPNOTSUPP) {
    // Nothing reserved: size it (a racing grower's larger size is re-checked after).
    struct stat again {};
    if (::fstat(fd, &again) == 0 && static_cast<std::uint64_t>(again.st_size) >= bytes) return;
    while (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      if (errno != EINTR) throw_os_error("cannot grow " + what + " to " + std::to_string(bytes) + " bytes", errno);
    }
    return;
  }
  if (rc == ENOSPC || rc == ENOMEM)
    throw Error(Errc::out_of_memory, "cannot grow " + what + " to " + describe_bytes(bytes) +
                                         ": no room left (free memory or space, or grow less)", rc);
  if (rc == EFBIG)
    throw Error(Errc::resource_limit, "cannot grow " + what + " to " + describe_bytes(bytes) +
                                          ": larger than the file-size limit (RLIMIT_FSIZE)", rc);
  throw Error(errc_from_errno(rc), "cannot grow " + what + " to " + describe_bytes(bytes), rc);
}
#endif

}  // namespace shmkit::detail
