// Reads Boost.Interprocess's private structures: the named index's red-black tree nodes and
// block headers (the read-only lookup), and the segment manager's lock members (the file
// backend re-creates them). Nothing else in shmkit names an ipcdetail or private member.
#include "boost_internals.hpp"

#include <boost/version.hpp>

#include <cstdint>
#include <string>

// Verified layouts: the walk below and the member pointers match these versions' headers (CI
// builds against Debian's 1.74 and 1.81). A newer Boost must be checked against its headers and
// added here; -DSHMKIT_BOOST_UNVERIFIED=1 builds anyway, at the risk of a wrong read-only lookup.
#if !defined(SHMKIT_BOOST_UNVERIFIED)
static_assert(BOOST_VERSION >= 107400 && BOOST_VERSION <= 108100,
              "shmkit reads Boost.Interprocess internals verified for Boost 1.74 to 1.81: check "
              "lib/src/core/boost_internals.cpp against this version's headers and widen the range "
              "(or define SHMKIT_BOOST_UNVERIFIED=1)");
#endif

namespace shmkit::detail {
namespace {

namespace bip = boost::interprocess;
using IndexTree = bip::iset_index_aux<bip::ipcdetail::index_config<char, MemoryAlgorithm>>::index_t;
using IndexNodeTraits = IndexTree::node_traits;
using IndexNodePtr = IndexNodeTraits::node_ptr;
using IndexNode = IndexNodeTraits::node;
using IndexValue = IndexTree::value_type;
using BlockHeader = bip::ipcdetail::block_header<SegmentManager::size_type>;

// Red-black trees are at most 2*log2(n+1) deep; a segment holds far fewer than 2^40 objects.
constexpr int kMaxTreeDepth = 96;

class IndexWalker {
 public:
  IndexWalker(const std::byte* base, std::size_t size) : base_(reinterpret_cast<std::uintptr_t>(base)), size_(size) {}

  // The tree's root, or nullptr when the index is empty or its header is out of bounds.
  const IndexNode* root(const SegmentManager& manager, Walk& status) const {
    const IndexNode* header = boost::movelib::to_raw_pointer(manager.named_end().base().pointed_node());
    if (!inside(header, sizeof(IndexNode), alignof(IndexNode))) return fail(status);
    return checked(IndexNodeTraits::get_parent(IndexNodePtr(const_cast<IndexNode*>(header))), status);
  }
  const IndexNode* left(const IndexNode* n, Walk& status) const {
    return checked(IndexNodeTraits::get_left(IndexNodePtr(const_cast<IndexNode*>(n))), status);
  }
  const IndexNode* right(const IndexNode* n, Walk& status) const {
    return checked(IndexNodeTraits::get_right(IndexNodePtr(const_cast<IndexNode*>(n))), status);
  }

  // The node's name and value, every byte inside the mapping; false if anything is out of bounds.
  bool entry(const IndexNode* n, IndexEntry& out) const {
    const IndexValue* v = boost::movelib::to_raw_pointer(
        IndexTree::value_traits::to_value_ptr(IndexNodePtr(const_cast<IndexNode*>(n))));
    if (!inside(v, sizeof(IndexValue), alignof(IndexValue))) return false;
    const BlockHeader* bh = v->get_block_header();
    if (!inside(bh, sizeof(BlockHeader), alignof(BlockHeader))) return false;
    const std::size_t value_bytes = bh->m_value_bytes;
    const std::size_t align = bh->m_value_alignment;
    const std::size_t name_length = bh->m_num_char;
    if (align == 0 || (align & (align - 1)) != 0 || (bh->m_alloc_type_sizeof_char & 0x1F) != sizeof(char)) return false;
    const std::size_t value_offset = (sizeof(BlockHeader) + align - 1) / align * align;
    const std::uintptr_t value = reinterpret_cast<std::uintptr_t>(bh) + value_offset;
    if (value_bytes > size_ || !inside_range(value, value_bytes)) return false;
    const std::uintptr_t name = value + value_bytes;  // chars need no rounding
    if (name_length == 0 || !inside_range(name, name_length + 1)) return false;
    out.name = std::string_view(reinterpret_cast<const char*>(name), name_length);
    out.value = reinterpret_cast<void*>(value);
    out.value_bytes = value_bytes;
    return true;
  }

 private:
  bool inside_range(std::uintptr_t a, std::size_t n) const noexcept {
    return a >= base_ && n <= size_ && a - base_ <= size_ - n;
  }
  bool inside(const void* p, std::size_t n, std::size_t align) const noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    return a % align == 0 && inside_range(a, n);
  }
  static const IndexNode* fail(Walk& status) {
    status = Walk::inconsistent;
    return nullptr;
  }
  const IndexNode* checked(const IndexNodePtr& p, Walk& status) const {
    const IndexNode* n = boost::movelib::to_raw_pointer(p);
    if (n == nullptr) return nullptr;
    return inside(n, sizeof(IndexNode), alignof(IndexNode)) ? n : fail(status);
  }

  std::uintptr_t base_;
  std::size_t size_;
};

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

Walk find_in_index(const SegmentManager& manager, const std::byte* base, std::size_t size, std::string_view key,
                   IndexEntry& out) {
  const IndexWalker walker(base, size);
  out = IndexEntry{};
  Walk status = Walk::done;
  const IndexNode* n = walker.root(manager, status);
  for (int depth = 0; n != nullptr && status == Walk::done; ++depth) {
    IndexEntry e;
    if (depth >= kMaxTreeDepth || !walker.entry(n, e)) return Walk::inconsistent;
    // Boost's order: by length, then by characters.
    int cmp = key.size() < e.name.size() ? -1 : key.size() > e.name.size() ? 1 : 0;
    if (cmp == 0) cmp = std::char_traits<char>::compare(key.data(), e.name.data(), key.size());
    if (cmp == 0) {
      out = e;
      return Walk::done;
    }
    n = cmp < 0 ? walker.left(n, status) : walker.right(n, status);
  }
  return status;
}

Walk visit_index(const SegmentManager& manager, const std::byte* base, std::size_t size,
                 const std::function<void(const IndexEntry&)>& visit) {
  const IndexWalker walker(base, size);
  Walk status = Walk::done;
  const IndexNode* stack[kMaxTreeDepth];
  int depth = 0;
  // No node holds less than a node: more visits than that means a cycle.
  std::size_t budget = size / sizeof(IndexNode);
  const IndexNode* n = walker.root(manager, status);
  while ((n != nullptr || depth > 0) && status == Walk::done) {
    if (n != nullptr) {
      if (depth >= kMaxTreeDepth || budget-- == 0) return Walk::inconsistent;
      stack[depth++] = n;
      n = walker.left(n, status);
      continue;
    }
    n = stack[--depth];
    IndexEntry e;
    if (!walker.entry(n, e)) return Walk::inconsistent;
    visit(e);
    n = walker.right(n, status);
  }
  return status;
}

ManagerMutex<MutexKind::recursive>& manager_lock(SegmentManager& m) { return m.*stolen_member(ManagerHeaderTag{}); }

ManagerMutex<MutexKind::normal>& allocator_lock(SegmentManager& m) {
  // A C-style cast reaches the private base (the allocator) of segment_manager_base.
  auto& algorithm = (MemoryAlgorithm&)(static_cast<ManagerBase&>(m));  // NOLINT
  return algorithm.*stolen_member(AlgorithmHeaderTag{});
}

}  // namespace shmkit::detail
