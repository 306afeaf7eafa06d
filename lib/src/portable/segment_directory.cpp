// Platforms without /dev/shm and /proc: no host-wide listing.
#include "shmkit/segment_directory.hpp"

namespace shmkit {

std::vector<SegmentListing> list_segments() {
  throw Error(Errc::unsupported, "listing shared-memory segments is implemented for Linux only");
}

bool remove_if_stale(std::string_view, Backend) {
  throw Error(Errc::unsupported, "finding stale segments is implemented for Linux only");
}

}  // namespace shmkit
