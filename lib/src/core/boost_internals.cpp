// Reaches Boost.Interprocess's private members: the segment manager's two locks (the file
// backend re-creates them). Nothing else in shmkit names a private member; named-object lookups
// use shmkit's own object directory (object_directory.hpp).
#include "boost_internals.hpp"

#include <boost/version.hpp>

// Verified layouts: the member pointers match these versions' headers (CI builds against
// Debian's 1.74 and 1.81). A newer Boost must be checked against its headers and added here;
// -DSHMKIT_BOOST_UNVERIFIED=1 builds anyway, at the risk of wrong lock members.
#if !defined(SHMKIT_BOOST_UNVERIFIED)
static_assert(BOOST_VERSION >= 107400 && BOOST_VERSION <= 108100,
              "shmkit reads Boost.Interprocess internals verified for Boost 1.74 to 1.81: check "
              "lib/src/core/boost_internals.cpp against this version's headers and widen the range "
              "(or define SHMKIT_BOOST_UNVERIFIED=1)");
#endif

namespace shmkit::detail {
namespace {

// ---- Reaching the segment manager's two locks ----
// Boost keeps them in private members (segment_manager::m_header derives from the recursive
// mutex, rbtree_best_fit::m_header from the plain one). Explicit instantiation may name private
// members, so these templates hand out member pointers without changing Boost.
struct ManagerHeaderTag {
  friend auto stolen_member(ManagerHeaderTag);
};
struct AlgorithmHeaderTag {
  friend auto stolen_member(AlgorithmHeaderTag);
};
template <class Tag, auto Member>
struct StealMember {
  friend auto stolen_member(Tag) { return Member; }
};
template struct StealMember<ManagerHeaderTag, &SegmentManager::m_header>;
template struct StealMember<AlgorithmHeaderTag, &MemoryAlgorithm::m_header>;

using ManagerBase = boost::interprocess::segment_manager_base<MemoryAlgorithm>;

}  // namespace

ManagerMutex<MutexKind::recursive>& manager_lock(SegmentManager& m) { return m.*stolen_member(ManagerHeaderTag{}); }

ManagerMutex<MutexKind::normal>& allocator_lock(SegmentManager& m) {
  // A C-style cast reaches the private base (the allocator) of segment_manager_base.
  auto& algorithm = (MemoryAlgorithm&)(static_cast<ManagerBase&>(m));  // NOLINT
  return algorithm.*stolen_member(AlgorithmHeaderTag{});
}

}  // namespace shmkit::detail
