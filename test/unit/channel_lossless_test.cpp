// Lossless broadcast, in one process (threads where a second party is needed): every frame to
// every lossless reader by publish, publish_batch and loans, lossy readers beside them, the
// writer held back and released, detaching a reader that holds it back too long (continue
// lossy, or fail), leaving the set, what channel_status shows, argument errors.
// Runs under ThreadSanitizer too.
#define BOOST_TEST_MODULE channel_lossless
#include <array>
#include <atomic>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "await.hpp"
#include "channel_fixture.hpp"
#include "expect_errc.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace lltest {  // named: test-case lambdas capture these types

ReaderOptions lossless(WaitStrategy w = WaitStrategy::spin_then_block(), OnDetach d = OnDetach::continue_lossy) {
  ReaderOptions o;
  o.wait = w;
  o.delivery = Delivery::lossless;
  o.on_detach = d;
  return o;
}

WriterOptions writer_options(std::chrono::nanoseconds detach_after, WaitStrategy w = WaitStrategy::spin_then_block()) {
  WriterOptions o;
  o.wait = w;
  o.wait.liveness_check = 5ms;
  o.detach_after = detach_after;
  return o;
}

// Not busy_poll: four busy threads on a two-core machine would crawl.
std::vector<WaitStrategy> strategies() { return {WaitStrategy::spin_then_block(), WaitStrategy::block()}; }

// Reads until closed, checking every frame's sequence and payload.
struct Checked {
  std::uint64_t delivered = 0, lost = 0, wrong = 0;
};
Checked read_all(BroadcastReader& r, bool peek) {
  Checked c;
  std::vector<std::byte> buf(r.max_frame());
  std::uint64_t next = r.position();
  for (;;) {
    ReadResult res = peek ? r.peek(30s) : r.read(buf, 30s);
    c.lost += res.lost;
    if (!res) break;
    next += res.lost;  // a lossy reader's gap
    if (res.frame.sequence != next || !payload_matches(res.frame.sequence, res.data, r.max_frame())) ++c.wrong;
    next = res.frame.sequence + 1;
    if (peek && !r.finish()) ++c.wrong;
    ++c.delivered;
  }
  return c;
}

}  // namespace lltest
using namespace lltest;

BOOST_DATA_TEST_CASE(every_frame_to_every_lossless_reader, bdata::make(test_backends()) * bdata::make(strategies()),
                     backend, strategy) {
  ScratchSegment s(backend, 4 << 20, "shmkit-ll");
  auto w = BroadcastWriter::create(*s, "ch", channel_config(8, 128), writer_options(0ns, strategy));
  BroadcastReader copy(*s, "ch", lossless(strategy));
  BroadcastReader peek(*s, "ch", lossless(strategy));
  BroadcastReader lossy(*s, "ch", {});
  BOOST_TEST(copy.lossless());
  constexpr std::uint64_t kFrames = 20'000;  // 2500 laps of the 8-slot ring
  Checked a, b, c;
  std::thread ta([&] { a = read_all(copy, false); });
  std::thread tb([&] { b = read_all(peek, true); });
  std::thread tc([&] { c = read_all(lossy, false); });
  std::array<std::byte, 128> f0{}, f1{}, f2{};
  for (std::uint64_t i = 0; i < kFrames;) {
    switch (i % 3) {
      case 0: {  // one publish
        w.publish(std::span(f0.data(), fill_payload(i, f0)));
        i += 1;
        break;
      }
      case 1: {  // a loan
        FrameLoan l = w.loan();
        BOOST_REQUIRE(l);
        BOOST_REQUIRE(l.sequence() == i);
        l.publish(fill_payload(i, l.data()));
        i += 1;
        break;
      }
      default: {  // a batch of up to three
        const std::uint64_t n = std::min<std::uint64_t>(3, kFrames - i);
        std::array<std::byte, 128>* bufs[3] = {&f0, &f1, &f2};
        std::array<std::span<const std::byte>, 3> frames;
        for (std::uint64_t k = 0; k < n; ++k) frames[k] = std::span(bufs[k]->data(), fill_payload(i + k, *bufs[k]));
        BOOST_REQUIRE(w.publish_batch(std::span(frames.data(), n)) == i);
        i += n;
      }
    }
  }
  w.close();
  ta.join();
  tb.join();
  tc.join();
  BOOST_TEST(a.delivered == kFrames);
  BOOST_TEST(b.delivered == kFrames);
  BOOST_TEST(a.lost == 0u);
  BOOST_TEST(b.lost == 0u);
  BOOST_TEST(a.wrong == 0u);
  BOOST_TEST(b.wrong == 0u);
  BOOST_TEST(c.wrong == 0u);
  BOOST_TEST(c.delivered + c.lost == kFrames);  // the lossy reader as before
  BOOST_TEST(w.stats().detached == 0u);
  BOOST_TEST(!copy.detached());
}

BOOST_DATA_TEST_CASE(writer_waits_for_the_slowest_and_goes_on_when_it_reads, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-ll");
  auto w = BroadcastWriter::create(*s, "ch", channel_config(4, 64), writer_options(0ns));
  BroadcastReader r(*s, "ch", lossless());
  for (int i = 0; i < 4; ++i) w.publish(bytes_of("f" + std::to_string(i)));  // fills the ring
  std::atomic<bool> fifth{false};
  std::thread t([&] {
    w.publish(bytes_of("f4"));  // waits: frame 0 is unread
    fifth = true;
  });
  std::array<std::byte, 64> buf{};
  // The writer goes to sleep waiting for room (it shows as a blocked writer), and cannot have
  // gone on: nobody read frame 0 yet.
  BOOST_REQUIRE(await([&] { return channel_status(*s, "ch").blocked_writers == 1u; }));
  BOOST_TEST(!fifth.load());
  auto res = r.read(buf, 10s);
  BOOST_REQUIRE(res);
  BOOST_TEST(string_of(res.data) == "f0");
  t.join();  // reading frame 0 let the writer go on
  BOOST_TEST(fifth.load());
  for (int i = 1; i <= 4; ++i) {
    auto x = r.read(buf, 10s);
    BOOST_REQUIRE(x);
    BOOST_TEST(string_of(x.data) == "f" + std::to_string(i));
    BOOST_TEST(x.lost == 0u);
  }
  BOOST_TEST(w.stats().full_waits >= 1u);
  BOOST_TEST(w.stats().detached == 0u);
}

BOOST_DATA_TEST_CASE(reader_that_leaves_releases_the_writer, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-ll");
  auto w = BroadcastWriter::create(*s, "ch", channel_config(4, 64), writer_options(0ns));
  auto r = std::make_unique<BroadcastReader>(*s, "ch", lossless());
  for (int i = 0; i < 4; ++i) w.publish(bytes_of("x"));
  std::thread t([&] { w.publish(bytes_of("y")); });
  r.reset();  // leaving the set wakes the waiting writer
  t.join();
  for (int i = 0; i < 10; ++i) w.publish(bytes_of("z"));  // nobody to wait for
  BOOST_TEST(w.published() == 15u);
  BOOST_TEST(w.stats().detached == 0u);
}

BOOST_DATA_TEST_CASE(stuck_reader_is_detached_and_reads_on_lossy, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-ll");
  auto w = BroadcastWriter::create(*s, "ch", channel_config(4, 64), writer_options(30ms));
  BroadcastReader stuck(*s, "ch", lossless());
  BroadcastReader fine(*s, "ch", lossless());
  std::array<std::byte, 64> buf{};
  // `fine` keeps up; `stuck` reads nothing: the writer detaches it after 30 ms and goes on.
  for (std::uint64_t i = 0; i < 12; ++i) {
    w.publish(std::span(buf.data(), fill_payload(i, buf)));
    auto res = fine.try_read(buf);
    BOOST_REQUIRE(res);
    BOOST_TEST(res.frame.sequence == i);
  }
  BOOST_TEST(w.stats().detached == 1u);
  const ChannelStatus st = channel_status(*s, "ch");
  BOOST_TEST(st.detached_slow == 1u);
  BOOST_TEST(st.detached_dead == 0u);
  BOOST_REQUIRE(st.readers.size() == 2u);
  int detached = 0, still = 0;
  for (const auto& rs : st.readers) {
    detached += rs.detached ? 1 : 0;
    still += rs.delivery == Delivery::lossless ? 1 : 0;
  }
  BOOST_TEST(detached == 1);
  BOOST_TEST(still == 1);
  // The stuck reader is told so, and reads on as a lossy reader: frames overwritten are lost.
  BOOST_TEST(stuck.lossless());
  std::uint64_t got = 0, lost = 0;
  for (;;) {
    auto res = stuck.try_read(buf);
    lost += res.lost;
    if (!res) break;
    BOOST_TEST(payload_matches(res.frame.sequence, res.data, 64));
    ++got;
  }
  BOOST_TEST(stuck.detached());
  BOOST_TEST(!stuck.lossless());
  BOOST_TEST(got + lost == 12u);
  BOOST_TEST(lost > 0u);
  BOOST_TEST(fine.lossless());
}

BOOST_DATA_TEST_CASE(detached_reader_with_on_detach_fail_throws, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-ll");
  auto w = BroadcastWriter::create(*s, "ch", channel_config(2, 64), writer_options(10ms));
  BroadcastReader r(*s, "ch", lossless(WaitStrategy::block(), OnDetach::fail));
  for (int i = 0; i < 3; ++i) w.publish(bytes_of("f"));  // the third waits 10 ms, then detaches r
  BOOST_TEST(w.stats().detached == 1u);
  std::array<std::byte, 64> buf{};
  expect_errc(Errc::peer_gone, [&] { (void)r.read(buf, 1s); });
  expect_errc(Errc::peer_gone, [&] { (void)r.try_read(buf); });  // and stays failed
  BOOST_TEST(r.detached());
}

BOOST_DATA_TEST_CASE(late_lossless_reader_joins_a_running_writer, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-ll");
  auto w = BroadcastWriter::create(*s, "ch", channel_config(8, 64), writer_options(0ns));
  std::array<std::byte, 64> buf{};
  for (std::uint64_t i = 0; i < 20; ++i) w.publish(std::span(buf.data(), fill_payload(i, buf)));
  BroadcastReader r(*s, "ch", lossless());
  // Starts at the next frame (a batch in flight may overwrite every older one), and gets all
  // that follow.
  const std::uint64_t first = r.position();
  BOOST_TEST(first == 20u);
  std::thread t([&] {
    for (std::uint64_t i = 20; i < 200; ++i) w.publish(std::span(buf.data(), fill_payload(i, buf)));
    w.close();
  });
  std::array<std::byte, 64> rb{};
  std::uint64_t next = first;
  for (;;) {
    auto res = r.read(rb, 10s);
    BOOST_TEST(res.lost == 0u);
    if (!res) break;
    BOOST_TEST(res.frame.sequence == next);
    BOOST_TEST(payload_matches(res.frame.sequence, res.data, 64));
    ++next;
  }
  t.join();
  BOOST_TEST(next == 200u);
}

BOOST_DATA_TEST_CASE(lossless_argument_errors, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-ll");
  ChannelConfig c = channel_config(4, 64);
  c.max_readers = 0;
  auto w = BroadcastWriter::create(*s, "none", c);
  expect_errc(Errc::invalid_argument, [&] { BroadcastReader r(*s, "none", lossless()); });
  c.max_readers = 1;
  auto w1 = BroadcastWriter::create(*s, "one", c);
  BroadcastReader first(*s, "one", lossless());
  expect_errc(Errc::resource_limit, [&] { BroadcastReader r(*s, "one", lossless()); });
  ReaderOptions unregistered;
  unregistered.register_reader = false;
  BroadcastReader lossy(*s, "one", unregistered);  // lossy readers need no record
  BOOST_TEST(!lossy.lossless());
}
