// Types shared by the semaphore / snapshot / file-backend tests and their helper processes.
#pragma once

#include <atomic>
#include <cstdint>

#include "shmkit/semaphore.hpp"
#include "shmkit/snapshot.hpp"

namespace shmkit::test {

// Bookkeeping of the cross-process pool-limiter test: how many holders are inside at once.
struct PoolStats {
  std::atomic<std::uint32_t> arrived{0};   // children at the start gate
  std::atomic<std::uint32_t> go{0};        // the parent opens the gate
  std::atomic<std::int32_t> active{0};     // holders inside the pool right now
  std::atomic<std::int32_t> max_active{0};
  std::atomic<std::uint64_t> entries{0};
  std::atomic<std::uint32_t> waiter_parked{0};  // the dead-waiter test's child is about to block
};

// A value whose fields must always agree: every word equals `stamp`, and stamp equals the version
// it was stored as. A torn copy mixes two stamps.
struct Pose {
  std::uint64_t stamp;
  std::uint64_t words[23];
};
static_assert(sizeof(Pose) == 192);

inline Pose make_pose(std::uint64_t stamp) {
  Pose p{};
  p.stamp = stamp;
  for (auto& w : p.words) w = stamp;
  return p;
}

inline bool pose_consistent(const Pose& p) {
  for (auto w : p.words)
    if (w != p.stamp) return false;
  return true;
}

inline constexpr int kMaxReaders = 8;

struct SnapshotStats {
  std::atomic<std::uint32_t> readers_ready{0};
  std::atomic<std::uint32_t> writer_done{0};
  struct Reader {
    std::atomic<std::uint64_t> reads{0};
    std::atomic<std::uint64_t> inconsistent{0};      // fields disagree with each other
    std::atomic<std::uint64_t> version_mismatch{0};  // stamp != version it was returned with
    std::atomic<std::uint64_t> went_backwards{0};    // a later load returned an older version
    std::atomic<std::uint64_t> distinct_versions{0};
    std::atomic<std::uint32_t> finished{0};
  } readers[kMaxReaders];
};

// A record a helper keeps rewriting in a file segment until it is killed (all values equal
// after each complete update).
struct FileRecord {
  std::atomic<std::uint32_t> child_state{0};  // 1: updating, 2: holding the manager's lock
  std::atomic<std::uint64_t> updates{0};
  std::uint64_t values[512] = {};
};

// The data a helper writes into a file segment: numbers[i] == i * i + salt.
inline std::uint64_t file_value(std::uint64_t i) { return i * i + 12345; }

}  // namespace shmkit::test
