// No portable way to ask for available memory or a container's limit: nothing is known, and
// the reservation itself (or the OS's own commit accounting, as on Windows) is the check.
#include "memory_budget.hpp"

namespace shmkit::detail {

std::optional<MemoryBudget> committable_memory() { return std::nullopt; }
std::optional<std::uint64_t> free_file_space(int) noexcept { return std::nullopt; }

}  // namespace shmkit::detail
