// The backends every backend-independent test runs on (BOOST_DATA_TEST_CASE over this list).
// memfd segments are served by their creator over ControlServer::default_socket_path(name), so
// Segment::open(name, options_for(b)) works from this process and from exec'd helpers alike.
#pragma once

#include <ostream>
#include <vector>

#include "shmkit/segment.hpp"

namespace shmkit {
inline std::ostream& operator<<(std::ostream& os, Backend b) { return os << to_string(b); }
}  // namespace shmkit

namespace shmkit::test {

inline std::vector<Backend> test_backends() {
#if defined(__linux__)
  return {Backend::named, Backend::memfd};
#else
  return {Backend::named};
#endif
}

inline SegmentOptions options_for(Backend b) {
  SegmentOptions o;
  o.backend = b;
  return o;
}

}  // namespace shmkit::test
