// Host-wide listing over every backend of this build that can list its segments.
#include "shmkit/segment_directory.hpp"

#include <algorithm>

#include "backend.hpp"

namespace shmkit {

std::vector<SegmentListing> list_segments() {
  std::vector<SegmentListing> out;
  bool any_listed = false;
  std::string why_not;
  for (const detail::BackendEntry& e : detail::backend_entries()) {
    if (e.backend == nullptr) continue;
    try {
      std::vector<SegmentListing> some = e.backend->list();
      out.insert(out.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
      any_listed = true;
    } catch (const Error& err) {
      if (err.errc() != Errc::unsupported) throw;
      why_not = err.message();
    }
  }
  if (!any_listed) throw Error(Errc::unsupported, "no backend of this build can list its segments: " + why_not);
  std::sort(out.begin(), out.end(), [](const SegmentListing& a, const SegmentListing& b) {
    return a.name != b.name ? a.name < b.name : a.backend < b.backend;
  });
  return out;
}

bool remove_if_stale(std::string_view name, Backend backend) {
  // Each backend checks the name itself: listings hold names today's rule refuses (hidden names
  // from older builds, a file leftover's path).
  return detail::backend_for(backend).remove_if_stale(std::string(name));
}

std::vector<SegmentListing> list_segments_in(const std::string& directory) {
  std::vector<SegmentListing> out;
  for (const detail::BackendEntry& e : detail::backend_entries()) {
    if (e.backend == nullptr) continue;
    std::vector<SegmentListing> some = e.backend->list_directory(directory);
    out.insert(out.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  std::sort(out.begin(), out.end(),
            [](const SegmentListing& a, const SegmentListing& b) { return a.location < b.location; });
  return out;
}

}  // namespace shmkit
