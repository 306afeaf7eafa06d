// How much memory a process may still commit, and how much room a file system has (internal
// platform seam): a reservation larger than that is refused before it is made, because on Linux
// an oversized memfd or /dev/shm reservation is not an error but a visit from the OOM killer.
// Linux: /proc/meminfo and the memory cgroup (linux/memory_budget.cpp); elsewhere unknown
// (portable/memory_budget.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace shmkit::detail {

struct MemoryBudget {
  std::uint64_t bytes = 0;  // room under the tightest limit found
  std::string limit;        // that limit, for messages: "memory cgroup /a/b (limit 256 MiB, 40 MiB in use)"
};

// The tightest of: available memory plus free swap, and every enclosing memory cgroup's limit
// minus its usage (reclaimable page cache counted as room). nullopt where the platform cannot tell.
std::optional<MemoryBudget> committable_memory();

// Free bytes an unprivileged writer may still use on the file system holding `fd` (tmpfs
// included); nullopt where the platform cannot tell.
std::optional<std::uint64_t> free_file_space(int fd) noexcept;

}  // namespace shmkit::detail
