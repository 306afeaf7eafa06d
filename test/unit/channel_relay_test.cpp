// Relaying frames (publish_after_gap): upstream gaps reach readers of both kinds in
// ReadResult::lost with the frame that follows them, and tools in ChannelStatus::upstream_lost;
// a slot reused on the next lap does not repeat an old gap.
#define BOOST_TEST_MODULE channel_relay
#include <array>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>

#include "channel_fixture.hpp"
#include "expect_errc.hpp"
#include "shmkit/channel.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace {

std::array<std::byte, 8> frame(std::uint64_t v) {
  std::array<std::byte, 8> b{};
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}

std::uint64_t value(std::span<const std::byte> d) {
  std::uint64_t v = 0;
  BOOST_TEST_REQUIRE(d.size() == sizeof v);
  std::memcpy(&v, d.data(), sizeof v);
  return v;
}

}  // namespace

BOOST_DATA_TEST_CASE(queue_reports_upstream_gaps, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-relay");
  auto w = QueueWriter::create(*s, "q", channel_config(4, 64, Checksum::crc32c));
  QueueReader r(*s, "q");
  std::array<std::byte, 64> buf{};
  // Upstream frames 0..11 with 3, 4 and 9 missing; across several laps of the 4-slot ring.
  const std::uint64_t upstream[] = {0, 1, 2, 5, 6, 7, 8, 10, 11};
  std::uint64_t expected = 0, received = 0, lost = 0;
  for (std::uint64_t u : upstream) {
    BOOST_TEST_REQUIRE(w.publish_after_gap(frame(u), u - expected, 0ns).status == Errc::ok);
    expected = u + 1;
    auto res = r.read(buf, 1s);
    BOOST_TEST_REQUIRE(res.status == Errc::ok);
    BOOST_TEST(value(res.data) == u);
    BOOST_TEST(res.lost == (u == 5 ? 2U : u == 10 ? 1U : 0U));
    lost += res.lost;
    ++received;
  }
  BOOST_TEST(received + lost == 12U);
  BOOST_TEST(r.lost() == 3U);
  BOOST_TEST(w.upstream_lost() == 3U);
  BOOST_TEST(channel_status(*s, "q").upstream_lost == 3U);
  // Ordinary publishes after a lap: the reused slots report no gap.
  for (std::uint64_t i = 0; i < 8; ++i) {
    BOOST_TEST_REQUIRE(w.publish(frame(100 + i), 0ns).status == Errc::ok);
    auto res = r.read(buf, 1s);
    BOOST_TEST_REQUIRE(res.status == Errc::ok);
    BOOST_TEST(res.lost == 0U);
  }
  BOOST_TEST(r.lost() == 3U);
}

BOOST_DATA_TEST_CASE(queue_gap_not_counted_when_not_published, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-relay");
  auto w = QueueWriter::create(*s, "q", channel_config(2, 64));
  QueueReader r(*s, "q");
  BOOST_TEST_REQUIRE(w.try_publish(frame(0)).status == Errc::ok);
  BOOST_TEST_REQUIRE(w.try_publish(frame(1)).status == Errc::ok);
  // Full: the gap is not stamped anywhere, and the retry carries it.
  BOOST_TEST(w.publish_after_gap(frame(7), 5, 0ns).status == Errc::timeout);
  BOOST_TEST(w.upstream_lost() == 0U);
  std::array<std::byte, 64> buf{};
  BOOST_TEST(r.read(buf, 1s).lost == 0U);
  BOOST_TEST(r.read(buf, 1s).lost == 0U);
  BOOST_TEST_REQUIRE(w.try_publish(frame(2)).status == Errc::ok);
  BOOST_TEST(r.read(buf, 1s).lost == 0U);  // the refused gap did not leak into the next frame
  BOOST_TEST_REQUIRE(w.publish_after_gap(frame(7), 5, 0ns).status == Errc::ok);
  auto res = r.read(buf, 1s);
  BOOST_TEST(value(res.data) == 7U);
  BOOST_TEST(res.lost == 5U);
  BOOST_TEST(w.upstream_lost() == 5U);
}

BOOST_DATA_TEST_CASE(broadcast_adds_upstream_gaps_to_lost, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-relay");
  auto w = BroadcastWriter::create(*s, "b", channel_config(4, 64));
  BroadcastReader r(*s, "b");
  BroadcastReader peeker(*s, "b", {.wait = {}, .start = StartAt::oldest, .register_reader = false});
  w.publish_after_gap(frame(0), 0);
  w.publish_after_gap(frame(3), 2);
  w.publish(frame(4));
  std::array<std::byte, 64> buf{};
  std::uint64_t lost = 0, received = 0;
  while (auto res = r.try_read(buf)) {
    lost += res.lost;
    ++received;
    if (value(res.data) == 3) BOOST_TEST(res.lost == 2U);
  }
  BOOST_TEST(received == 3U);
  BOOST_TEST(lost == 2U);
  BOOST_TEST(r.lost() == 2U);
  // In-place reads report it too.
  std::uint64_t peek_lost = 0;
  for (int i = 0; i < 3; ++i) {
    auto res = peeker.try_peek();
    BOOST_TEST_REQUIRE(res.status == Errc::ok);
    peek_lost += res.lost;
    BOOST_TEST(peeker.finish());
  }
  BOOST_TEST(peek_lost == 2U);
  // Lapped by the writer on top of an upstream gap: both count, and the sum stays exact.
  for (std::uint64_t u = 5; u < 15; ++u) w.publish(frame(u));
  w.publish_after_gap(frame(20), 5);
  std::uint64_t more_lost = 0, more_received = 0;
  while (auto res = r.try_read(buf)) {
    more_lost += res.lost;
    ++more_received;
  }
  BOOST_TEST(more_received + more_lost == 21U - 5U);
  BOOST_TEST(w.upstream_lost() == 7U);
  BOOST_TEST(channel_status(*s, "b").upstream_lost == 7U);
}
