// Queue channel, in one process (threads where a second party is needed): FIFO across wrap-
// around, backpressure (fail fast, timed wait, blocking wait woken by the reader), zero-copy,
// close, reattachment, exactly-once delivery between threads. Runs under ThreadSanitizer too.
#define BOOST_TEST_MODULE channel_queue
#include <poll.h>

#include <array>
#include <atomic>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "asleep.hpp"
#include "await.hpp"
#include "channel_fixture.hpp"
#include "expect_errc.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace {

ChannelConfig config(std::uint32_t slots, std::uint32_t max_frame, Checksum c = Checksum::none) {
  return channel_config(slots, max_frame, c);
}

std::vector<WaitStrategy> strategies() {
  return {WaitStrategy::busy_poll(), WaitStrategy::spin_then_block(), WaitStrategy::block()};
}

}  // namespace

BOOST_DATA_TEST_CASE(fifo_across_wraparound, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-q");
  auto w = QueueWriter::create(*s, "q", config(4, 64, Checksum::crc32c));
  QueueReader r(*s, "q");
  std::array<std::byte, 64> buf{};
  std::uint64_t next_read = 0;
  for (std::uint64_t i = 0; i < 50; ++i) {
    BOOST_REQUIRE(w.try_publish(std::span(buf.data(), fill_payload(i, buf))));
    if (i % 3 == 2) {  // read in bursts so the ring fills and wraps
      while (auto res = r.try_read(buf)) {
        BOOST_TEST(res.frame.sequence == next_read);
        BOOST_TEST(payload_matches(next_read, res.data, 64));
        ++next_read;
      }
    }
  }
  while (auto res = r.try_read(buf)) BOOST_TEST(res.frame.sequence == next_read++);
  BOOST_TEST(next_read == 50u);
  BOOST_TEST(w.stats().wake_calls == 0u);
}

BOOST_DATA_TEST_CASE(full_queue_fails_fast_or_times_out, bdata::make(test_backends()) * bdata::make(strategies()),
                     backend, strategy) {
  ScratchSegment s(backend, 1 << 20, "shmkit-q");
  WriterOptions wo;
  wo.wait = strategy;
  auto w = QueueWriter::create(*s, "q", config(4, 16), wo);
  QueueReader r(*s, "q");
  for (int i = 0; i < 4; ++i) BOOST_REQUIRE(w.try_publish(bytes_of("x")));
  BOOST_TEST(w.try_publish(bytes_of("x")).status == Errc::timeout);
  BOOST_TEST(!w.try_loan());
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(w.publish(bytes_of("x"), 50ms).status == Errc::timeout);
  const auto waited = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(waited >= 50ms);
  BOOST_TEST(waited < 1s);
  BOOST_TEST(w.stats().full_waits >= 2u);
  // Empty queue: the reader's timeout fires too.
  std::array<std::byte, 16> buf{};
  for (int i = 0; i < 4; ++i) BOOST_TEST(r.try_read(buf));
  const auto t1 = std::chrono::steady_clock::now();
  BOOST_TEST(r.read(buf, 50ms).status == Errc::timeout);
  BOOST_TEST((std::chrono::steady_clock::now() - t1 >= 50ms));
}

BOOST_DATA_TEST_CASE(blocked_writer_wakes_when_reader_releases, bdata::make(test_backends()) * bdata::make(strategies()),
                     backend, strategy) {
  ScratchSegment s(backend, 1 << 20, "shmkit-q");
  WriterOptions wo;
  wo.wait = strategy;
  auto w = QueueWriter::create(*s, "q", config(4, 16), wo);
  QueueReader r(*s, "q");
  for (int i = 0; i < 4; ++i) BOOST_REQUIRE(w.try_publish(bytes_of(std::to_string(i))));
  std::atomic<int> status{-1};
  std::thread t([&] { status.store(static_cast<int>(w.publish(bytes_of("4"), 30s).status)); });
  if (strategy.kind != WaitKind::busy_poll)
    BOOST_REQUIRE(await([&] { return channel_status(*s, "q").blocked_writers == 1; }));
  std::array<std::byte, 16> buf{};
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(string_of(r.try_read(buf).data) == "0");  // the writer waits: released at once
  t.join();
  BOOST_TEST(status.load() == static_cast<int>(Errc::ok));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 1s));
  for (int i = 1; i <= 4; ++i) BOOST_TEST(string_of(r.try_read(buf).data) == std::to_string(i));
}

BOOST_DATA_TEST_CASE(blocked_reader_wakes_on_publish, bdata::make(test_backends()) * bdata::make(strategies()),
                     backend, strategy) {
  ScratchSegment s(backend, 1 << 20, "shmkit-q");
  auto w = QueueWriter::create(*s, "q", config(8, 16));
  ReaderOptions ro;
  ro.wait = strategy;
  QueueReader r(*s, "q", ro);
  std::atomic<int> got{-1};
  std::thread t([&] {
    std::array<std::byte, 16> buf{};
    auto res = r.read(buf, 30s);
    got.store(res ? static_cast<int>(res.frame.sequence) : -2);
  });
  if (strategy.kind != WaitKind::busy_poll)
    BOOST_REQUIRE(await([&] { return channel_status(*s, "q").blocked_readers == 1; }));
  BOOST_REQUIRE(w.try_publish(bytes_of("x")));
  t.join();
  BOOST_TEST(got.load() == 0);
}

// publish_batch: in order, one timestamp, all or none (room for the whole batch or nothing).
BOOST_DATA_TEST_CASE(batch_is_published_whole_or_not_at_all, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-q");
  auto w = QueueWriter::create(*s, "q", config(8, 64, Checksum::crc32c));
  QueueReader r(*s, "q");
  std::vector<std::array<std::byte, 64>> bufs(8);
  std::vector<std::span<const std::byte>> frames;
  for (std::uint64_t i = 0; i < 5; ++i) frames.emplace_back(bufs[i].data(), fill_payload(i, bufs[i]));
  const Published p = w.publish_batch(frames, 0s);
  BOOST_TEST(p.status == Errc::ok);
  BOOST_TEST(p.sequence == 0u);
  BOOST_TEST(w.published() == 5u);
  // Four more do not fit in the three free slots: nothing is written, whatever the wait.
  frames.clear();
  for (std::uint64_t i = 5; i < 9; ++i) frames.emplace_back(bufs[i - 5].data(), fill_payload(i, bufs[i - 5]));
  BOOST_TEST(w.publish_batch(frames, 0s).status == Errc::timeout);
  BOOST_TEST(w.publish_batch(frames, 20ms).status == Errc::timeout);
  BOOST_TEST(w.published() == 5u);
  std::array<std::byte, 64> buf{};
  std::int64_t stamp = 0;
  for (std::uint64_t i = 0; i < 5; ++i) {
    auto res = r.try_read(buf);
    BOOST_REQUIRE(res);
    BOOST_TEST(res.frame.sequence == i);
    BOOST_TEST(payload_matches(i, res.data, 64));
    if (i == 0) stamp = res.frame.timestamp_ns;
    BOOST_TEST(res.frame.timestamp_ns == stamp);  // one clock reading for the batch
  }
  BOOST_TEST(stamp > 0);
  BOOST_TEST(r.try_read(buf).status == Errc::timeout);
  // Room now: the same four go in, after the five.
  const Published p2 = w.publish_batch(frames, 0s);
  BOOST_TEST(p2.status == Errc::ok);
  BOOST_TEST(p2.sequence == 5u);
  for (std::uint64_t i = 5; i < 9; ++i) {
    auto res = r.try_read(buf);
    BOOST_REQUIRE(res);
    BOOST_TEST(res.frame.sequence == i);
    BOOST_TEST(payload_matches(i, res.data, 64));
  }
  // An empty batch publishes nothing and says where the next frame goes.
  BOOST_TEST(w.publish_batch({}, 0s).sequence == 9u);
  BOOST_TEST(w.published() == 9u);
}

BOOST_DATA_TEST_CASE(batch_argument_errors_publish_nothing, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-q");
  auto w = QueueWriter::create(*s, "q", config(4, 16));
  QueueReader r(*s, "q");
  std::array<std::byte, 17> big{};
  const std::string ok = "ok", x = "x";
  const std::vector<std::span<const std::byte>> oversize{bytes_of(ok), big};  // the second is too big
  expect_errc(Errc::invalid_argument, [&] { w.publish_batch(oversize, 0s); });
  const std::vector<std::span<const std::byte>> five(5, bytes_of(x));  // more than the 4 slots
  expect_errc(Errc::invalid_argument, [&] { w.publish_batch(five, 1s); });
  {
    FrameLoan l = w.try_loan();
    expect_errc(Errc::invalid_argument, [&] { w.publish_batch(std::span(five).first(1), 0s); });
  }
  BOOST_TEST(w.published() == 0u);
  std::array<std::byte, 16> buf{};
  BOOST_TEST(r.try_read(buf).status == Errc::timeout);
  w.close();
  expect_errc(Errc::closed, [&] { w.publish_batch(std::span(five).first(1), 0s); });
}

BOOST_DATA_TEST_CASE(blocked_batch_waits_for_room_for_all_of_it, bdata::make(test_backends()) * bdata::make(strategies()),
                     backend, strategy) {
  ScratchSegment s(backend, 1 << 20, "shmkit-q");
  WriterOptions wo;
  wo.wait = strategy;
  auto w = QueueWriter::create(*s, "q", config(4, 16), wo);
  QueueReader r(*s, "q");
  for (int i = 0; i < 4; ++i) BOOST_REQUIRE(w.try_publish(bytes_of(std::to_string(i))));
  const std::string four = "4", five = "5";
  const std::vector<std::span<const std::byte>> two{bytes_of(four), bytes_of(five)};
  std::atomic<int> status{-1};
  std::thread t([&] { status.store(static_cast<int>(w.publish_batch(two, 30s).status)); });
  if (strategy.kind != WaitKind::busy_poll)
    BOOST_REQUIRE(await([&] { return channel_status(*s, "q").blocked_writers == 1; }));
  std::array<std::byte, 16> buf{};
  // One slot free is not enough for the batch of two: still waiting after the first read.
  BOOST_TEST(string_of(r.try_read(buf).data) == "0");
  BOOST_TEST(w.published() == 4u);
  BOOST_TEST(status.load() == -1);
  BOOST_TEST(string_of(r.try_read(buf).data) == "1");
  t.join();
  BOOST_TEST(status.load() == static_cast<int>(Errc::ok));
  for (int i = 2; i <= 5; ++i) BOOST_TEST(string_of(r.try_read(buf).data) == std::to_string(i));
}

// A reader far behind the writer learns how far at each release and prefetches ahead (the
// frames it then takes without looking at each slot's version first): every frame still
// arrives once, in order, whole, also across wrap-arounds and when it catches up.
BOOST_DATA_TEST_CASE(reader_far_behind_takes_every_frame_in_order, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 4 << 20, "shmkit-q");
  auto w = QueueWriter::create(*s, "q", config(256, 64, Checksum::crc32c));
  QueueReader r(*s, "q");
  std::array<std::byte, 64> buf{};
  std::uint64_t written = 0, next = 0;
  for (int round = 0; round < 20; ++round) {
    // Fill the ring as far as the reader has released it, then read all but a few; every fifth
    // round, read everything.
    while (w.try_publish(std::span(buf.data(), fill_payload(written, buf)))) ++written;
    BOOST_REQUIRE(written - next >= 256 - 64);  // at most one release batch still held
    const std::uint64_t leave = round % 5 == 4 ? 0 : 7;
    while (written - next > leave) {
      auto res = r.try_read(buf);
      BOOST_REQUIRE(res);
      BOOST_REQUIRE(res.frame.sequence == next);
      BOOST_REQUIRE(payload_matches(next, res.data, 64));
      ++next;
    }
    if (leave == 0) BOOST_REQUIRE(r.try_read(buf).status == Errc::timeout);  // nothing beyond the last
  }
  BOOST_TEST(next == written);
  BOOST_TEST(written > 20 * 180u);
}

BOOST_DATA_TEST_CASE(zero_copy_loan_and_peek, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-q");
  auto w = QueueWriter::create(*s, "q", config(2, 4096, Checksum::crc32c));
  QueueReader r(*s, "q");
  for (std::uint64_t i = 0; i < 2; ++i) {
    FrameLoan loan = w.loan(1s);
    BOOST_REQUIRE(loan);
    BOOST_TEST(loan.publish(fill_payload(i, loan.data())) == i);
  }
  FrameLoan none = w.try_loan();
  BOOST_TEST(!none);
  BOOST_TEST(none.status() == Errc::timeout);
  auto res = r.try_peek();
  BOOST_REQUIRE(res);
  BOOST_TEST(payload_matches(0, res.data, 4096));
  BOOST_TEST(!w.try_loan());  // the peeked slot is still the reader's
  BOOST_TEST(r.finish());
  BOOST_TEST(r.try_peek().frame.sequence == 1u);
  BOOST_TEST(r.finish());
  BOOST_TEST(static_cast<bool>(w.try_loan()));  // released (the reader found the queue empty or the batch full)
}

BOOST_DATA_TEST_CASE(close_reaches_reader_after_drain, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-q");
  std::optional<QueueWriter> w(QueueWriter::create(*s, "q", config(8, 16)));
  ReaderOptions ro;
  ro.wait = WaitStrategy::block();
  QueueReader r(*s, "q", ro);
  BOOST_REQUIRE(w->try_publish(bytes_of("a")));
  w.reset();  // destroying the writer closes the queue
  std::array<std::byte, 16> buf{};
  BOOST_TEST(string_of(r.read(buf, 1s).data) == "a");
  BOOST_TEST(r.read(buf, 10s).status == Errc::closed);
  BOOST_TEST(r.writer_state() == PeerState::closed);
}

BOOST_DATA_TEST_CASE(reader_reattaches_where_it_stopped, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-q");
  auto w = QueueWriter::create(*s, "q", config(8, 16));
  for (int i = 0; i < 6; ++i) BOOST_REQUIRE(w.try_publish(bytes_of(std::to_string(i))));
  std::array<std::byte, 16> buf{};
  {
    QueueReader r(*s, "q");
    BOOST_TEST(w.reader_state() == PeerState::alive);
    try {
      QueueReader second(*s, "q");
      BOOST_FAIL("a second live reader must be refused");
    } catch (const Error& e) {
      BOOST_TEST(e.errc() == Errc::busy);
    }
    BOOST_TEST(string_of(r.try_read(buf).data) == "0");
    BOOST_TEST(string_of(r.try_read(buf).data) == "1");
  }  // detaching releases what it read
  BOOST_TEST(w.reader_state() == PeerState::none);
  QueueReader r(*s, "q");
  BOOST_TEST(string_of(r.try_read(buf).data) == "2");
  auto st = channel_status(*s, "q");
  BOOST_TEST(st.kind == ChannelKind::queue);
  BOOST_TEST(st.published == 6u);
  BOOST_TEST(st.reader == PeerState::alive);
}

// Exactly once, in order, between two threads, with the writer often finding the ring full.
BOOST_DATA_TEST_CASE(threaded_exactly_once, bdata::make(test_backends()) * bdata::make(strategies()), backend,
                     strategy) {
  ScratchSegment s(backend, 4 << 20, "shmkit-q");
  constexpr std::uint64_t kFrames = 100'000;
  WriterOptions wo;
  wo.wait = strategy;
  auto w = QueueWriter::create(*s, "q", config(16, 128), wo);
  std::atomic<std::uint64_t> bad{0}, received{0};
  std::thread reader([&] {
    ReaderOptions ro;
    ro.wait = strategy;
    QueueReader r(*s, "q", ro);
    std::array<std::byte, 128> buf{};
    std::uint64_t next = 0;
    for (;;) {
      auto res = (next % 2 == 0) ? r.read(buf, 30s) : r.peek(30s);
      if (!res) break;
      if (res.frame.sequence != next || !payload_matches(next, res.data, 128)) bad.fetch_add(1);
      if (next % 2 == 1) r.finish();
      ++next;
    }
    received.store(next);
  });
  std::array<std::byte, 128> buf{};
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    if (!w.publish(std::span(buf.data(), fill_payload(i, buf)), 30s)) bad.fetch_add(1);
  }
  w.close();
  reader.join();
  BOOST_TEST(bad.load() == 0u);
  BOOST_TEST(received.load() == kFrames);
}

#if !defined(_WIN32)
BOOST_DATA_TEST_CASE(notification_fd_for_event_loops, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-qc");
  auto w = QueueWriter::create(*s, "ch", config(8, 16));
  QueueReader r(*s, "ch");
  pollfd p{r.notification_fd(), POLLIN, 0};
  // Its thread asleep past its last look at the channel (asleep.hpp): nothing is pending.
  BOOST_REQUIRE(await([&] {
    return channel_status(*s, "ch").blocked_readers == 1 && other_threads_sleeping().value_or(true);
  }));
  BOOST_TEST(::poll(&p, 1, 0) == 0);
  BOOST_REQUIRE(w.try_publish(bytes_of("one")));
  BOOST_REQUIRE(::poll(&p, 1, 10'000) == 1);
  r.clear_notification();
  std::array<std::byte, 16> buf{};
  auto res = r.try_read(buf);
  BOOST_TEST(res.status == Errc::ok);
  BOOST_TEST(string_of(res.data) == "one");
  w.close();
  BOOST_REQUIRE(::poll(&p, 1, 10'000) == 1);
  BOOST_TEST(r.try_read(buf).status == Errc::closed);
  // Moving the reader keeps its fd.
  QueueReader moved(std::move(r));
  BOOST_TEST(moved.notification_fd() == p.fd);
}
#endif
