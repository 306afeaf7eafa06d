// STL-style containers that live in a segment: Boost.Container types over the segment allocator,
// wrapped in a scoped allocator adaptor so that nested containers (map<string, vector<int>>) pass
// the segment's allocator down to their elements: emplace("key", ...) just works.
//
// Build them in a segment with Segment::construct<T>(name) (the allocator is passed for you), or
// anywhere with the allocator explicitly: shmkit::vector<int> v(segment.allocator()).
// They hold offset pointers only, so every process may map the segment at another address.
#pragma once

#include <functional>
#include <string_view>
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

namespace shmkit {

template <class T>
using ScopedAllocator = boost::container::scoped_allocator_adaptor<Allocator<T>>;

using string = boost::container::basic_string<char, std::char_traits<char>, Allocator<char>>;

template <class T>
using vector = boost::container::vector<T, ScopedAllocator<T>>;

template <class T>
using deque = boost::container::deque<T, ScopedAllocator<T>>;

// std::less<> is transparent: m.find(std::string_view{"key"}) works on map<shmkit::string, V>.
template <class Key, class Value, class Compare = std::less<>>
using map = boost::container::map<Key, Value, Compare, ScopedAllocator<std::pair<const Key, Value>>>;

template <class Key, class Compare = std::less<>>
using set = boost::container::set<Key, Compare, ScopedAllocator<Key>>;

template <class Key, class Value, class Compare = std::less<>>
using flat_map = boost::container::flat_map<Key, Value, Compare, ScopedAllocator<std::pair<Key, Value>>>;

// Hash for shmkit::string keys that also takes std::string_view and const char*.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  std::size_t operator()(const string& s) const noexcept {
    return std::hash<std::string_view>{}(std::string_view(s.data(), s.size()));
  }
};

template <class Key>
struct DefaultHash : boost::hash<Key> {};
template <>
struct DefaultHash<string> : StringHash {};

template <class Key, class Value, class Hash = DefaultHash<Key>, class Equal = std::equal_to<>>
using unordered_map =
    boost::unordered_map<Key, Value, Hash, Equal, ScopedAllocator<std::pair<const Key, Value>>>;

template <class Key, class Hash = DefaultHash<Key>, class Equal = std::equal_to<>>
using unordered_set = boost::unordered_set<Key, Hash, Equal, ScopedAllocator<Key>>;

}  // namespace shmkit
