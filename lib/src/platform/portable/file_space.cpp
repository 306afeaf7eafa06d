// No portable way to reserve blocks (macOS has no posix_fallocate): nothing is reserved, and a
// full device shows up on the write that needs the block.
#include <cerrno>

#include "file_space.hpp"

namespace shmkit::detail {

int reserve_file_space(int, std::uint64_t) noexcept { return EOPNOTSUPP; }

}  // namespace shmkit::detail
