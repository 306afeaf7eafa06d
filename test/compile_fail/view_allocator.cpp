// Must not compile: a read-only view has no allocator() (allocating would write the segment).
// expect-error: no member named 'allocator'
#include "shmkit/segment_view.hpp"

void allocate_through_view(const shmkit::SegmentView& v) { (void)v.allocator(); }
