// Must not compile: a Mutex found through a read-only view is const; locking writes to it.
// expect-error: discards qualifiers|not marked const
#include "shmkit/mutex.hpp"
#include "shmkit/segment_view.hpp"

void lock_through_view(const shmkit::SegmentView& v) { v.find<shmkit::Mutex>("m")->lock(); }
