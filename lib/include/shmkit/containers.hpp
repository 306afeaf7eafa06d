// STL-style containers that live in a segment: Boost.Container types over the segment allocator,
// wrapped in a scoped allocator adaptor so that nested containers (map<string, vector<int>>) pass
// the segment's allocator down to their elements: emplace("key", ...) just works.
//
// They read like std: on map<string, string>, kv["user"] = "bob", kv.at("port"),
// kv.try_emplace("k", "v"), kv.insert_or_assign(key, value) and find/contains/count/erase take
// const char*, std::string and std::string_view keys; new keys and values get the container's
// allocator without being named.
//
// Build them in a segment with Segment::construct<T>(name) (the allocator is passed for you), or
// anywhere with the allocator explicitly: shmkit::vector<int> v(segment.allocator()).
// They hold offset pointers only, so every process may map the segment at another address.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/container/deque.hpp>
#include <boost/container/flat_map.hpp>
#include <boost/container/map.hpp>
#include <boost/container/scoped_allocator.hpp>
#include <boost/container/set.hpp>
#include <boost/container/string.hpp>
#include <boost/container/vector.hpp>
#include <boost/unordered_map.hpp>
#include <boost/unordered_set.hpp>

#include "shmkit/allocator.hpp"
#include "shmkit/shareable.hpp"
#include "shmkit/type_name.hpp"

namespace shmkit {

template <class T>
using ScopedAllocator = boost::container::scoped_allocator_adaptor<Allocator<T>>;

// A string in a segment. Besides Boost's basic_string members: built from any std::string_view
// (std::string, const char*) plus an allocator, assigned from and compared with them, and
// viewed as a std::string_view.
class string : public boost::container::basic_string<char, std::char_traits<char>, Allocator<char>> {
  using Base = boost::container::basic_string<char, std::char_traits<char>, Allocator<char>>;

 public:
  static constexpr bool shmkit_shareable = true;
  using Base::Base;
  string(const string&) = default;
  string(string&&) = default;
  string& operator=(const string&) = default;
  string& operator=(string&&) = default;
  string(const string& other, const allocator_type& alloc) : Base(other, alloc) {}
  string(std::string_view s, const allocator_type& alloc) : Base(s.data(), s.size(), alloc) {}

  using Base::operator=;
  string& operator=(std::string_view s) {
    this->assign(s.data(), s.size());
    return *this;
  }

  std::string_view view() const noexcept { return {this->data(), this->size()}; }
  operator std::string_view() const noexcept { return view(); }  // NOLINT: implicit, like std::string
  bool contains(std::string_view s) const noexcept { return view().find(s) != std::string_view::npos; }
  bool starts_with(std::string_view s) const noexcept { return view().starts_with(s); }
  bool ends_with(std::string_view s) const noexcept { return view().ends_with(s); }

  friend bool operator==(const string& a, const string& b) noexcept { return a.view() == b.view(); }
  friend bool operator==(const string& a, std::string_view b) noexcept { return a.view() == b; }
  friend bool operator==(const string& a, const char* b) noexcept { return a.view() == b; }
  friend bool operator==(const string& a, const std::string& b) noexcept { return a.view() == b; }
  friend std::strong_ordering operator<=>(const string& a, const string& b) noexcept { return a.view() <=> b.view(); }
  friend std::strong_ordering operator<=>(const string& a, std::string_view b) noexcept { return a.view() <=> b; }
  friend std::strong_ordering operator<=>(const string& a, const char* b) noexcept {
    return a.view() <=> std::string_view(b);
  }
  friend std::strong_ordering operator<=>(const string& a, const std::string& b) noexcept {
    return a.view() <=> std::string_view(b);
  }
};

namespace detail {

// Keys that a container of shmkit::string keys looks up as a std::string_view: const char*,
// std::string, std::string_view (a shmkit::string itself is used as is).
template <class Key, class K>
inline constexpr bool is_string_lookup_v = std::is_same_v<Key, shmkit::string> &&
                                           !std::is_same_v<std::remove_cvref_t<K>, shmkit::string> &&
                                           std::is_convertible_v<const K&, std::string_view>;

template <class Key, class K>
decltype(auto) lookup_key(const K& k) noexcept {
  if constexpr (is_string_lookup_v<Key, K>)
    return std::string_view(k);
  else
    return (k);
}

// The std::map members built on a lookup layer's find and locate (the position of k, or where it
// would go, and whether it is there): at, try_emplace, insert_or_assign and operator[], with any
// key spelling; a new key and value get the map's allocator.
template <class Lookup>
class map_members : public Lookup {
 public:
  using typename Lookup::iterator;
  using typename Lookup::mapped_type;
  using Lookup::Lookup;

  template <class K>
  mapped_type& at(const K& k) {
    auto it = this->find(k);
    if (it == this->end()) throw std::out_of_range("shmkit map::at: no such key");
    return it->second;
  }
  template <class K>
  const mapped_type& at(const K& k) const {
    auto it = this->find(k);
    if (it == this->end()) throw std::out_of_range("shmkit map::at: no such key");
    return it->second;
  }
  template <class K, class... Args>
  std::pair<iterator, bool> try_emplace(K&& k, Args&&... args) {
    auto [it, found] = this->locate(k);
    if (found) return {it, false};
    return {this->emplace_hint(it, std::piecewise_construct, std::forward_as_tuple(std::forward<K>(k)),
                               std::forward_as_tuple(std::forward<Args>(args)...)),
            true};
  }
  template <class K, class M>
  std::pair<iterator, bool> insert_or_assign(K&& k, M&& m) {
    auto [it, found] = this->locate(k);
    if (found) {
      it->second = std::forward<M>(m);
      return {it, false};
    }
    return {this->emplace_hint(it, std::piecewise_construct, std::forward_as_tuple(std::forward<K>(k)),
                               std::forward_as_tuple(std::forward<M>(m))),
            true};
  }
  template <class K>
  mapped_type& operator[](K&& k) { return try_emplace(std::forward<K>(k)).first->second; }
};

// The lookups of a Boost ordered map with any key spelling, through the transparent comparator
// (std::less<> by default), so they never build a key (and never allocate in the segment).
template <class Base>
class ordered_map_api : public Base {
 public:
  using typename Base::const_iterator;
  using typename Base::iterator;
  using typename Base::key_type;
  using typename Base::size_type;
  using Base::Base;

  template <class K>
  iterator find(const K& k) { return Base::find(lookup_key<key_type>(k)); }
  template <class K>
  const_iterator find(const K& k) const { return Base::find(lookup_key<key_type>(k)); }
  template <class K>
  bool contains(const K& k) const { return find(k) != this->end(); }
  template <class K>
  size_type count(const K& k) const { return contains(k) ? 1 : 0; }
  template <class K>
  iterator lower_bound(const K& k) { return Base::lower_bound(lookup_key<key_type>(k)); }
  template <class K>
  const_iterator lower_bound(const K& k) const { return Base::lower_bound(lookup_key<key_type>(k)); }
  template <class K>
  iterator upper_bound(const K& k) { return Base::upper_bound(lookup_key<key_type>(k)); }
  template <class K>
  const_iterator upper_bound(const K& k) const { return Base::upper_bound(lookup_key<key_type>(k)); }

  // Where k is, or where it would go (the hint for emplace_hint), and whether it is there.
  template <class K>
  std::pair<iterator, bool> locate(const K& k) {
    iterator it = lower_bound(k);
    return {it, it != this->end() && !this->key_comp()(lookup_key<key_type>(k), it->first)};
  }

  using Base::erase;
  template <class K, class = std::enable_if_t<!std::is_convertible_v<K, const_iterator>>>
  size_type erase(const K& k) {
    iterator it = find(k);
    if (it == this->end()) return 0;
    Base::erase(it);
    return 1;
  }
};

// The same for ordered sets: lookups and erase with any key spelling, insert building the key.
template <class Base>
class ordered_set_api : public Base {
 public:
  using typename Base::const_iterator;
  using typename Base::iterator;
  using typename Base::key_type;
  using typename Base::size_type;
  using Base::Base;

  template <class K>
  const_iterator find(const K& k) const { return Base::find(lookup_key<key_type>(k)); }
  template <class K>
  bool contains(const K& k) const { return find(k) != this->end(); }
  template <class K>
  size_type count(const K& k) const { return contains(k) ? 1 : 0; }

  using Base::insert;
  template <class K, class = std::enable_if_t<is_string_lookup_v<key_type, K>>>
  std::pair<iterator, bool> insert(K&& k) {
    iterator it = Base::lower_bound(lookup_key<key_type>(k));
    if (it != this->end() && !this->key_comp()(lookup_key<key_type>(k), *it)) return {it, false};
    return {this->emplace_hint(it, std::forward<K>(k)), true};
  }

  using Base::erase;
  template <class K, class = std::enable_if_t<!std::is_convertible_v<K, const_iterator>>>
  size_type erase(const K& k) {
    const_iterator it = find(k);
    if (it == this->end()) return 0;
    Base::erase(it);
    return 1;
  }
};

}  // namespace detail

template <class T>
using vector = boost::container::vector<T, ScopedAllocator<T>>;

template <class T>
using deque = boost::container::deque<T, ScopedAllocator<T>>;

// std::less<> is transparent: lookups with std::string_view or const char* build no key.
template <class Key, class Value, class Compare = std::less<>>
class map : public detail::map_members<detail::ordered_map_api<
                boost::container::map<Key, Value, Compare, ScopedAllocator<std::pair<const Key, Value>>>>> {
 public:
  using detail::map_members<detail::ordered_map_api<
      boost::container::map<Key, Value, Compare, ScopedAllocator<std::pair<const Key, Value>>>>>::map_members;
};

template <class Key, class Compare = std::less<>>
class set : public detail::ordered_set_api<boost::container::set<Key, Compare, ScopedAllocator<Key>>> {
 public:
  using detail::ordered_set_api<boost::container::set<Key, Compare, ScopedAllocator<Key>>>::ordered_set_api;
};

template <class Key, class Value, class Compare = std::less<>>
class flat_map : public detail::map_members<detail::ordered_map_api<
                     boost::container::flat_map<Key, Value, Compare, ScopedAllocator<std::pair<Key, Value>>>>> {
 public:
  using detail::map_members<detail::ordered_map_api<
      boost::container::flat_map<Key, Value, Compare, ScopedAllocator<std::pair<Key, Value>>>>>::map_members;
};

// Hash for shmkit::string keys that also takes std::string_view and const char*.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  std::size_t operator()(const string& s) const noexcept { return std::hash<std::string_view>{}(s.view()); }
};

template <class Key>
struct DefaultHash : boost::hash<Key> {};
template <>
struct DefaultHash<string> : StringHash {};

namespace detail {

// Unordered lookups with another key spelling go through Boost's compatible-key find, with the
// string hash the container itself uses (DefaultHash<string>), so they build no key either.
template <class Base>
class unordered_lookup : public Base {
 public:
  using typename Base::const_iterator;
  using typename Base::iterator;
  using typename Base::key_type;
  using typename Base::size_type;
  using Base::Base;

  template <class K>
  iterator find(const K& k) {
    if constexpr (is_string_lookup_v<key_type, K>)
      return Base::find(std::string_view(k), hash_for_views(), std::equal_to<>());
    else
      return Base::find(k);
  }
  template <class K>
  const_iterator find(const K& k) const {
    if constexpr (is_string_lookup_v<key_type, K>)
      return Base::find(std::string_view(k), hash_for_views(), std::equal_to<>());
    else
      return Base::find(k);
  }
  template <class K>
  bool contains(const K& k) const { return find(k) != this->end(); }
  template <class K>
  size_type count(const K& k) const { return contains(k) ? 1 : 0; }

  using Base::erase;
  template <class K, class = std::enable_if_t<!std::is_convertible_v<K, const_iterator>>>
  size_type erase(const K& k) {
    auto it = find(k);
    if (it == this->end()) return 0;
    Base::erase(it);
    return 1;
  }

 private:
  static StringHash hash_for_views() {
    static_assert(std::is_base_of_v<StringHash, typename Base::hasher>,
                  "looking up a string key by std::string_view needs the container's hash to be shmkit::StringHash");
    return {};
  }
};

template <class Base>
class unordered_map_api : public unordered_lookup<Base> {
 public:
  using typename Base::iterator;
  using unordered_lookup<Base>::unordered_lookup;
  using unordered_lookup<Base>::find;

  template <class K>
  std::pair<iterator, bool> locate(const K& k) {
    iterator it = find(k);
    return {it, it != this->end()};
  }
};

}  // namespace detail

template <class Key, class Value, class Hash = DefaultHash<Key>, class Equal = std::equal_to<>>
class unordered_map : public detail::map_members<detail::unordered_map_api<
                          boost::unordered_map<Key, Value, Hash, Equal, ScopedAllocator<std::pair<const Key, Value>>>>> {
 public:
  using detail::map_members<detail::unordered_map_api<
      boost::unordered_map<Key, Value, Hash, Equal, ScopedAllocator<std::pair<const Key, Value>>>>>::map_members;
};

template <class Key, class Hash = DefaultHash<Key>, class Equal = std::equal_to<>>
class unordered_set
    : public detail::unordered_lookup<boost::unordered_set<Key, Hash, Equal, ScopedAllocator<Key>>> {
 public:
  using detail::unordered_lookup<boost::unordered_set<Key, Hash, Equal, ScopedAllocator<Key>>>::unordered_lookup;
};

// Containers are shareable when their elements are (shareable.hpp).
template <class T>
inline constexpr bool enable_shareable<boost::container::vector<T, ScopedAllocator<T>>> = is_shareable_v<T>;
template <class T>
inline constexpr bool enable_shareable<boost::container::deque<T, ScopedAllocator<T>>> = is_shareable_v<T>;
template <class K, class V, class C>
inline constexpr bool enable_shareable<map<K, V, C>> = is_shareable_v<K> && is_shareable_v<V>;
template <class K, class V, class C>
inline constexpr bool enable_shareable<flat_map<K, V, C>> = is_shareable_v<K> && is_shareable_v<V>;
template <class K, class C>
inline constexpr bool enable_shareable<set<K, C>> = is_shareable_v<K>;
template <class K, class V, class H, class E>
inline constexpr bool enable_shareable<unordered_map<K, V, H, E>> = is_shareable_v<K> && is_shareable_v<V>;
template <class K, class H, class E>
inline constexpr bool enable_shareable<unordered_set<K, H, E>> = is_shareable_v<K>;

// Their names as written, default arguments left out (type_name.hpp): the same for every compiler.
namespace detail {
inline constexpr std::string_view kVectorName = "shmkit::vector";
inline constexpr std::string_view kDequeName = "shmkit::deque";
inline constexpr std::string_view kMapName = "shmkit::map";
inline constexpr std::string_view kFlatMapName = "shmkit::flat_map";
inline constexpr std::string_view kSetName = "shmkit::set";
inline constexpr std::string_view kUnorderedMapName = "shmkit::unordered_map";
inline constexpr std::string_view kUnorderedSetName = "shmkit::unordered_set";

// Key, value and, when not the default, the comparator (or hash and equality).
template <const std::string_view& Prefix, class Default, class Extra, class... Args>
struct ContainerName
    : std::conditional_t<std::is_same_v<Default, Extra>, TemplateName<Prefix, Args...>, TemplateName<Prefix, Args..., Extra>> {};
}  // namespace detail

template <>
struct type_name_of<string> {
  static constexpr std::string_view value = "shmkit::string";
};
template <class T>
struct type_name_of<boost::container::vector<T, ScopedAllocator<T>>> : detail::TemplateName<detail::kVectorName, T> {};
template <class T>
struct type_name_of<boost::container::deque<T, ScopedAllocator<T>>> : detail::TemplateName<detail::kDequeName, T> {};
template <class K, class V, class C>
struct type_name_of<map<K, V, C>> : detail::ContainerName<detail::kMapName, std::less<>, C, K, V> {};
template <class K, class V, class C>
struct type_name_of<flat_map<K, V, C>> : detail::ContainerName<detail::kFlatMapName, std::less<>, C, K, V> {};
template <class K, class C>
struct type_name_of<set<K, C>> : detail::ContainerName<detail::kSetName, std::less<>, C, K> {};
template <class K, class V, class H, class E>
struct type_name_of<unordered_map<K, V, H, E>>
    : detail::ContainerName<detail::kUnorderedMapName, std::pair<DefaultHash<K>, std::equal_to<>>, std::pair<H, E>, K,
                            V> {};
template <class K, class H, class E>
struct type_name_of<unordered_set<K, H, E>>
    : detail::ContainerName<detail::kUnorderedSetName, std::pair<DefaultHash<K>, std::equal_to<>>, std::pair<H, E>,
                            K> {};

}  // namespace shmkit
