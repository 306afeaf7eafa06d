// No portable boot identity: all zero, and a file segment cannot tell a reboot apart.
#include <cstring>

#include "boot_id.hpp"

namespace shmkit::detail {

void current_boot_id(std::uint8_t (&out)[16]) noexcept { std::memset(out, 0, sizeof out); }

}  // namespace shmkit::detail
