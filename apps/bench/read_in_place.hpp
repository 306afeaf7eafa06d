// What a consumer of a zero-copy frame does in the benchmarks: read every word of it in place.
// Four independent lanes, so the loads are not serialised behind one XOR chain (a single chain
// reads 1 MiB at 26 GB/s here, four at 38, memcpy at 45): the zero-copy cases then measure the
// transport, not a slow reader. Plain C++17: the iceoryx companion uses it too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace shmkit::bench {

inline std::uint64_t read_in_place(const unsigned char* p, std::size_t n) {
  std::uint64_t a = 0, b = 0, c = 0, d = 0;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    std::uint64_t w[4];
    std::memcpy(w, p + i, 32);
    a ^= w[0];
    b ^= w[1];
    c ^= w[2];
    d ^= w[3];
  }
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    a ^= w;
  }
  return a ^ b ^ c ^ d;
}

}  // namespace shmkit::bench
