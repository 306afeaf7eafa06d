// Memory advice for a segment's mapping (internal seam): pre-faulting, transparent huge pages,
// locking into RAM. Linux: linux/memory_advice.cpp; elsewhere portable/memory_advice.cpp.
#pragma once

#include <cstddef>
#include <string_view>

#include "shmkit/segment.hpp"

namespace shmkit::detail {

// Applies `want` to [data, data + size) and returns what took effect. Throws
// Error(resource_limit) when locking is refused (the mapping is left as it was).
MemoryAdvice apply_memory_advice(std::byte* data, std::size_t size, bool writable, const MemoryAdvice& want,
                                 std::string_view segment_name);

}  // namespace shmkit::detail
