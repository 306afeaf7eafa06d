// Types shared by the memfd segment tests and their helper processes.
#pragma once

#include <atomic>
#include <cstdint>

#include "shmkit/shmkit.hpp"

namespace shmkit::test {

// A map a writer rebuilds under `mutex` round after round: after round r it holds keys
// 0..kBoardKeys-1, each a vector of board_length(r) copies of r. Readers check exactly that.
inline constexpr std::uint64_t kBoardKeys = 16;
inline constexpr std::uint64_t board_length(std::uint64_t round) { return 1 + round % 7; }
using BoardMap = shmkit::map<std::uint64_t, shmkit::vector<std::uint64_t>>;

struct Board {
  static constexpr bool shmkit_shareable = true;  // shmkit/shareable.hpp
  shmkit::Mutex mutex;
  std::uint64_t round = 0;  // guarded by mutex
  std::atomic<std::uint32_t> stop{0};
  std::atomic<std::uint64_t> checks{0};  // consistent reads by clients, one per attach
};

// What the "serve" helper fills its segment with: page-spanning data a reader can verify.
inline constexpr std::uint64_t kPatternWords = 512 * 1024;  // 4 MiB
inline constexpr std::uint64_t pattern(std::uint64_t i) { return i * 0x9E3779B97F4A7C15ULL; }

// What the adopt_memfd tests' creator leaves in its segment (values[i] == adopt_value(i)), and
// what the adopting child writes back (values[i] == adopted_value(i), its pid, a vector it
// allocates in the adopted segment: kAdoptedItems numbers adopted_value(0..)).
inline constexpr std::uint64_t kAdoptMagic = 0x61646f70742d6d66ULL;
inline constexpr std::size_t kAdoptValues = 1000;
inline constexpr std::size_t kAdoptedItems = 5000;
inline constexpr std::uint64_t adopt_value(std::uint64_t i) { return i * 7 + 3; }
inline constexpr std::uint64_t adopted_value(std::uint64_t i) { return i * 11 + 5; }
using AdoptedItems = shmkit::vector<std::uint64_t>;

struct AdoptRecord {
  std::uint64_t magic = kAdoptMagic;
  std::uint64_t values[kAdoptValues] = {};
  std::atomic<std::int32_t> child_pid{0};
};

}  // namespace shmkit::test
