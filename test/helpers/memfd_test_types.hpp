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
  shmkit::Mutex mutex;
  std::uint64_t round = 0;  // guarded by mutex
  std::atomic<std::uint32_t> stop{0};
  std::atomic<std::uint64_t> checks{0};  // consistent reads by clients, one per attach
};

// What the "serve" helper fills its segment with: page-spanning data a reader can verify.
inline constexpr std::uint64_t kPatternWords = 512 * 1024;  // 4 MiB
inline constexpr std::uint64_t pattern(std::uint64_t i) { return i * 0x9E3779B97F4A7C15ULL; }

}  // namespace shmkit::test
