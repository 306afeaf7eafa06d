// Must not compile: a struct holding a std::string in a segment (its heap pointer means nothing
// in another process); the error names the fix.
// expect-error: cannot live in shared memory.*shmkit_shareable
#include <string>

#include "shmkit/segment.hpp"

struct Person {
  std::string name;
  int age;
};

void construct_person(shmkit::Segment& s) { s.construct<Person>("p"); }
