// Must not compile: find_or_construct refuses the same types as construct (a std::vector member).
// expect-error: cannot live in shared memory
#include <vector>

#include "shmkit/segment.hpp"

struct Samples {
  std::vector<double> values;
};

void construct_samples(shmkit::Segment& s) { s.find_or_construct<Samples>("s"); }
