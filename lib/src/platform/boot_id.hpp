// Which boot of the machine this is (internal platform seam): a persistent segment last used on
// another boot holds lock words of processes that are gone. Linux: /proc/sys/kernel/random/boot_id
// (platform/linux/boot_id.cpp); elsewhere unknown (all zero).
#pragma once

#include <cstdint>

namespace shmkit::detail {

void current_boot_id(std::uint8_t (&out)[16]) noexcept;

}  // namespace shmkit::detail
