// Who a process is, robust against pid reuse: pid plus the process's start time (internal).
#pragma once

#include <cstdint>

namespace shmkit::detail {

struct ProcessIdentity {
  std::int32_t pid = 0;
  std::uint32_t uid = 0;
  std::uint64_t start_time = 0;  // clock ticks after boot on Linux; 0 where unknown
};

ProcessIdentity current_process() noexcept;
// This process's pid, cheaply (cached where the platform allows; hot paths ask on every lock).
std::int32_t current_pid() noexcept;

// Start time of `pid`, or 0 if it does not exist (or the platform cannot tell).
std::uint64_t process_start_time(std::int32_t pid) noexcept;

// True if a process with this pid exists and, when start_time is known, started then.
bool process_alive(std::int32_t pid, std::uint64_t start_time) noexcept;

}  // namespace shmkit::detail
