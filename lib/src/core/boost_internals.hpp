// Everything shmkit reads of Boost.Interprocess's private structures, in one place (internal).
// Checked at compile time against the Boost versions it was verified with (boost_internals.cpp);
// CI builds against a second Boost version's headers so a layout change is caught.
#pragma once

#include "shmkit/detail/segment_manager.hpp"

namespace shmkit::detail {

// ---- The segment manager's two locks (private members of Boost's classes) ----
ManagerMutex<MutexKind::recursive>& manager_lock(SegmentManager& manager);
ManagerMutex<MutexKind::normal>& allocator_lock(SegmentManager& manager);

}  // namespace shmkit::detail
