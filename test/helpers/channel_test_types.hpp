// Shared by the channel tests and their helper processes: frame payloads derived from the
// sequence number (so any process can check a frame bit for bit), and a control block the
// test places in the segment to coordinate with, and collect results from, its children.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "shmkit/channel.hpp"
#include "shmkit/segment.hpp"

#include <ostream>

#include "printing.hpp"

// Lets Boost.Test print channel values in failed checks.
namespace shmkit {
inline std::ostream& operator<<(std::ostream& os, PeerState s) { return os << to_string(s); }
inline std::ostream& operator<<(std::ostream& os, Checksum c) { return os << to_string(c); }
inline std::ostream& operator<<(std::ostream& os, ChannelKind k) { return os << to_string(k); }
inline std::ostream& operator<<(std::ostream& os, const WaitStrategy& w) { return os << to_string(w.kind); }
inline std::ostream& operator<<(std::ostream& os, const ReadResult& r) {
  return os << "ReadResult{" << to_string(r.status) << ", seq " << r.frame.sequence << ", " << r.frame.size
            << " bytes, lost " << r.lost << "}";
}
}  // namespace shmkit

namespace shmkit::test {

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Frame `seq` has 8..max_frame bytes: the sequence itself, then a stream seeded by it.
inline std::size_t payload_size(std::uint64_t seq, std::size_t max_frame) {
  std::uint64_t s = seq * 7919 + 17;
  return 8 + static_cast<std::size_t>(splitmix64(s) % (max_frame - 7));
}

inline std::size_t fill_payload(std::uint64_t seq, std::span<std::byte> out) {
  const std::size_t n = payload_size(seq, out.size());
  std::memcpy(out.data(), &seq, 8);
  std::uint64_t state = seq;
  for (std::size_t i = 8; i < n; i += 8) {
    const std::uint64_t w = splitmix64(state);
    std::memcpy(out.data() + i, &w, std::min<std::size_t>(8, n - i));
  }
  return n;
}

// True if `data` is exactly frame `seq` of a channel with frames up to `max_frame` bytes.
inline bool payload_matches(std::uint64_t seq, std::span<const std::byte> data, std::size_t max_frame) {
  if (data.size() != payload_size(seq, max_frame)) return false;
  std::uint64_t first;
  std::memcpy(&first, data.data(), 8);
  if (first != seq) return false;
  std::uint64_t state = seq;
  for (std::size_t i = 8; i < data.size(); i += 8) {
    const std::uint64_t w = splitmix64(state);
    if (std::memcmp(data.data() + i, &w, std::min<std::size_t>(8, data.size() - i)) != 0) return false;
  }
  return true;
}

inline constexpr int kMaxChildren = 8;

// Per child: what it reports back.
struct ChildReport {
  std::atomic<std::uint32_t> ready{0};       // opened its endpoint and is about to wait/read
  std::atomic<std::uint32_t> done{0};
  std::atomic<std::int32_t> status{-1};      // shmkit::Errc of its last read/publish
  std::atomic<std::uint64_t> delivered{0};   // frames received (or published)
  std::atomic<std::uint64_t> lost{0};        // frames reported lost
  std::atomic<std::uint64_t> mismatched{0};  // frames delivered whose bytes were wrong
  std::atomic<std::uint64_t> out_of_order{0};
  std::atomic<std::uint64_t> torn_detected{0};  // peeks whose post-check failed (broadcast)
  std::atomic<std::uint64_t> position{0};    // reader cursor at the end
  std::atomic<std::int64_t> event_ns{0};     // steady ns of the event it waited for
  std::atomic<std::uint64_t> sleeps{0};       // ReaderStats, as of the last frame delivered
  std::atomic<std::uint64_t> heavy_fences{0};
};

struct ChannelTestControl {
  std::atomic<std::uint32_t> created{0};  // a child created the channel
  std::atomic<std::uint32_t> go{0};
  std::atomic<std::uint32_t> stop{0};
  std::atomic<std::uint64_t> published{0};
  ChildReport child[kMaxChildren];
};

// Exit codes of shmkit-test-channel-helper.
inline constexpr int kExitOk = 0;
inline constexpr int kExitMismatch = 2;
inline constexpr int kExitError = 3;
inline constexpr int kExitUsage = 4;
inline constexpr int kExitCorrupt = 5;
inline constexpr int kExitUnexpected = 6;

}  // namespace shmkit::test

#include <optional>

#include "temp_segment.hpp"
#include <string>

namespace shmkit::test {

// A segment for one test, removed afterwards.
using ScratchSegment = TempSegment;

inline std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
inline std::string string_of(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace shmkit::test
