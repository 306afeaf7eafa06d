// Channel stress between real processes (label: stress):
//  - broadcast: 10 million frames, three reader processes (one deliberately slow) check every
//    delivered frame bit for bit and in order, and delivered + lost = published;
//  - torn reads: a 4-slot ring of 4 KiB frames, a writer lapping readers that read slowly in
//    place and by copy: no corrupt frame is ever delivered (and tearing did happen);
//  - queue: 10 million frames exactly once, in order, with the writer blocked at times by a
//    reader that pauses;
//  - lossless broadcast: 10 million frames, three lossless readers (one slow, one killed with
//    SIGKILL midway): the two that live get every frame exactly once, in order; the killed one
//    is detached.
#define BOOST_TEST_MODULE channel_stress
#include <array>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "await.hpp"
#include "channel_fixture.hpp"
#include "lossless_scenario.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace chtest {  // named, not anonymous: test-case lambdas capture these types

struct Fixture : ChannelFixture {
  explicit Fixture(Backend b, std::size_t size = 16 << 20) : ChannelFixture(b, "shmkit-chs", size) {}
};

ChannelConfig config(std::uint32_t slots, std::uint32_t max_frame, Checksum c = Checksum::none) {
  return channel_config(slots, max_frame, c);
}

// Frame counts are the (10 M); a sanitizer build that runs 10-20x slower divides them
// by SHMKIT_STRESS_DIVISOR (test/sanitizers.cmake sets it for TSan), keeping every check.
std::uint64_t frames(std::uint64_t n) {
  const char* d = std::getenv("SHMKIT_STRESS_DIVISOR");
  const std::uint64_t divisor = d != nullptr ? std::strtoull(d, nullptr, 10) : 1;
  return divisor > 1 ? n / divisor : n;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A queue reader process that had to get all `total` frames: exited cleanly after `closed`,
// every frame delivered once, in order, bit for bit; the writer published them without a
// failure and was held up by the reader at least once.
void check_queue_delivered_all(Fixture& f, ChildProcess& reader, const QueueWriter& w, std::uint64_t total,
                               std::uint64_t failures) {
  const auto st = reader.wait(std::chrono::seconds(120));
  const ChildReport& r = f.report(0);
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(failures == 0u);
  BOOST_TEST(r.status.load() == static_cast<int>(Errc::closed));
  BOOST_TEST(r.delivered.load() == total);
  BOOST_TEST(r.mismatched.load() == 0u);
  BOOST_TEST(r.out_of_order.load() == 0u);
  BOOST_TEST(w.stats().full_waits > 0u);  // the writer was held up by the reader
}

}  // namespace chtest
using namespace chtest;

BOOST_DATA_TEST_CASE(broadcast_ten_million_frames_three_readers, bdata::make(test_backends()), backend) {
  const std::uint64_t kFrames = frames(10'000'000);
  constexpr std::uint32_t kMaxFrame = 128;
  Fixture f(backend);
  auto w = BroadcastWriter::create(*f.seg, "ch", config(8192, kMaxFrame));
  std::vector<ChildProcess> readers;
  readers.push_back(f.child("bcast-verify", 0, {"spin", "0", "0", "copy"}));
  readers.push_back(f.child("bcast-verify", 1, {"block", "0", "0", "peek"}));
  // Slow: 2 ms per 1000 frames (per 100 when frames are divided: a sanitized writer is slower too).
  readers.push_back(f.child("bcast-verify", 2, {"spin", std::to_string(frames(1000)), "2000", "copy"}));
  BOOST_REQUIRE(await([&] { return f.report(0).ready && f.report(1).ready && f.report(2).ready; }));
  const auto t0 = std::chrono::steady_clock::now();
  std::array<std::byte, kMaxFrame> buf{};
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    w.publish(std::span(buf.data(), fill_payload(i, buf)));
    // Pace the writer a little (yield every 4096 frames) so that on two cores the readers get
    // CPU time to keep up sometimes; it never waits for them.
    if (i % 4096 == 0) std::this_thread::yield();
  }
  const double publish_s = seconds_since(t0);
  w.close();
  for (int i = 0; i < 3; ++i) {
    const auto st = readers[i].wait(120s);
    const ChildReport& r = f.report(i);
    BOOST_TEST(st.ok(), "reader " << i << ": " << st.describe());
    BOOST_TEST(r.status.load() == static_cast<int>(Errc::closed));
    BOOST_TEST(r.mismatched.load() == 0u);
    BOOST_TEST(r.out_of_order.load() == 0u);
    BOOST_TEST(r.delivered.load() + r.lost.load() == kFrames, "reader " << i);
    BOOST_TEST(r.position.load() == kFrames);
    BOOST_TEST(r.delivered.load() > 0u);
    BOOST_TEST_MESSAGE("reader " << i << ": delivered " << r.delivered.load() << ", lost " << r.lost.load());
  }
  BOOST_TEST(f.report(2).lost.load() > 0u);  // the slow reader did fall behind
  BOOST_TEST_MESSAGE("published " << kFrames << " frames in " << publish_s << " s; total " << seconds_since(t0)
                                  << " s; wake calls " << w.stats().wake_calls);
}

BOOST_DATA_TEST_CASE(torn_reads_never_delivered, bdata::make(test_backends()), backend) {
  const std::uint64_t kFrames = frames(1'000'000);
  constexpr std::uint32_t kMaxFrame = 4096;
  Fixture f(backend);
  auto w = BroadcastWriter::create(*f.seg, "ch", config(4, kMaxFrame));
  std::vector<ChildProcess> readers;
  readers.push_back(f.child("bcast-verify", 0, {"busy", "1", "2", "peek"}));   // slow, in place
  readers.push_back(f.child("bcast-verify", 1, {"busy", "1", "2", "copy"}));   // slow, copy-out
  readers.push_back(f.child("bcast-verify", 2, {"spin", "0", "0", "peek"}));
  BOOST_REQUIRE(await([&] { return f.report(0).ready && f.report(1).ready && f.report(2).ready; }));
  std::array<std::byte, kMaxFrame> buf{};
  for (std::uint64_t i = 0; i < kFrames; ++i) w.publish(std::span(buf.data(), fill_payload(i, buf)));
  w.close();
  std::uint64_t torn = 0, lost = 0;
  for (int i = 0; i < 3; ++i) {
    const auto st = readers[i].wait(120s);
    const ChildReport& r = f.report(i);
    BOOST_TEST(st.ok(), "reader " << i << ": " << st.describe());
    BOOST_TEST(r.mismatched.load() == 0u);  // zero corrupt frames delivered
    BOOST_TEST(r.out_of_order.load() == 0u);
    BOOST_TEST(r.delivered.load() + r.lost.load() == kFrames);
    torn += r.torn_detected.load();
    lost += r.lost.load();
  }
  // The test means something only if the writer really overwrote frames under the readers.
  BOOST_TEST(lost > 0u);
  BOOST_TEST_MESSAGE("torn reads detected (post-check failed): " << torn << ", frames lost: " << lost);
}

BOOST_DATA_TEST_CASE(queue_ten_million_frames_exactly_once, bdata::make(test_backends()), backend) {
  const std::uint64_t kFrames = frames(10'000'000);
  constexpr std::uint32_t kMaxFrame = 64;
  Fixture f(backend);
  WriterOptions wo;
  wo.wait = WaitStrategy::spin_then_block();
  auto w = QueueWriter::create(*f.seg, "ch", config(1024, kMaxFrame, Checksum::crc32c), wo);
  // The reader pauses 20 ms every fifth of the frames (2 million): the writer fills the ring and blocks.
  auto reader = f.child("queue-verify", 0, {"spin", std::to_string(kFrames / 5), "20", "copy"});
  const auto t0 = std::chrono::steady_clock::now();
  std::array<std::byte, kMaxFrame> buf{};
  std::uint64_t failures = 0;
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    if (!w.publish(std::span(buf.data(), fill_payload(i, buf)), 30s)) ++failures;
  }
  const double publish_s = seconds_since(t0);
  w.close();
  check_queue_delivered_all(f, reader, w, kFrames, failures);
  BOOST_TEST_MESSAGE("queue: " << kFrames << " frames in " << publish_s << " s, writer found it full "
                               << w.stats().full_waits << " times, wake calls " << w.stats().wake_calls);
}

// publish_batch between processes: batches of 1 to 32 frames (sizes vary with the sequence),
// queue and broadcast. The queue's reader pauses, so the writer waits for room for whole
// batches and the reader, far behind, reads ahead of the slots (release-time refresh and
// prefetch); every frame arrives once, in order, bit for bit. The broadcast's readers (one in
// place, one slow) never see a torn or reordered frame, and delivered + lost = published.
namespace chtest {
// Publishes kFrames frames in batches; `publish` takes the batch's spans.
template <class Publish>
std::uint64_t publish_in_batches(std::uint64_t total, std::uint32_t max_frame, Publish&& publish) {
  std::vector<std::vector<std::byte>> bufs(32, std::vector<std::byte>(max_frame));
  std::vector<std::span<const std::byte>> batch;
  std::uint64_t failures = 0;
  for (std::uint64_t i = 0; i < total;) {
    const std::uint64_t n = std::min<std::uint64_t>(1 + (i * 7) % 32, total - i);
    batch.clear();
    for (std::uint64_t k = 0; k < n; ++k) {
      std::span<std::byte> b(bufs[k]);
      batch.emplace_back(b.data(), fill_payload(i + k, b));
    }
    if (!publish(batch)) ++failures;
    i += n;
  }
  return failures;
}
}  // namespace chtest

BOOST_DATA_TEST_CASE(queue_batches_exactly_once, bdata::make(test_backends()), backend) {
  const std::uint64_t kFrames = frames(2'000'000);
  constexpr std::uint32_t kMaxFrame = 64;
  Fixture f(backend);
  WriterOptions wo;
  wo.wait = WaitStrategy::spin_then_block();
  auto w = QueueWriter::create(*f.seg, "ch", config(1024, kMaxFrame, Checksum::crc32c), wo);
  auto reader = f.child("queue-verify", 0, {"spin", std::to_string(kFrames / 5), "20", "copy"});
  const std::uint64_t failures = publish_in_batches(kFrames, kMaxFrame, [&](std::span<const std::span<const std::byte>> b) {
    return static_cast<bool>(w.publish_batch(b, 30s));
  });
  w.close();
  BOOST_TEST(w.published() == kFrames);
  check_queue_delivered_all(f, reader, w, kFrames, failures);
}

BOOST_DATA_TEST_CASE(broadcast_batches_never_tear_or_reorder, bdata::make(test_backends()), backend) {
  const std::uint64_t kFrames = frames(2'000'000);
  constexpr std::uint32_t kMaxFrame = 128;
  Fixture f(backend);
  auto w = BroadcastWriter::create(*f.seg, "ch", config(256, kMaxFrame, Checksum::crc32c));
  std::vector<ChildProcess> readers;
  readers.push_back(f.child("bcast-verify", 0, {"spin", "0", "0", "peek"}));
  readers.push_back(f.child("bcast-verify", 1, {"spin", std::to_string(frames(1000)), "2000", "copy"}));  // slow
  BOOST_REQUIRE(await([&] { return f.report(0).ready && f.report(1).ready; }));
  std::uint64_t batches = 0;
  publish_in_batches(kFrames, kMaxFrame, [&](std::span<const std::span<const std::byte>> b) {
    w.publish_batch(b);
    if (++batches % 256 == 0) std::this_thread::yield();  // let the readers keep up sometimes
    return true;
  });
  w.close();
  BOOST_TEST(w.published() == kFrames);
  for (int i = 0; i < 2; ++i) {
    const auto st = readers[i].wait(120s);
    const ChildReport& r = f.report(i);
    BOOST_TEST(st.ok(), "reader " << i << ": " << st.describe());
    BOOST_TEST(r.status.load() == static_cast<int>(Errc::closed));
    BOOST_TEST(r.mismatched.load() == 0u);
    BOOST_TEST(r.out_of_order.load() == 0u);
    BOOST_TEST(r.delivered.load() + r.lost.load() == kFrames, "reader " << i);
    BOOST_TEST(r.delivered.load() > 0u);
  }
  BOOST_TEST(f.report(1).lost.load() > 0u);  // the slow reader was lapped
}

BOOST_DATA_TEST_CASE(lossless_broadcast_ten_million_frames_one_reader_killed, bdata::make(test_backends()), backend) {
  run_lossless_scenario(backend, frames(10'000'000));
}
