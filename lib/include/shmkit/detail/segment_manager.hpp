// The managed-segment type shmkit builds from Boost.Interprocess templates, so that shmkit, not
// a stock typedef, chooses the lock the segment manager takes on every allocation and named
// lookup. Internal: public templates (Segment::construct, Allocator) need the type.
#pragma once

#include <atomic>
#include <cstdint>

#include <boost/interprocess/indexes/iset_index.hpp>
#include <boost/interprocess/mem_algo/rbtree_best_fit.hpp>
#include <boost/interprocess/offset_ptr.hpp>
#include <boost/interprocess/segment_manager.hpp>

#include "shmkit/detail/native_sync.hpp"

namespace shmkit::detail {

// The segment manager's own locks. Robust: if a process dies inside an allocation or a named
// lookup, the lock is poisoned and every later user gets Error(corrupt) ("recreate the segment")
// instead of a hang or Boost's not_recoverable on every later call.
template <MutexKind Kind>
class ManagerMutex {
 public:
  ManagerMutex() { native_mutex_init(native_, Kind); }
  ~ManagerMutex() { native_mutex_destroy(native_); }
  ManagerMutex(const ManagerMutex&) = delete;
  ManagerMutex& operator=(const ManagerMutex&) = delete;

  void lock() { acquired(native_mutex_lock(native_, kNoDeadline)); }
  bool try_lock() { return acquired(native_mutex_lock(native_, 0)); }
  void unlock() noexcept { native_mutex_unlock(native_); }
  bool poisoned() const noexcept { return poisoned_.load(std::memory_order_acquire) != 0; }
  // For a persistent segment last used on an earlier boot, while no process has it mapped: the
  // lock word names a thread of a system that is gone. Re-creates the lock; one that was held
  // then (a process stopped inside the allocator) stays poisoned. Returns true if it was held.
  bool reinitialize_stale() noexcept;

 private:
  bool acquired(LockOutcome outcome);  // throws Error(corrupt) when poisoned

  NativeMutex native_;
  std::atomic<std::uint32_t> poisoned_{0};
  std::uint32_t reserved_ = 0;
};

struct ManagerMutexFamily {
  using mutex_type = ManagerMutex<MutexKind::normal>;
  using recursive_mutex_type = ManagerMutex<MutexKind::recursive>;
};

using MemoryAlgorithm =
    boost::interprocess::rbtree_best_fit<ManagerMutexFamily, boost::interprocess::offset_ptr<void>>;
using SegmentManager =
    boost::interprocess::segment_manager<char, MemoryAlgorithm, boost::interprocess::iset_index>;

}  // namespace shmkit::detail
