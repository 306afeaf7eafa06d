// The named backend's OS layer (internal): one file per OS (named_mapping_posix.cpp: POSIX
// shm_open through Boost; named_mapping_windows.cpp: Windows native, kernel-refcounted).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "mapping.hpp"
#include "shmkit/detail/deadline.hpp"

namespace shmkit::detail {

// Creates the object exclusively (Error(already_exists) if taken) with `size` bytes and maps
// `max_size` (>= size) read-write. Windows sections cannot grow: Error(unsupported) if max_size > size.
std::unique_ptr<Mapping> create_named_mapping(const std::string& name, std::size_t size, std::size_t max_size,
                                              unsigned permissions);
// Opens and maps an existing object; waits (until deadline) for a creator that has not sized it yet.
// writable = false: opened read-only and mapped read-only (the kernel refuses any write).
std::unique_ptr<Mapping> open_named_mapping(const std::string& name, DeadlineNs deadline, bool writable = true);
// Maps `size` bytes of the same object instead (the segment's maximum, once its header is
// ready), before anything else uses the mapping. Error(unsupported) where objects cannot grow.
void widen_named_mapping(Mapping& mapping, std::size_t size, const std::string& name);
// Removes the name; false if there was none (Windows: names vanish with their last user: false).
bool remove_named_mapping(const std::string& name);

}  // namespace shmkit::detail
