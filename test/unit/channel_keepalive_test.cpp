// A writer's keep_alive(): an idle writer stays "alive" to its readers; without it, "stalled".
// Time passing is the subject here, so the test lets it pass (1.5 s against a 1 s threshold).
#define BOOST_TEST_MODULE channel_keepalive
#include <boost/test/unit_test.hpp>
#include <thread>

#include "printing.hpp"
#include "shmkit/channel.hpp"
#include "temp_segment.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;

namespace shmkit {
inline std::ostream& operator<<(std::ostream& os, PeerState s) { return os << to_string(s); }
}  // namespace shmkit

BOOST_AUTO_TEST_CASE(idle_writer_with_keep_alive_stays_alive) {
  TempSegment t(Backend::named, 8 << 20);
  auto quiet = BroadcastWriter::create(*t, "quiet");
  auto kept = BroadcastWriter::create(*t, "kept");
  kept.keep_alive(10ms);
  BroadcastWriter moved = std::move(kept);  // the thread stamps the shared header, not the handle
  BroadcastReader quiet_reader(*t, "quiet");
  BroadcastReader kept_reader(*t, "kept");
  std::this_thread::sleep_for(1500ms);
  BOOST_TEST(quiet_reader.writer_state(1s) == PeerState::stalled);
  BOOST_TEST(kept_reader.writer_state(1s) == PeerState::alive);
  BOOST_TEST(channel_status(*t, "kept", 1s).heartbeat_age_ns < 1'000'000'000);
  BOOST_CHECK_THROW(moved.keep_alive(0ms), Error);
}
