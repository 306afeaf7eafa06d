// Must not compile: a shmkit container is shareable only when its elements are; a std::string
// value is not.
// expect-error: cannot live in shared memory
#include <string>

#include "shmkit/containers.hpp"
#include "shmkit/segment.hpp"

void construct_map(shmkit::Segment& s) { s.construct<shmkit::map<shmkit::string, std::string>>("m"); }
