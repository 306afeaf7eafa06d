// Reserving a file's blocks up front (internal platform seam): tmpfs pages for a named segment,
// disk blocks for a file segment, so that a full device is an Error at create time instead of
// SIGBUS on a later write. Linux: posix_fallocate (platform/linux/file_space.cpp); elsewhere
// nothing is reserved (platform/portable/file_space.cpp).
#pragma once

#include <cstdint>

namespace shmkit::detail {

// 0 when [0, size) is reserved; EOPNOTSUPP where the platform or file system cannot reserve
// (nothing was); otherwise the errno (ENOSPC, EFBIG, ...).
int reserve_file_space(int fd, std::uint64_t size) noexcept;

}  // namespace shmkit::detail
