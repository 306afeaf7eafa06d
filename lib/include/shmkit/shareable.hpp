// What may live in a segment, decided at compile time: Segment::construct<T> refuses any other T.
//
// A type is shareable when its bytes mean the same in every process that maps the segment:
//  - trivially copyable types (int, double, fixed-size structs and arrays of them);
//  - shmkit's containers (string, vector, deque, map, set, flat_map, unordered_map/set,
//    btree_map) of shareable elements, shmkit's sync types (Mutex, Condition, SharedMutex,
//    Semaphore, Snapshot<T>) and lock-free std::atomic<T> of shareable T;
//  - types that say so, in one line inside the type:
//        struct Registry { shmkit::map<shmkit::string, int> ids; shmkit::Mutex lock;
//                          static constexpr bool shmkit_shareable = true; };
//    or, for a type you cannot edit: template <> inline constexpr bool shmkit::enable_shareable<T> = true;
//    Marking promises every member is shareable: no std::string, std::vector or raw pointer (they
//    point into one process's heap, and another process reading them crashes).
#pragma once

#include <atomic>
#include <cstddef>
#include <type_traits>

namespace shmkit {

// Specialize to true (or false) for a type you cannot add shmkit_shareable to.
template <class T>
inline constexpr bool enable_shareable = std::is_trivially_copyable_v<T>;

template <class T>
  requires requires { T::shmkit_shareable; }
inline constexpr bool enable_shareable<T> = T::shmkit_shareable;

template <class T>
inline constexpr bool is_shareable_v = enable_shareable<std::remove_cv_t<T>>;

template <class T>
inline constexpr bool enable_shareable<std::atomic<T>> = std::atomic<T>::is_always_lock_free && is_shareable_v<T>;

template <class T, std::size_t N>
inline constexpr bool enable_shareable<T[N]> = is_shareable_v<T>;

class Mutex;
class RecursiveMutex;
class Condition;
class SharedMutex;
class Semaphore;
template <class T>
class Snapshot;
template <>
inline constexpr bool enable_shareable<Mutex> = true;
template <>
inline constexpr bool enable_shareable<RecursiveMutex> = true;
template <>
inline constexpr bool enable_shareable<Condition> = true;
template <>
inline constexpr bool enable_shareable<SharedMutex> = true;
template <>
inline constexpr bool enable_shareable<Semaphore> = true;
template <class T>
inline constexpr bool enable_shareable<Snapshot<T>> = is_shareable_v<T>;

template <class T>
concept Shareable = is_shareable_v<T>;

}  // namespace shmkit
