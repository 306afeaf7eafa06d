// A frame damaged after it was published fails its checksum: the read reports corrupt, the
// frame is skipped, and the next frame reads normally (broadcast and queue).
#define BOOST_TEST_MODULE channel_checksum
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <array>
#include <cstring>
#include <optional>

#include "backends.hpp"
#include "temp_segment.hpp"
#include "child_process.hpp"
#include "printing.hpp"
#include "shmkit/channel.hpp"
#include "shmkit/segment.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace fixtures {

// Publishes `value` through a loan and returns where its payload lives in the slot.
template <class Loan>
std::byte* publish_value(Loan loan, std::uint64_t value) {
  std::byte* where = loan.data().data();
  std::memcpy(where, &value, sizeof value);
  loan.publish(sizeof value);
  return where;
}

template <class Reader>
std::uint64_t read_value(Reader& reader) {
  std::array<std::byte, 64> buf{};
  const ReadResult r = reader.read(buf, 5s);
  BOOST_REQUIRE(r.status == Errc::ok);
  std::uint64_t v = 0;
  std::memcpy(&v, r.data.data(), sizeof v);
  return v;
}

template <class Reader>
Error read_error(Reader& reader) {
  std::array<std::byte, 64> buf{};
  try {
    reader.read(buf, 5s);
  } catch (const Error& e) {
    return e;
  }
  BOOST_FAIL("a damaged frame was delivered");
  return Error(Errc::ok, "");
}

ChannelConfig config() {
  ChannelConfig c;
  c.slots = 8;
  c.max_frame = 64;
  c.checksum = Checksum::crc32c;
  return c;
}

}  // namespace fixtures
using namespace fixtures;

BOOST_DATA_TEST_CASE(broadcast_skips_a_damaged_frame, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  auto writer = BroadcastWriter::create(*t.segment, "c", config());
  BroadcastReader reader(*t.segment, "c");
  publish_value(writer.loan(), 1);
  std::byte* second = publish_value(writer.loan(), 2);
  publish_value(writer.loan(), 3);
  second[0] ^= std::byte{0x40};  // damage frame 1 after its checksum was taken
  BOOST_TEST(read_value(reader) == 1u);
  const Error e = read_error(reader);
  BOOST_TEST(e.errc() == Errc::corrupt);
  BOOST_TEST(std::string(e.what()).find("checksum") != std::string::npos);
  BOOST_TEST(read_value(reader) == 3u);
}

BOOST_DATA_TEST_CASE(queue_skips_a_damaged_frame, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  auto writer = QueueWriter::create(*t.segment, "q", config());
  QueueReader reader(*t.segment, "q");
  publish_value(writer.loan(1s), 1);
  std::byte* second = publish_value(writer.loan(1s), 2);
  publish_value(writer.loan(1s), 3);
  second[3] ^= std::byte{0x01};
  BOOST_TEST(read_value(reader) == 1u);
  BOOST_TEST(read_error(reader).errc() == Errc::corrupt);
  BOOST_TEST(read_value(reader) == 3u);
}
