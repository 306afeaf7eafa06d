// CRC-32C: table-driven everywhere, the SSE4.2 crc32 instruction where the CPU has it.
#include "channel_crc.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define SHMKIT_CRC_X86 1
#else
#define SHMKIT_CRC_X86 0
#endif

namespace shmkit::detail {
namespace {

constexpr std::uint32_t kPoly = 0x82F63B78;  // CRC-32C, bit-reflected

using Table = std::array<std::uint32_t, 256>;

// Slicing-by-8: table k advances a byte through k further zero bytes, so eight bytes are
// folded per step with eight independent lookups.
constexpr std::array<Table, 8> make_slicing_tables() {
  std::array<Table, 8> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ kPoly : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t k = 1; k < 8; ++k)
    for (std::size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  return t;
}
constexpr std::array<Table, 8> kSlicing = make_slicing_tables();

std::uint64_t load64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

#if SHMKIT_CRC_X86
// Combining interleaved streams: the CRC register is linear over GF(2), so
//   reg(A + B) = shift_|B|(reg(A)) ^ reg_from_zero(B),
// where shift_n appends n zero bytes. shift_n is a 32x32 bit matrix, applied here as four
// byte-indexed tables (computed at compile time from the one-byte table).
constexpr std::size_t kLongBlock = 8192;
constexpr std::size_t kShortBlock = 256;

constexpr std::array<Table, 4> make_shift_tables(std::size_t zero_bytes) {
  std::array<std::uint32_t, 32> column{};
  for (int bit = 0; bit < 32; ++bit) {
    std::uint32_t r = std::uint32_t{1} << bit;
    for (std::size_t n = 0; n < zero_bytes; ++n) r = kSlicing[0][r & 0xFF] ^ (r >> 8);
    column[static_cast<std::size_t>(bit)] = r;
  }
  std::array<Table, 4> t{};
  for (std::size_t k = 0; k < 4; ++k)
    for (std::uint32_t b = 0; b < 256; ++b) {
      std::uint32_t v = 0;
      for (std::size_t j = 0; j < 8; ++j)
        if ((b >> j) & 1) v ^= column[8 * k + j];
      t[k][b] = v;
    }
  return t;
}
constexpr std::array<Table, 4> kShiftLong = make_shift_tables(kLongBlock);
constexpr std::array<Table, 4> kShiftShort = make_shift_tables(kShortBlock);

std::uint64_t shift(const std::array<Table, 4>& t, std::uint64_t crc) noexcept {
  return t[0][crc & 0xFF] ^ t[1][(crc >> 8) & 0xFF] ^ t[2][(crc >> 16) & 0xFF] ^ t[3][(crc >> 24) & 0xFF];
}

void store64(unsigned char* d, std::uint64_t v) noexcept { std::memcpy(d, &v, sizeof v); }

// crc32 has a latency of 3 cycles and a throughput of 1: three independent streams keep the
// unit busy (about 3x one stream), then their registers are combined with shift().
// Copy: also stores every word loaded to `d` (copy and checksum in one pass over the source).
template <std::size_t Block, bool Copy>
__attribute__((target("sse4.2"))) void three_streams(std::uint64_t& c0, const unsigned char*& p, unsigned char*& d,
                                                     std::size_t& n, const std::array<Table, 4>& shift_table) noexcept {
  while (n >= 3 * Block) {
    std::uint64_t c1 = 0, c2 = 0;
    const unsigned char* const end = p + Block;
    do {
      const std::uint64_t w0 = load64(p), w1 = load64(p + Block), w2 = load64(p + 2 * Block);
      c0 = _mm_crc32_u64(c0, w0);
      c1 = _mm_crc32_u64(c1, w1);
      c2 = _mm_crc32_u64(c2, w2);
      if constexpr (Copy) {
        store64(d, w0);
        store64(d + Block, w1);
        store64(d + 2 * Block, w2);
        d += 8;
      }
      p += 8;
    } while (p < end);
    c0 = shift(shift_table, c0) ^ c1;
    c0 = shift(shift_table, c0) ^ c2;
    p += 2 * Block;
    if constexpr (Copy) d += 2 * Block;
    n -= 3 * Block;
  }
}

template <bool Copy>
__attribute__((target("sse4.2"))) std::uint32_t hardware(std::uint32_t crc, unsigned char* d, const void* data,
                                                         std::size_t n, bool interleave) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t c = ~crc;
  c &= 0xFFFFFFFFu;
  while (n > 0 && (reinterpret_cast<std::uintptr_t>(p) & 7) != 0) {
    if constexpr (Copy) *d++ = *p;
    c = _mm_crc32_u8(static_cast<std::uint32_t>(c), *p++);
    --n;
  }
  if (interleave) {
    three_streams<kLongBlock, Copy>(c, p, d, n, kShiftLong);
    three_streams<kShortBlock, Copy>(c, p, d, n, kShiftShort);
  }
  for (; n >= 8; n -= 8, p += 8) {
    const std::uint64_t w = load64(p);
    if constexpr (Copy) {
      store64(d, w);
      d += 8;
    }
    c = _mm_crc32_u64(c, w);
  }
  for (; n > 0; --n) {
    if constexpr (Copy) *d++ = *p;
    c = _mm_crc32_u8(static_cast<std::uint32_t>(c), *p++);
  }
  return ~static_cast<std::uint32_t>(c);
}

bool detect_hardware() noexcept {
  __builtin_cpu_init();  // may run before other static constructors
  return __builtin_cpu_supports("sse4.2") != 0;
}
#else
bool detect_hardware() noexcept { return false; }
#endif

const bool kHardware = detect_hardware();

}  // namespace

std::uint32_t crc32c_software(std::uint32_t crc, const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t c = ~crc;
  while (n > 0 && (reinterpret_cast<std::uintptr_t>(p) & 7) != 0) {
    c = kSlicing[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    --n;
  }
  for (; n >= 8; n -= 8, p += 8) {
    const std::uint64_t w = load64(p) ^ c;  // little-endian: the first byte is the low byte
    c = kSlicing[7][w & 0xFF] ^ kSlicing[6][(w >> 8) & 0xFF] ^ kSlicing[5][(w >> 16) & 0xFF] ^
        kSlicing[4][(w >> 24) & 0xFF] ^ kSlicing[3][(w >> 32) & 0xFF] ^ kSlicing[2][(w >> 40) & 0xFF] ^
        kSlicing[1][(w >> 48) & 0xFF] ^ kSlicing[0][w >> 56];
  }
  for (; n > 0; --n) c = kSlicing[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return ~c;
}

bool crc32c_hardware_available() noexcept { return kHardware; }

#if SHMKIT_CRC_X86
std::uint32_t crc32c_hardware(std::uint32_t crc, const void* data, std::size_t n) noexcept {
  return hardware<false>(crc, nullptr, data, n, true);
}
std::uint32_t crc32c_hardware_one_stream(std::uint32_t crc, const void* data, std::size_t n) noexcept {
  return hardware<false>(crc, nullptr, data, n, false);
}
#else
std::uint32_t crc32c_hardware(std::uint32_t crc, const void* data, std::size_t n) noexcept {
  return crc32c_software(crc, data, n);
}
std::uint32_t crc32c_hardware_one_stream(std::uint32_t crc, const void* data, std::size_t n) noexcept {
  return crc32c_software(crc, data, n);
}
#endif

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t n) noexcept {
  return kHardware ? crc32c_hardware(crc, data, n) : crc32c_software(crc, data, n);
}

std::uint32_t crc32c_copy(void* dst, const void* src, std::size_t n) noexcept {
#if SHMKIT_CRC_X86
  // Small frames: two passes over L1 cost less than the fused loop's setup.
  if (kHardware && n >= 1024) return hardware<true>(0, static_cast<unsigned char*>(dst), src, n, true);
#endif
  std::memcpy(dst, src, n);
  return crc32c(0, dst, n);
}

}  // namespace shmkit::detail
