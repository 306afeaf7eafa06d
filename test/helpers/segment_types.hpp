// Types shared by the segment tests and their helper processes.
#pragma once

#include <atomic>
#include <cstdint>

#include "shmkit/shmkit.hpp"

namespace shmkit::test {

using MapOfVectors = shmkit::map<shmkit::string, shmkit::vector<int>>;
// Filled by the test with keys 0..kTreeKeys-1 (value 3k); a helper erases the even ones and adds
// kTreeKeys..2*kTreeKeys-1.
using CounterTree = shmkit::btree_map<std::uint64_t, std::uint64_t>;
inline constexpr std::uint64_t kTreeKeys = 20'000;

// A bounded queue of integers in a segment: deque + Mutex + two Conditions.
struct HandoffQueue {
  static constexpr bool shmkit_shareable = true;  // shmkit/shareable.hpp
  shmkit::Mutex mutex;
  shmkit::Condition not_empty;
  shmkit::Condition not_full;
  std::uint64_t capacity = 256;
  bool producer_done = false;
  // Written by the consumer when it finishes.
  std::uint64_t received = 0;
  std::uint64_t out_of_order = 0;
};

// A record that must never be seen half-written: all values equal.
struct GuardedRecord {
  static constexpr bool shmkit_shareable = true;  // shmkit/shareable.hpp
  shmkit::SharedMutex lock;
  std::uint64_t values[32] = {};
  std::atomic<std::uint32_t> writer_done{0};
  std::atomic<std::uint32_t> readers_started{0};
};

// A robust-mutex victim: the child takes the lock, breaks the invariant a == b, then waits to be killed.
struct RobustVictim {
  static constexpr bool shmkit_shareable = true;  // shmkit/shareable.hpp
  shmkit::Mutex mutex;
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::atomic<std::uint32_t> locked_by_child{0};
};

// Growth tests: the values the test writes while a helper grows the segment (value = 3 * index + 1).
using GrowValues = shmkit::deque<std::uint64_t>;
inline std::uint64_t grow_value(std::uint64_t i) { return 3 * i + 1; }

}  // namespace shmkit::test
