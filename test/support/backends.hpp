// The backends every backend-independent test runs on (BOOST_DATA_TEST_CASE over this list).
#pragma once

#include <ostream>
#include <vector>

#include "shmkit/segment.hpp"

namespace shmkit {
inline std::ostream& operator<<(std::ostream& os, Backend b) { return os << to_string(b); }
}  // namespace shmkit

namespace shmkit::test {

inline std::vector<Backend> test_backends() { return {Backend::named}; }

inline SegmentOptions options_for(Backend b) {
  SegmentOptions o;
  o.backend = b;
  return o;
}

}  // namespace shmkit::test
