// The lossless broadcast scenario the cross-process and stress suites share: one writer (this
// process) and three lossless reader processes, one slow, one killed with SIGKILL midway. The
// two that live receive every frame exactly once, in order, bit for bit; the killed one is
// detached (as dead) within the writer's liveness check, and the writer goes on without it.
#pragma once

#include <array>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "await.hpp"
#include "channel_fixture.hpp"

namespace shmkit::test {

inline void run_lossless_scenario(Backend backend, std::uint64_t frames) {
  using namespace std::chrono_literals;
  constexpr std::uint32_t kMaxFrame = 64;
  constexpr auto kLiveness = 100ms;
  ChannelFixture f(backend, "shmkit-llx", 16 << 20);
  WriterOptions wo;
  wo.wait = WaitStrategy::spin_then_block();
  wo.wait.liveness_check = kLiveness;
  wo.detach_after = 30s;  // only death detaches here: the slow reader must never be
  auto w = BroadcastWriter::create(*f.seg, "ch", channel_config(1024, kMaxFrame), wo);
  std::vector<ChildProcess> readers;
  readers.push_back(f.child("bcast-verify", 0, {"spin", "0", "0", "copy", "oldest", "lossless"}));
  // Slow: 1 ms of work every 8192 frames (the writer waits for it then).
  readers.push_back(f.child("bcast-verify", 1, {"block", "8192", "1000", "peek", "oldest", "lossless"}));
  // Killed: it stops reading after half the frames (holding the writer back from then on) and
  // is killed there, so the kill always lands midway whatever the scheduling.
  readers.push_back(f.child("bcast-verify", 2,
                            {"spin", "0", "0", "copy", "oldest", "lossless", std::to_string(frames / 2)}));
  BOOST_REQUIRE(await([&] { return f.report(0).ready && f.report(1).ready && f.report(2).ready; }));
  std::atomic<std::int64_t> killed_ns{0};
  std::thread killer([&] {
    if (await([&] { return f.report(2).delivered.load() >= frames / 2 || f.report(2).done.load() != 0; }, 120s) &&
        f.report(2).done.load() == 0) {
      readers[2].kill(SIGKILL);
      killed_ns = detail::steady_now_ns();
    }
  });
  std::int64_t detached_ns = 0;
  std::array<std::byte, kMaxFrame> buf{};
  std::array<std::array<std::byte, kMaxFrame>, 8> batch_bufs{};
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < frames;) {
    if (i % 4096 == 1000 && frames - i >= 8) {  // a batch of 8
      std::array<std::span<const std::byte>, 8> fr;
      for (std::uint64_t k = 0; k < 8; ++k) fr[k] = std::span(batch_bufs[k].data(), fill_payload(i + k, batch_bufs[k]));
      w.publish_batch(fr);
      i += 8;
    } else if (i % 4096 == 2000) {  // a loan
      FrameLoan l = w.loan();
      l.publish(fill_payload(i, l.data()));
      ++i;
    } else {
      w.publish(std::span(buf.data(), fill_payload(i, buf)));
      ++i;
    }
    if (detached_ns == 0 && w.stats().detached != 0) detached_ns = detail::steady_now_ns();
  }
  const double publish_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  w.close();
  killer.join();
  BOOST_REQUIRE(killed_ns.load() != 0);  // the reader was killed midway, not after the end
  for (int i = 0; i < 2; ++i) {
    const auto st = readers[i].wait(120s);
    const ChildReport& r = f.report(i);
    BOOST_TEST(st.ok(), "reader " << i << ": " << st.describe());
    BOOST_TEST(r.status.load() == static_cast<int>(Errc::closed));
    BOOST_TEST(r.delivered.load() == frames, "reader " << i);
    BOOST_TEST(r.lost.load() == 0u);
    BOOST_TEST(r.mismatched.load() == 0u);
    BOOST_TEST(r.out_of_order.load() == 0u);
    BOOST_TEST(r.torn_detected.load() == 0u);
    BOOST_TEST(r.position.load() == frames);
  }
  (void)readers[2].wait(10s);
  BOOST_TEST(f.report(2).delivered.load() == frames / 2);  // it died midway
  const ChannelStatus st = channel_status(*f.seg, "ch");
  BOOST_TEST(w.stats().detached == 1u);
  BOOST_TEST(st.detached_dead == 1u);
  BOOST_TEST(st.detached_slow == 0u);
  BOOST_TEST(w.stats().full_waits > 0u);  // the writer did wait for its readers
  // Detached within the liveness check once it held the writer back (a generous bound: the
  // ring fills within milliseconds of the kill on any machine that runs this).
  BOOST_REQUIRE(detached_ns != 0);
  const double detach_ms = static_cast<double>(detached_ns - killed_ns.load()) / 1e6;
  BOOST_TEST(detach_ms < 5000.0);
  BOOST_TEST_MESSAGE("lossless: " << frames << " frames in " << publish_s << " s; killed reader detached "
                                  << detach_ms << " ms after the kill (liveness check " << kLiveness.count()
                                  << " ms); writer waits " << w.stats().full_waits);
}

}  // namespace shmkit::test
