// shmkit::btree_map<Key, Value>: an ordered map for a segment, as a B+ tree of ~512-byte nodes.
//
// Why: shmkit::map is Boost's red-black tree over offset pointers. At 10k keys a lookup walks 14
// levels, each an offset-pointer decode and likely a cache miss, and each insert allocates a node
// from the segment under its lock: 1.7x std::map's lookup and 2.1-2.5x its insert here. A B+ tree
// holds 10k entries in 3 levels, searches a node's keys contiguously and allocates once per ~15
// inserts (docs/benchmarks.md has the figures).
//
// What it is, and is not:
//  - Keys and values must be trivially copyable (ids, counters, timestamps, fixed-size structs):
//    nodes move entries with memcpy. For string keys use shmkit::map. Entries are
//    btree_map::value_type {const Key first; Value second;}, not std::pair.
//  - Like shmkit::map, it is not synchronised: guard it with a shmkit::Mutex / SharedMutex.
//  - Every insert and erase invalidates all iterators and references (entries move between
//    nodes), as for flat_map. find/lower_bound/iteration do not.
//  - Erase removes an entry from its leaf and frees leaves that become empty, but does not merge
//    sparse neighbours: heavy erasing leaves nodes part-empty until clear().
// Construct it in a segment like the other containers: segment.construct<btree_map<K, V>>(name).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <boost/interprocess/offset_ptr.hpp>

#include "shmkit/allocator.hpp"
#include "shmkit/type_name.hpp"

namespace shmkit {

template <class Key, class Value, class Compare = std::less<>>
class btree_map {
 public:
  using key_type = Key;
  using mapped_type = Value;
  // Like std::map's pair<const Key, Value> (first, second, structured bindings), but trivially
  // copyable, which is what lets nodes move entries with memcpy.
  struct value_type {
    const Key first;
    Value second;
  };
  using key_compare = Compare;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = value_type&;
  using const_reference = const value_type&;
  using allocator_type = Allocator<std::byte>;
  static constexpr bool shmkit_shareable = true;  // keys and values are trivially copyable (below)

  static_assert(std::is_trivially_copyable_v<Key> && std::is_trivially_copyable_v<Value>,
                "shmkit::btree_map holds trivially copyable keys and values; use shmkit::map for others");
  static_assert(std::is_trivially_copyable_v<value_type>);

 private:
  template <class T>
  using ptr = boost::interprocess::offset_ptr<T>;

  static constexpr std::size_t kNodeBytes = 512;
  struct NodeBase {
    std::uint32_t count;    // leaf: entries; inner: children
    std::uint32_t is_leaf;
  };
  struct Leaf;
  struct LeafLinks : NodeBase {
    ptr<Leaf> prev;
    ptr<Leaf> next;
  };
  static constexpr std::uint32_t kLeafSlots =
      static_cast<std::uint32_t>(std::max<std::size_t>(4, (kNodeBytes - sizeof(LeafLinks)) / sizeof(value_type)));
  struct Leaf : LeafLinks {
    alignas(value_type) unsigned char slots[kLeafSlots * sizeof(value_type)];
  };
  static constexpr std::uint32_t kInnerSlots = static_cast<std::uint32_t>(
      std::max<std::size_t>(4, (kNodeBytes - sizeof(NodeBase)) / (sizeof(Key) + sizeof(ptr<NodeBase>))));
  struct Inner : NodeBase {
    ptr<NodeBase> child[kInnerSlots];
    alignas(Key) unsigned char keys[(kInnerSlots - 1) * sizeof(Key)];  // child i holds keys >= keys[i-1]
  };
  static_assert(alignof(Leaf) <= alignof(std::max_align_t) && alignof(Inner) <= alignof(std::max_align_t),
                "the segment allocates at max_align_t alignment");
  // A path from the root: 64 levels of at least 2 children is more than any segment holds.
  static constexpr int kMaxDepth = 64;

  static value_type* entry(Leaf* l, std::uint32_t i) noexcept {
    return std::launder(reinterpret_cast<value_type*>(l->slots + std::size_t{i} * sizeof(value_type)));
  }
  // Raw slot bytes, for moving entries (trivially copyable) between slots and nodes.
  static unsigned char* slot(Leaf* l, std::uint32_t i) noexcept { return l->slots + std::size_t{i} * sizeof(value_type); }
  static const Key& leaf_key(Leaf* l, std::uint32_t i) noexcept { return entry(l, i)->first; }
  static const Key& sep(const Inner* n, std::uint32_t i) noexcept {
    return *std::launder(reinterpret_cast<const Key*>(n->keys + std::size_t{i} * sizeof(Key)));
  }

 public:
  template <bool Const>
  class basic_iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = btree_map::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = std::conditional_t<Const, const value_type&, value_type&>;
    using pointer = std::conditional_t<Const, const value_type*, value_type*>;

    basic_iterator() = default;
    template <bool C = Const, class = std::enable_if_t<C>>
    basic_iterator(const basic_iterator<false>& o) noexcept : map_(o.map_), leaf_(o.leaf_), index_(o.index_) {}  // NOLINT

    reference operator*() const noexcept { return *entry(leaf_, index_); }
    pointer operator->() const noexcept { return entry(leaf_, index_); }
    basic_iterator& operator++() noexcept {
      if (++index_ == leaf_->count) {
        leaf_ = leaf_->next.get();
        index_ = 0;
      }
      return *this;
    }
    basic_iterator operator++(int) noexcept {
      basic_iterator t = *this;
      ++*this;
      return t;
    }
    basic_iterator& operator--() noexcept {
      if (leaf_ == nullptr) {
        leaf_ = map_->last_.get();
        index_ = leaf_->count - 1;
      } else if (index_ == 0) {
        leaf_ = leaf_->prev.get();
        index_ = leaf_->count - 1;
      } else {
        --index_;
      }
      return *this;
    }
    basic_iterator operator--(int) noexcept {
      basic_iterator t = *this;
      --*this;
      return t;
    }
    friend bool operator==(const basic_iterator& a, const basic_iterator& b) noexcept {
      return a.leaf_ == b.leaf_ && a.index_ == b.index_;
    }

   private:
    friend class btree_map;
    template <bool>
    friend class basic_iterator;
    using MapPtr = std::conditional_t<Const, const btree_map*, btree_map*>;
    basic_iterator(MapPtr m, Leaf* l, std::uint32_t i) noexcept : map_(m), leaf_(l), index_(i) {}
    MapPtr map_ = nullptr;  // for --end()
    Leaf* leaf_ = nullptr;  // nullptr: end()
    std::uint32_t index_ = 0;
  };
  using iterator = basic_iterator<false>;
  using const_iterator = basic_iterator<true>;

  explicit btree_map(const allocator_type& alloc, const Compare& comp = Compare()) : alloc_(alloc), comp_(comp) {}
  btree_map(const Compare& comp, const allocator_type& alloc) : alloc_(alloc), comp_(comp) {}
  // Lives where it was constructed (its nodes point at it through offset pointers).
  btree_map(const btree_map&) = delete;
  btree_map& operator=(const btree_map&) = delete;
  ~btree_map() { clear(); }

  allocator_type get_allocator() const noexcept { return alloc_; }
  key_compare key_comp() const { return comp_; }
  size_type size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // Levels from the root to the leaves (0 when empty): for tools and tests.
  std::uint32_t height() const noexcept { return height_; }

  iterator begin() noexcept { return iterator(this, size_ == 0 ? nullptr : first_.get(), 0); }
  const_iterator begin() const noexcept { return const_iterator(this, size_ == 0 ? nullptr : first_.get(), 0); }
  const_iterator cbegin() const noexcept { return begin(); }
  iterator end() noexcept { return iterator(this, nullptr, 0); }
  const_iterator end() const noexcept { return const_iterator(this, nullptr, 0); }
  const_iterator cend() const noexcept { return end(); }

  iterator find(const Key& k) noexcept {
    auto [l, i] = lower(k);
    return l != nullptr && i < l->count && !comp_(k, leaf_key(l, i)) ? iterator(this, l, i) : end();
  }
  const_iterator find(const Key& k) const noexcept { return const_cast<btree_map*>(this)->find(k); }
  bool contains(const Key& k) const noexcept { return find(k) != end(); }
  size_type count(const Key& k) const noexcept { return contains(k) ? 1 : 0; }

  iterator lower_bound(const Key& k) noexcept {
    auto [l, i] = lower(k);
    return normalize(l, i);
  }
  const_iterator lower_bound(const Key& k) const noexcept { return const_cast<btree_map*>(this)->lower_bound(k); }
  iterator upper_bound(const Key& k) noexcept {
    iterator it = lower_bound(k);
    if (it != end() && !comp_(k, it->first)) ++it;
    return it;
  }
  const_iterator upper_bound(const Key& k) const noexcept { return const_cast<btree_map*>(this)->upper_bound(k); }

  Value& at(const Key& k) {
    iterator it = find(k);
    if (it == end()) throw std::out_of_range("shmkit::btree_map::at: no such key");
    return it->second;
  }
  const Value& at(const Key& k) const { return const_cast<btree_map*>(this)->at(k); }
  Value& operator[](const Key& k) { return try_emplace(k).first->second; }

  // Inserts (k, Value(args...)) unless k is present. Strong guarantee: a full segment throws
  // Error(out_of_memory) with the map unchanged.
  template <class... Args>
  std::pair<iterator, bool> try_emplace(const Key& k, Args&&... args) {
    return insert_unique(k, [&](void* at) { ::new (at) value_type{k, Value(std::forward<Args>(args)...)}; });
  }
  std::pair<iterator, bool> insert(const value_type& v) { return try_emplace(v.first, v.second); }
  std::pair<iterator, bool> insert(const std::pair<Key, Value>& v) { return try_emplace(v.first, v.second); }
  template <class K2, class... Args>
  std::pair<iterator, bool> emplace(K2&& k, Args&&... args) {
    const Key key(std::forward<K2>(k));
    return try_emplace(key, std::forward<Args>(args)...);
  }
  template <class M>
  std::pair<iterator, bool> insert_or_assign(const Key& k, M&& m) {
    auto r = try_emplace(k, std::forward<M>(m));
    if (!r.second) r.first->second = std::forward<M>(m);
    return r;
  }

  size_type erase(const Key& k) noexcept;
  // Returns the iterator after the erased entry.
  iterator erase(const_iterator pos) noexcept {
    const Key k = pos->first;
    const_iterator next = std::next(pos);
    if (next == end()) {
      erase(k);
      return end();
    }
    const Key after = next->first;
    erase(k);
    return find(after);
  }

  void clear() noexcept {
    if (root_) free_subtree(root_.get(), height_);
    root_ = nullptr;
    first_ = last_ = nullptr;
    size_ = 0;
    height_ = 0;
  }

 private:
  struct Step {
    Inner* node;
    std::uint32_t pos;  // the child taken
  };

  // The child of inner node n whose range holds k: the number of separators <= k.
  std::uint32_t child_for(const Inner* n, const Key& k) const noexcept {
    std::uint32_t lo = 0, hi = n->count - 1;
    while (lo < hi) {
      const std::uint32_t mid = (lo + hi) / 2;
      if (comp_(k, sep(n, mid)))
        hi = mid;
      else
        lo = mid + 1;
    }
    return lo;
  }
  // The first entry of leaf l not less than k (l->count if none).
  std::uint32_t leaf_lower(Leaf* l, const Key& k) const noexcept {
    std::uint32_t lo = 0, hi = l->count;
    while (lo < hi) {
      const std::uint32_t mid = (lo + hi) / 2;
      if (comp_(leaf_key(l, mid), k))
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }
  std::pair<Leaf*, std::uint32_t> lower(const Key& k, Step* path = nullptr) const noexcept {
    NodeBase* n = root_.get();
    if (n == nullptr) return {nullptr, 0};
    int depth = 0;
    while (n->is_leaf == 0) {
      auto* in = static_cast<Inner*>(n);
      const std::uint32_t c = child_for(in, k);
      if (path != nullptr) path[depth++] = Step{in, c};
      n = in->child[c].get();
    }
    auto* l = static_cast<Leaf*>(n);
    return {l, leaf_lower(l, k)};
  }
  iterator normalize(Leaf* l, std::uint32_t i) noexcept {
    if (l == nullptr) return end();
    if (i == l->count) return iterator(this, l->next.get(), 0);  // next leaf (never empty) or end
    return iterator(this, l, i);
  }

  template <class T>
  T* allocate_node() {
    Allocator<T> a(alloc_);
    T* p = a.allocate(1).get();
    return ::new (static_cast<void*>(p)) T{};
  }
  template <class T>
  void free_node(T* p) noexcept {
    Allocator<T> a(alloc_);
    a.deallocate(ptr<T>(p), 1);
  }
  void free_subtree(NodeBase* n, std::uint32_t levels) noexcept {
    if (levels > 1) {
      auto* in = static_cast<Inner*>(n);
      for (std::uint32_t i = 0; i < in->count; ++i) free_subtree(in->child[i].get(), levels - 1);
      free_node(in);
    } else {
      free_node(static_cast<Leaf*>(n));
    }
  }

  template <class Construct>
  std::pair<iterator, bool> insert_unique(const Key& k, Construct&& construct);

  allocator_type alloc_;
  ptr<NodeBase> root_;
  ptr<Leaf> first_;
  ptr<Leaf> last_;
  size_type size_ = 0;
  std::uint32_t height_ = 0;
  [[no_unique_address]] Compare comp_;
};

template <class Key, class Value, class Compare>
template <class Construct>
auto btree_map<Key, Value, Compare>::insert_unique(const Key& k, Construct&& construct) -> std::pair<iterator, bool> {
  if (!root_) {
    Leaf* l = allocate_node<Leaf>();
    l->is_leaf = 1;
    root_ = l;
    first_ = last_ = l;
    height_ = 1;
  }
  Step path[kMaxDepth];
  auto [leaf, idx] = lower(k, path);
  if (idx < leaf->count && !comp_(k, leaf_key(leaf, idx))) return {iterator(this, leaf, idx), false};
  const int depth = static_cast<int>(height_) - 1;

  if (leaf->count < kLeafSlots) {
    std::memmove(slot(leaf, idx + 1), slot(leaf, idx), (leaf->count - idx) * sizeof(value_type));
    construct(slot(leaf, idx));
    ++leaf->count;
    ++size_;
    return {iterator(this, leaf, idx), true};
  }

  // The leaf splits, and every full inner node above it. Allocate all new nodes first, so that a
  // full segment throws before anything changed.
  int full_inner = 0;
  while (full_inner < depth && path[depth - 1 - full_inner].node->count == kInnerSlots) ++full_inner;
  const bool new_root = full_inner == depth;
  Leaf* right = allocate_node<Leaf>();
  Inner* spare[kMaxDepth + 1];
  int spares = 0;
  try {
    for (; spares < full_inner + (new_root ? 1 : 0); ++spares) spare[spares] = allocate_node<Inner>();
  } catch (...) {
    while (spares > 0) free_node(spare[--spares]);
    free_node(right);
    throw;
  }
  int next_spare = 0;

  // Split the leaf in half, then insert on the side the entry belongs to.
  right->is_leaf = 1;
  const std::uint32_t half = leaf->count / 2;
  right->count = leaf->count - half;
  std::memcpy(slot(right, 0), slot(leaf, half), right->count * sizeof(value_type));
  leaf->count = half;
  right->next = leaf->next;
  right->prev = leaf;
  if (leaf->next) leaf->next->prev = right; else last_ = right;
  leaf->next = right;
  Leaf* home = idx <= half ? leaf : right;
  const std::uint32_t at = idx <= half ? idx : idx - half;
  std::memmove(slot(home, at + 1), slot(home, at), (home->count - at) * sizeof(value_type));
  construct(slot(home, at));
  ++home->count;
  ++size_;
  const iterator result(this, home, at);

  // Push (separator, new node) up the path.
  alignas(Key) unsigned char up[sizeof(Key)];  // Key need not be default-constructible
  std::memcpy(up, &leaf_key(right, 0), sizeof(Key));
  NodeBase* added = right;
  for (int d = depth - 1;; --d) {
    if (d < 0) {  // the root split: a new root above it
      Inner* r = spare[next_spare++];
      r->count = 2;
      r->child[0] = root_;
      r->child[1] = added;
      std::memcpy(r->keys, up, sizeof(Key));
      root_ = r;
      ++height_;
      break;
    }
    Inner* n = path[d].node;
    const std::uint32_t pos = path[d].pos + 1;  // the new node goes right of the one that split
    if (n->count < kInnerSlots) {
      for (std::uint32_t i = n->count; i > pos; --i) n->child[i] = n->child[i - 1];
      std::memmove(n->keys + std::size_t{pos} * sizeof(Key), n->keys + std::size_t{pos - 1} * sizeof(Key),
                   (n->count - pos) * sizeof(Key));
      n->child[pos] = added;
      std::memcpy(n->keys + std::size_t{pos - 1} * sizeof(Key), up, sizeof(Key));
      ++n->count;
      break;
    }
    // Split a full inner node: lay out its kInnerSlots + 1 children and separators, then halve.
    NodeBase* kids[kInnerSlots + 1];
    alignas(Key) unsigned char seps[kInnerSlots * sizeof(Key)];
    for (std::uint32_t i = 0, j = 0; i <= kInnerSlots; ++i) kids[i] = i == pos ? added : n->child[j++].get();
    for (std::uint32_t i = 0, j = 0; i < kInnerSlots; ++i) {
      if (i == pos - 1)
        std::memcpy(seps + std::size_t{i} * sizeof(Key), up, sizeof(Key));
      else
        std::memcpy(seps + std::size_t{i} * sizeof(Key), n->keys + std::size_t{j++} * sizeof(Key), sizeof(Key));
    }
    Inner* sib = spare[next_spare++];
    const std::uint32_t left_kids = (kInnerSlots + 1) / 2;
    n->count = left_kids;
    for (std::uint32_t i = 0; i < left_kids; ++i) n->child[i] = kids[i];
    std::memcpy(n->keys, seps, (left_kids - 1) * sizeof(Key));
    sib->count = kInnerSlots + 1 - left_kids;
    for (std::uint32_t i = 0; i < sib->count; ++i) sib->child[i] = kids[left_kids + i];
    std::memcpy(sib->keys, seps + std::size_t{left_kids} * sizeof(Key), (sib->count - 1) * sizeof(Key));
    std::memcpy(up, seps + std::size_t{left_kids - 1} * sizeof(Key), sizeof(Key));
    added = sib;
  }
  return {result, true};
}

template <class Key, class Value, class Compare>
auto btree_map<Key, Value, Compare>::erase(const Key& k) noexcept -> size_type {
  if (!root_) return 0;
  Step path[kMaxDepth];
  auto [leaf, idx] = lower(k, path);
  if (idx == leaf->count || comp_(k, leaf_key(leaf, idx))) return 0;
  std::memmove(slot(leaf, idx), slot(leaf, idx + 1), (leaf->count - idx - 1) * sizeof(value_type));
  --leaf->count;
  --size_;
  if (leaf->count != 0 || height_ == 1) return 1;

  // An empty leaf leaves the tree (and the list); an inner node left with no child follows it.
  // Separators need no change: an empty range may keep its bounds.
  if (leaf->prev) leaf->prev->next = leaf->next; else first_ = leaf->next;
  if (leaf->next) leaf->next->prev = leaf->prev; else last_ = leaf->prev;
  free_node(leaf);
  for (int d = static_cast<int>(height_) - 2; d >= 0; --d) {
    Inner* n = path[d].node;
    const std::uint32_t pos = path[d].pos;
    for (std::uint32_t i = pos; i + 1 < n->count; ++i) n->child[i] = n->child[i + 1];
    // Child pos covered [sep(pos-1), sep(pos)): drop one of its bounds.
    const std::uint32_t drop = pos == 0 ? 0 : pos - 1;
    if (n->count >= 2)
      std::memmove(n->keys + std::size_t{drop} * sizeof(Key), n->keys + std::size_t{drop + 1} * sizeof(Key),
                   (n->count - 2 - drop) * sizeof(Key));
    --n->count;
    if (n->count != 0) break;
    free_node(n);  // the root never gets here: it had at least two children or a non-empty leaf
  }
  // A root with one child is a level too many.
  while (height_ > 1 && static_cast<Inner*>(root_.get())->count == 1) {
    Inner* old = static_cast<Inner*>(root_.get());
    root_ = old->child[0];
    free_node(old);
    --height_;
  }
  return 1;
}

namespace detail {
inline constexpr std::string_view kBtreeMapName = "shmkit::btree_map";
}  // namespace detail
template <class K, class V, class C>
struct type_name_of<btree_map<K, V, C>>
    : std::conditional_t<std::is_same_v<C, std::less<>>, detail::TemplateName<detail::kBtreeMapName, K, V>,
                         detail::TemplateName<detail::kBtreeMapName, K, V, C>> {};

}  // namespace shmkit
