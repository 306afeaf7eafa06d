// Must not compile: a read-only view has no manager() (the Boost segment manager writes).
// expect-error: no member named 'manager'
#include "shmkit/segment_view.hpp"

void manage_through_view(const shmkit::SegmentView& v) { (void)v.manager(); }
