// shmkit::Allocator<T>: the allocator of a segment, for containers that live in shared memory.
// Segment::allocator() returns Allocator<void>, which converts to Allocator<T> for every T.
#pragma once

#include <boost/interprocess/allocators/allocator.hpp>

#include "shmkit/detail/segment_manager.hpp"

namespace shmkit {

template <class T>
using Allocator = boost::interprocess::allocator<T, detail::SegmentManager>;

}  // namespace shmkit
