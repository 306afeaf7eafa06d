// Types shared by platform_xproc_test and its helper process (platform_helper.cpp). Everything
// lives in one segment; the helper finds it by name, at an address of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "shmkit/shmkit.hpp"

namespace shmkit::test::xproc {

// The objects every case uses: locks, and semaphores for the handshakes between processes (a
// post is the event; every wait on one has a timeout).
struct Control {
  static constexpr bool shmkit_shareable = true;  // shmkit/shareable.hpp
  shmkit::Mutex mutex;
  shmkit::Condition changed;
  shmkit::SharedMutex rw;
  shmkit::Semaphore go{0};       // parent -> children: start now
  shmkit::Semaphore ready{0};    // child -> parent: holding / attached / done a step
  shmkit::Semaphore release{0};  // parent -> child: let go
  shmkit::Semaphore items{0};    // semaphore case: the units handed out
  shmkit::Semaphore acks{0};     // semaphore case: one per unit taken
  std::uint64_t counter = 0;     // under mutex
  std::uint64_t turns = 0;       // condition case: under mutex
  std::uint64_t a = 0;           // under rw (readers check a == b) or under mutex (owner-died case)
  std::uint64_t b = 0;
  std::uint64_t parent_control_at = 0;  // where this Control is mapped in the test's process
  std::int64_t child_pid = 0;           // containers case: the child's process id ...
  std::uint64_t child_control_at = 0;   // ... and where the Control it works on is mapped there
};

// Locked push_backs: id << 32 | i.
using Pushes = shmkit::vector<std::uint64_t>;
using Index = shmkit::map<shmkit::string, shmkit::vector<int>>;

// A Snapshot value whose words are all derived from `version`: a torn copy shows.
struct Sample {
  std::uint64_t version = 0;
  std::uint64_t words[15] = {};
};
inline Sample make_sample(std::uint64_t v) {
  Sample s;
  s.version = v;
  for (std::uint64_t i = 0; i < 15; ++i) s.words[i] = v * 0x9e3779b97f4a7c15ULL + i;
  return s;
}
inline bool sample_consistent(const Sample& s) {
  for (std::uint64_t i = 0; i < 15; ++i)
    if (s.words[i] != s.version * 0x9e3779b97f4a7c15ULL + i) return false;
  return true;
}

// Channel frames: 8 bytes of sequence, then 0..kMaxFrame-8 bytes (by sequence) of its low byte.
inline constexpr std::uint32_t kMaxFrame = 64;
inline std::size_t frame_size(std::uint64_t seq) { return 8 + static_cast<std::size_t>(seq % (kMaxFrame - 7)); }
inline std::span<const std::byte> fill_frame(std::uint64_t seq, std::span<std::byte> buf) {
  const std::size_t n = frame_size(seq);
  std::memcpy(buf.data(), &seq, 8);
  std::memset(buf.data() + 8, static_cast<int>(seq & 0xff), n - 8);
  return buf.first(n);
}
inline bool frame_ok(std::uint64_t seq, std::span<const std::byte> data) {
  if (data.size() != frame_size(seq)) return false;
  std::uint64_t got = 0;
  std::memcpy(&got, data.data(), 8);
  if (got != seq) return false;
  for (std::size_t i = 8; i < data.size(); ++i)
    if (data[i] != static_cast<std::byte>(seq & 0xff)) return false;
  return true;
}

}  // namespace shmkit::test::xproc
