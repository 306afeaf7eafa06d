#include <fcntl.h>

#include <cerrno>

#include "file_space.hpp"

namespace shmkit::detail {

int reserve_file_space(int fd, std::uint64_t size) noexcept {
  int rc = 0;
  do {
    rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
  } while (rc == EINTR);
  // EINVAL: a file system without fallocate; nothing was reserved.
  return rc == EINVAL ? EOPNOTSUPP : rc;
}

}  // namespace shmkit::detail
