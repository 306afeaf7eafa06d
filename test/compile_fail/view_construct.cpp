// Must not compile: a read-only view has no construct().
// expect-error: no member named 'construct'
#include "shmkit/segment_view.hpp"

void construct_through_view(const shmkit::SegmentView& v) { v.construct<int>("x"); }
