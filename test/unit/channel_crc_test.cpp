// CRC-32C: the hardware (three streams and one), software and dispatching versions agree with
// each other and with Boost.CRC's reference implementation, at every length and alignment.
#define BOOST_TEST_MODULE channel_crc
#include <algorithm>
#include <boost/crc.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <vector>

#include "channel_crc.hpp"

using namespace shmkit::detail;

namespace {

using BoostCrc32c = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

std::uint32_t reference(const unsigned char* p, std::size_t n) {
  BoostCrc32c c;
  c.process_bytes(p, n);
  return c.checksum();
}

std::vector<unsigned char> random_bytes(std::size_t n) {
  std::vector<unsigned char> v(n);
  std::uint64_t x = 0x2545F4914F6CDD1DULL;
  for (auto& b : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<unsigned char>(x);
  }
  return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(known_vectors) {
  const char* nine = "123456789";
  BOOST_TEST(crc32c(0, nine, 9) == 0xE3069283u);
  BOOST_TEST(crc32c_software(0, nine, 9) == 0xE3069283u);
  BOOST_TEST(crc32c(0, nullptr, 0) == 0u);
  std::vector<unsigned char> zeros(32, 0);
  BOOST_TEST(crc32c(0, zeros.data(), 32) == 0x8A9136AAu);  // RFC 3720 B.4
  std::vector<unsigned char> ones(32, 0xFF);
  BOOST_TEST(crc32c(0, ones.data(), 32) == 0x62A8AB43u);
}

BOOST_AUTO_TEST_CASE(all_versions_agree_with_boost_crc) {
  const auto data = random_bytes((3 << 14) * 3 + 4096);
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n < 600; ++n) lengths.push_back(n);
  for (std::size_t n : {767u, 768u, 769u, 8191u, 24576u, 24577u, 24575u, 3u * 8192 + 3u * 256 + 7u, 65536u, 150000u})
    lengths.push_back(n);
  for (std::size_t n : lengths) {
    for (std::size_t offset : {0u, 1u, 3u, 7u}) {
      if (offset + n > data.size()) continue;
      const unsigned char* p = data.data() + offset;
      const std::uint32_t want = reference(p, n);
      BOOST_TEST_CONTEXT("length " << n << " offset " << offset) {
        BOOST_TEST(crc32c_software(0, p, n) == want);
        BOOST_TEST(crc32c(0, p, n) == want);
        if (crc32c_hardware_available()) {
          BOOST_TEST(crc32c_hardware(0, p, n) == want);
          BOOST_TEST(crc32c_hardware_one_stream(0, p, n) == want);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(chaining_equals_one_pass) {
  const auto data = random_bytes(100000);
  for (std::size_t split : {0u, 1u, 8u, 999u, 50000u, 99999u}) {
    const std::uint32_t first = crc32c(0, data.data(), split);
    BOOST_TEST(crc32c(first, data.data() + split, data.size() - split) == crc32c(0, data.data(), data.size()));
    BOOST_TEST(crc32c_software(crc32c_software(0, data.data(), split), data.data() + split, data.size() - split) ==
               crc32c(0, data.data(), data.size()));
  }
}

BOOST_AUTO_TEST_CASE(copy_and_checksum_in_one_pass) {
  std::vector<unsigned char> src(200'000);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 31 + (i >> 9));
  for (std::size_t off : {0u, 1u, 3u, 7u})
    for (std::size_t n : {0u, 1u, 7u, 64u, 1023u, 1024u, 4096u, 3u * 8192u + 5u, 199'000u}) {
      std::vector<unsigned char> dst(n + 16, 0xEE);
      const std::uint32_t crc = shmkit::detail::crc32c_copy(dst.data() + off, src.data() + off, n);
      BOOST_TEST(crc == shmkit::detail::crc32c_software(0, src.data() + off, n), "n " << n << " off " << off);
      BOOST_TEST(std::equal(src.begin() + off, src.begin() + off + n, dst.begin() + off), "n " << n << " off " << off);
      BOOST_TEST(dst[off + n] == 0xEE);  // nothing written past the end
    }
}
