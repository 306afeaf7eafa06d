// Shared between reliability_test and its helper: what the creator writes, what readers check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace shmkit::test {

struct Record {
  std::uint64_t magic;
  std::uint64_t values[64];
};
inline constexpr std::uint64_t kRecordMagic = 0x0052454c49414231ULL;

inline void fill(Record& r) {
  r.magic = kRecordMagic;
  for (std::uint64_t i = 0; i < 64; ++i) r.values[i] = i * i + 7;
}
inline bool intact(const Record& r) {
  if (r.magic != kRecordMagic) return false;
  for (std::uint64_t i = 0; i < 64; ++i)
    if (r.values[i] != i * i + 7) return false;
  return true;
}

inline constexpr int kFrames = 100;
inline constexpr std::size_t kFrameBytes = 64;
// Frame i: its index in the first 8 bytes, then a pattern that depends on i.
inline void make_frame(std::uint64_t i, std::byte (&out)[kFrameBytes]) {
  std::memcpy(out, &i, sizeof i);
  for (std::size_t j = sizeof i; j < kFrameBytes; ++j) out[j] = static_cast<std::byte>((i * 31 + j) & 0xff);
}
inline bool frame_ok(std::uint64_t i, std::span<const std::byte> data) {
  std::byte want[kFrameBytes];
  make_frame(i, want);
  return data.size() == kFrameBytes && std::memcmp(data.data(), want, kFrameBytes) == 0;
}

}  // namespace shmkit::test
