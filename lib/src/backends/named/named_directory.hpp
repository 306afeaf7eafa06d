// The named backend's host-wide view (internal): which named shmkit segments exist, who maps
// them, which are stale. Linux reads /dev/shm and /proc (named_directory_linux.cpp); elsewhere
// these throw Error(unsupported) (named_directory_portable.cpp).
#pragma once

#include <string>
#include <vector>

#include "shmkit/segment_directory.hpp"

namespace shmkit::detail {

std::vector<SegmentListing> list_named_segments();
// Removes `name` if its creator is dead and no live process maps it; serialized against other
// reclaimers. False, nothing touched, for a live or unknown segment.
bool remove_named_if_stale(const std::string& name);

}  // namespace shmkit::detail
