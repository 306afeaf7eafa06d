// Platforms without /dev/shm and /proc: the named backend cannot list its segments or tell who
// maps one, so it never removes a segment as stale.
#include "named_directory.hpp"

namespace shmkit::detail {

std::vector<SegmentListing> list_named_segments() {
  throw Error(Errc::unsupported, "listing named segments needs /dev/shm and /proc (Linux); not in this build");
}

bool remove_named_if_stale(const std::string&) {
  throw Error(Errc::unsupported, "finding stale named segments needs /proc (Linux); not in this build");
}

}  // namespace shmkit::detail
