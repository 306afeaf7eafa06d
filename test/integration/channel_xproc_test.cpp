// Channels between real processes (exec'd helpers, each mapping the segment at its own
// address): blocking readers wake on publish, close reaches every reader, SIGKILL of a writer or
// of a queue's reader is reported to the other side within a second, and a reader handed a
// scribbled header fails with corrupt instead of crashing.
#define BOOST_TEST_MODULE channel_cross_process
#include <linux/membarrier.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <string>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "asleep.hpp"
#include "asymmetric_fence.hpp"
#include "await.hpp"
#include "channel_fixture.hpp"
#include "lossless_scenario.hpp"
#include "shmkit/detail/channel_layout.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace chtest {  // named, not anonymous: test-case lambdas capture these types

struct Fixture : ChannelFixture {
  explicit Fixture(Backend b, std::size_t size = 8 << 20) : ChannelFixture(b, "shmkit-chx", size) {}
};

ChannelConfig config(std::uint32_t slots, std::uint32_t max_frame, Checksum c = Checksum::none) {
  return channel_config(slots, max_frame, c);
}

const std::vector<std::string> kStrategies{"busy", "spin", "block"};

std::int64_t now_ns() { return detail::steady_now_ns(); }

bool kernel_has_membarrier() {
  const long cmds = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0U, 0);
  return cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0;
}

// Light fences need the platform's process-wide barrier (Linux membarrier); the portable platform
// has none, and its writers keep full fences on every frame: nothing for a reader to switch.
bool writer_uses_full_fences_only(const detail::ChannelHeader& h) {
  if (detail::enable_light_fences()) return false;
  BOOST_TEST(h.writer.light_fences.load() == 0u);
  BOOST_TEST(h.wait.full_fences.load() == 0u);
  return true;
}

// A single-threaded reader process that is counted as blocked and sleeps is in its futex wait,
// past its final check (asleep.hpp): the next frame must wake it.
bool sleeping(pid_t pid) { return process_sleeping(pid).value_or(false); }

}  // namespace chtest
using namespace chtest;

BOOST_DATA_TEST_CASE(blocked_readers_wake_on_publish, bdata::make(test_backends()), backend) {
  Fixture f(backend);
  auto w = BroadcastWriter::create(*f.seg, "ch", config(16, 64));
  std::vector<ChildProcess> readers;
  for (int i = 0; i < 3; ++i) readers.push_back(f.child("bcast-read", i, {"block", "1"}));
  // All three asleep in the kernel (counted, and in state S), not merely started.
  BOOST_REQUIRE(await([&] {
    return channel_status(*f.seg, "ch").blocked_readers == 3 && sleeping(readers[0].pid()) &&
           sleeping(readers[1].pid()) && sleeping(readers[2].pid());
  }));
  std::array<std::byte, 64> buf{};
  const std::int64_t t0 = now_ns();
  w.publish(std::span(buf.data(), fill_payload(0, buf)));
  for (int i = 0; i < 3; ++i) {
    const auto st = readers[i].wait(30s);
    BOOST_TEST(st.ok(), "reader " << i << ": " << st.describe());
    BOOST_TEST(f.report(i).delivered.load() == 1u);
    const std::int64_t woke_after = f.report(i).event_ns.load() - t0;
    BOOST_TEST(woke_after < 1'000'000'000, "woke after " << woke_after << " ns");
  }
  BOOST_TEST(w.stats().wake_calls == 1u);  // one wake for all three
}

// A writer publishes with light fences where the kernel has membarrier; a reader that may not
// call it (seccomp) asks for full fences before it sleeps, the writer switches at its next frame,
// and the reader is woken and gets every frame.
BOOST_DATA_TEST_CASE(reader_without_membarrier_turns_writer_to_full_fences, bdata::make(test_backends()), backend) {
  Fixture f(backend);
  auto w = BroadcastWriter::create(*f.seg, "ch", config(16, 64));
  auto& h = *reinterpret_cast<detail::ChannelHeader*>(f.seg->find_array<detail::BroadcastStorage>("ch").first);
  if (writer_uses_full_fences_only(h)) return;
  const bool kernel_has_it = kernel_has_membarrier();
  BOOST_TEST(h.writer.light_fences.load() == (kernel_has_it ? 1u : 0u));
  BOOST_TEST(h.wait.full_fences.load() == 0u);
  constexpr std::uint64_t kFrames = 3;
  auto reader = f.child("bcast-read-no-membarrier", 0, {"block", std::to_string(kFrames)});
  // Asleep in the kernel, after its failed heavy fence asked for full fences.
  BOOST_REQUIRE(await([&] { return channel_status(*f.seg, "ch").blocked_readers == 1 && sleeping(reader.pid()); }));
  BOOST_TEST(h.wait.full_fences.load() == detail::kFencesRequired);
  std::array<std::byte, 64> buf{};
  w.publish(std::span(buf.data(), fill_payload(0, buf)));
  BOOST_TEST(h.writer.light_fences.load() == 0u);  // switched before announcing that frame
  BOOST_REQUIRE(await([&] { return f.report(0).delivered.load() == 1; }));
  for (std::uint64_t i = 1; i < kFrames; ++i) {
    // Wait until the reader sleeps again, so each frame must wake it.
    BOOST_REQUIRE(await([&] { return channel_status(*f.seg, "ch").blocked_readers == 1 && sleeping(reader.pid()); }));
    w.publish(std::span(buf.data(), fill_payload(i, buf)));
  }
  const auto st = reader.wait(30s);
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(f.report(0).delivered.load() == kFrames);
  BOOST_TEST(f.report(0).mismatched.load() == 0u);
  BOOST_TEST(w.stats().wake_calls >= 1u);
  // Demanded, not requested: readers that stopped sleeping do not turn the writer back.
  for (std::uint32_t i = 0; i < 2 * detail::kLightAfterQuietFrames; ++i)
    w.publish(std::span(buf.data(), fill_payload(kFrames + i, buf)));
  BOOST_TEST(h.writer.light_fences.load() == 0u);
  BOOST_TEST(h.wait.full_fences.load() == detail::kFencesRequired);
  // A writer that attaches later starts with full fences: a reader asked for them.
  { const BroadcastWriter gone = std::move(w); }
  auto w2 = BroadcastWriter::attach(*f.seg, "ch");
  BOOST_TEST(h.writer.light_fences.load() == 0u);
}

// A reader that keeps going to sleep asks a light-fenced writer for full fences: it pays the
// heavy fence (membarrier: an IPI to the writer's CPU) for its first sleep only. Once no reader
// has been asleep at a publish for kLightAfterQuietFrames frames, the writer goes back to light
// fences, and a reader that sleeps again asks again.
BOOST_DATA_TEST_CASE(sleeping_reader_gets_full_fences_until_readers_stop_sleeping, bdata::make(test_backends()),
                     backend) {
  Fixture f(backend);
  auto w = BroadcastWriter::create(*f.seg, "ch", config(16, 64));
  auto& h = *reinterpret_cast<detail::ChannelHeader*>(f.seg->find_array<detail::BroadcastStorage>("ch").first);
  if (writer_uses_full_fences_only(h)) return;
  const bool light = kernel_has_membarrier();
  BOOST_TEST(h.writer.light_fences.load() == (light ? 1u : 0u));
  std::array<std::byte, 64> buf{};
  std::uint64_t seq = 0;
  for (int round = 0; round < 2; ++round) {
    constexpr std::uint64_t kFrames = 8;
    auto reader = f.child("bcast-read", round, {"block", std::to_string(kFrames), "next"});
    std::uint64_t fences_after_first = 0;
    for (std::uint64_t i = 0; i < kFrames; ++i) {
      // Asleep in its futex wait, so this frame has to wake it.
      BOOST_REQUIRE(await([&] { return channel_status(*f.seg, "ch").blocked_readers == 1 && sleeping(reader.pid()); }));
      w.publish(std::span(buf.data(), fill_payload(seq++, buf)));
      BOOST_TEST(h.writer.light_fences.load() == 0u);  // full fences from the frame that found the request
      BOOST_TEST(h.wait.full_fences.load() == (light ? detail::kFencesRequested : detail::kFencesAsWriterLikes));
      BOOST_REQUIRE(await([&] { return f.report(round).delivered.load() == i + 1; }));
      if (i == 0) fences_after_first = f.report(round).heavy_fences.load();
    }
    const auto st = reader.wait(30s);
    BOOST_TEST(st.ok(), st.describe());
    BOOST_TEST(f.report(round).mismatched.load() == 0u);
    BOOST_TEST(f.report(round).sleeps.load() >= kFrames);
    // One heavy fence per sleep until the writer switched, none after.
    BOOST_TEST(fences_after_first >= (light ? 1u : 0u));
    BOOST_TEST(f.report(round).heavy_fences.load() == fences_after_first);
    // Nobody asleep: the writer returns to light fences after exactly kLightAfterQuietFrames.
    for (std::uint32_t i = 0; i + 1 < detail::kLightAfterQuietFrames; ++i)
      w.publish(std::span(buf.data(), fill_payload(seq++, buf)));
    BOOST_TEST(h.writer.light_fences.load() == 0u);
    w.publish(std::span(buf.data(), fill_payload(seq++, buf)));
    BOOST_TEST(h.writer.light_fences.load() == (light ? 1u : 0u));
    BOOST_TEST(h.wait.full_fences.load() == detail::kFencesAsWriterLikes);
  }
}

BOOST_DATA_TEST_CASE(close_reaches_every_reader, bdata::make(test_backends()), backend) {
  Fixture f(backend);
  constexpr std::uint64_t kFrames = 1000;
  auto w = BroadcastWriter::create(*f.seg, "ch", config(2048, 64));
  std::vector<ChildProcess> readers;
  for (int i = 0; i < 3; ++i) readers.push_back(f.child("bcast-read", i, {kStrategies[i], "0"}));
  readers.push_back(f.child("bcast-poll", 3, {"0"}));  // an event loop on notification_fd()
  BOOST_REQUIRE(await([&] { return f.report(0).ready && f.report(1).ready && f.report(2).ready && f.report(3).ready; }));
  std::array<std::byte, 64> buf{};
  for (std::uint64_t i = 0; i < kFrames; ++i) w.publish(std::span(buf.data(), fill_payload(i, buf)));
  w.close();
  for (int i = 0; i < 4; ++i) {
    const auto st = readers[i].wait(30s);
    BOOST_TEST(st.ok(), "reader " << i << ": " << st.describe());
    BOOST_TEST(f.report(i).status.load() == static_cast<int>(Errc::closed));
    BOOST_TEST(f.report(i).delivered.load() == kFrames);  // the ring held them all: no loss
  }
}

BOOST_DATA_TEST_CASE(killed_writer_is_reported_dead_within_a_second, bdata::make(test_backends()), backend) {
  Fixture f(backend);
  auto writer = f.child("bcast-write-forever", 7, {"128", "128"});  // the ring holds all 100 frames
  BOOST_REQUIRE(await([&] { return f.control->created.load() == 1; }));
  std::vector<ChildProcess> readers;
  for (int i = 0; i < 3; ++i) readers.push_back(f.child("bcast-read", i, {kStrategies[i], "0"}));
  readers.push_back(f.child("bcast-poll", 3, {"0"}));  // an event loop on notification_fd()
  // Each reader drained the 100 frames and is waiting for more.
  BOOST_REQUIRE(await([&] {
    return f.report(0).delivered == 100 && f.report(1).delivered == 100 && f.report(2).delivered == 100 &&
           f.report(3).delivered == 100;
  }));
  BroadcastReader mine(*f.seg, "ch", {});
  BOOST_TEST(mine.writer_state() == PeerState::alive);
  const std::int64_t t0 = now_ns();
  writer.kill(SIGKILL);
  BOOST_REQUIRE_EQUAL(writer.wait().signal, SIGKILL);
  for (int i = 0; i < 4; ++i) {
    const auto st = readers[i].wait(30s);
    const char* how = i < 3 ? kStrategies[i].c_str() : "poll";
    BOOST_TEST(st.ok(), "reader " << i << ": " << st.describe());
    BOOST_TEST(f.report(i).status.load() == static_cast<int>(Errc::peer_gone));
    const std::int64_t after = f.report(i).event_ns.load() - t0;
    BOOST_TEST(after < 1'000'000'000, how << " reader noticed after " << after / 1000 << " us");
    BOOST_TEST_MESSAGE(how << " reader noticed the dead writer after " << after / 1000 << " us");
  }
  BOOST_TEST(mine.writer_state() == PeerState::dead);
  BOOST_TEST(channel_status(*f.seg, "ch").writer == PeerState::dead);
  // A new writer may take over from the dead one; sequences continue.
  auto w2 = BroadcastWriter::attach(*f.seg, "ch");
  BOOST_TEST(w2.published() == 100u);
}

BOOST_DATA_TEST_CASE(killed_queue_reader_is_reported_to_writer, bdata::make(test_backends()) * bdata::make(kStrategies),
                     backend, strategy) {
  Fixture f(backend);
  WriterOptions wo;
  wo.wait = strategy == "busy" ? WaitStrategy::busy_poll()
                               : strategy == "block" ? WaitStrategy::block() : WaitStrategy::spin_then_block();
  auto w = QueueWriter::create(*f.seg, "ch", config(4, 64), wo);
  std::array<std::byte, 64> buf{};
  BOOST_REQUIRE(w.try_publish(std::span(buf.data(), fill_payload(0, buf))));
  auto reader = f.child("queue-read-then-hang", 0);
  BOOST_REQUIRE(await([&] { return f.report(0).ready.load() == 1; }));
  BOOST_TEST(w.reader_state() == PeerState::alive);
  for (std::uint64_t i = 1; i <= 4; ++i) BOOST_REQUIRE(w.try_publish(std::span(buf.data(), fill_payload(i, buf))));
  // The writer is now blocked on a full queue (in a thread); the reader gets killed meanwhile.
  std::atomic<int> status{-1};
  std::atomic<std::int64_t> returned_ns{0};
  std::thread t([&] {
    status.store(static_cast<int>(w.publish(std::span(buf.data(), fill_payload(5, buf)), 30s).status));
    returned_ns.store(now_ns());
  });
  if (strategy != "busy") BOOST_REQUIRE(await([&] { return channel_status(*f.seg, "ch").blocked_writers == 1; }));
  const std::int64_t t0 = now_ns();
  reader.kill(SIGKILL);
  BOOST_REQUIRE_EQUAL(reader.wait().signal, SIGKILL);
  t.join();
  BOOST_TEST(status.load() == static_cast<int>(Errc::peer_gone));
  BOOST_TEST(returned_ns.load() - t0 < 1'000'000'000);
  BOOST_TEST(w.reader_state() == PeerState::dead);
  // Fail-fast publishing on the full queue says full; a new reader takes over the dead one's place.
  BOOST_TEST(w.try_publish(std::span(buf.data(), 8)).status == Errc::timeout);
  QueueReader next(*f.seg, "ch");
  std::array<std::byte, 64> in{};
  // The killed reader had read frame 0 and released it (it found the queue empty): 1.. follow.
  BOOST_TEST(next.try_read(in).frame.sequence == 1u);
}

BOOST_DATA_TEST_CASE(killed_queue_writer_is_reported_to_reader, bdata::make(test_backends()), backend) {
  Fixture f(backend);
  auto writer = f.child("queue-write-forever", 7, {"8", "64"});
  BOOST_REQUIRE(await([&] { return f.control->created.load() == 1; }));
  auto reader = f.child("queue-verify", 0, {"block", "0", "0"});
  BOOST_REQUIRE(await([&] { return channel_status(*f.seg, "ch").blocked_readers == 1; }));
  const std::int64_t t0 = now_ns();
  writer.kill(SIGKILL);
  BOOST_REQUIRE_EQUAL(writer.wait().signal, SIGKILL);
  const auto st = reader.wait(30s);
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(f.report(0).delivered.load() == 3u);  // what the writer published before it died
  BOOST_TEST(f.report(0).status.load() == static_cast<int>(Errc::peer_gone));
  BOOST_TEST(f.report(0).event_ns.load() - t0 < 1'000'000'000);
}

BOOST_DATA_TEST_CASE(reader_process_given_scribbled_header_gets_corrupt, bdata::make(test_backends()), backend) {
  for (const char* kind : {"broadcast", "queue"}) {
    Fixture f(backend);
    std::optional<BroadcastWriter> bw;
    std::optional<QueueWriter> qw;
    detail::ChannelHeader* h = nullptr;
    if (std::string(kind) == "broadcast") {
      bw.emplace(BroadcastWriter::create(*f.seg, "ch", config(8, 64)));
      h = reinterpret_cast<detail::ChannelHeader*>(f.seg->find_array<detail::BroadcastStorage>("ch").first);
    } else {
      qw.emplace(QueueWriter::create(*f.seg, "ch", config(8, 64)));
      h = reinterpret_cast<detail::ChannelHeader*>(f.seg->find_array<detail::QueueStorage>("ch").first);
    }
    h->config.slot_count = 1u << 20;  // far more slots than the object has room for
    auto child = f.child("open-and-read", 0, {kind});
    const auto st = child.wait(30s);
    BOOST_TEST(st.exited, kind << ": " << st.describe());
    BOOST_TEST(st.code == kExitCorrupt, kind << ": " << st.describe());
  }
}

// Lossless broadcast between processes, short (the stress suite runs it with 10 million frames):
// three lossless readers, one slow, one killed with SIGKILL midway.
BOOST_DATA_TEST_CASE(lossless_readers_get_every_frame_and_a_killed_one_is_detached, bdata::make(test_backends()),
                     backend) {
  run_lossless_scenario(backend, 300'000);
}
