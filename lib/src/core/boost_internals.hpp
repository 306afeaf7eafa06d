// Everything shmkit reads of Boost.Interprocess's private structures, in one place (internal).
// Checked at compile time against the Boost versions it was verified with (boost_internals.cpp);
// CI builds against a second Boost version's headers so a layout change is caught.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include "shmkit/detail/segment_manager.hpp"

namespace shmkit::detail {

// ---- Lock-free walk of the named-object index (read-only views cannot take its lock) ----
// Every node, block header, name and value is checked to lie inside [base, base + size) before
// it is read and the walk is bounded; the caller validates the whole walk against a seqlock.
enum class Walk { done, inconsistent };
struct IndexEntry {
  std::string_view name;
  void* value = nullptr;
  std::size_t value_bytes = 0;
};
// Looks up `key`; out.value stays nullptr when absent.
Walk find_in_index(const SegmentManager& manager, const std::byte* base, std::size_t size, std::string_view key,
                   IndexEntry& out);
// Visits every entry in the index's order.
Walk visit_index(const SegmentManager& manager, const std::byte* base, std::size_t size,
                 const std::function<void(const IndexEntry&)>& visit);

// ---- The segment manager's two locks (private members of Boost's classes) ----
ManagerMutex<MutexKind::recursive>& manager_lock(SegmentManager& manager);
ManagerMutex<MutexKind::normal>& allocator_lock(SegmentManager& manager);

}  // namespace shmkit::detail
