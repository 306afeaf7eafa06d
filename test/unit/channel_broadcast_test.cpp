// Broadcast channel, in one process (threads where a second party is needed): publish and read,
// zero-copy, lapping and loss accounting, start positions, close, timeouts, waking, writer
// state, checksums, argument errors. Runs under ThreadSanitizer too.
#define BOOST_TEST_MODULE channel_broadcast
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
#include "shmkit/detail/channel_layout.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace {

ChannelConfig config(std::uint32_t slots, std::uint32_t max_frame, Checksum c = Checksum::none) {
  return channel_config(slots, max_frame, c);
}

ReaderOptions reader_options(WaitStrategy w, StartAt start = StartAt::oldest) {
  ReaderOptions o;
  o.wait = w;
  o.start = start;
  return o;
}

std::vector<WaitStrategy> strategies() {
  return {WaitStrategy::busy_poll(), WaitStrategy::spin_then_block(), WaitStrategy::block()};
}

}  // namespace

BOOST_DATA_TEST_CASE(publish_then_read_in_order, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  auto w = BroadcastWriter::create(*s, "ch", config(8, 64));
  BroadcastReader r(*s, "ch", {});
  std::array<std::byte, 64> buf{};
  BOOST_TEST(!r.try_read(buf));  // empty
  for (int i = 0; i < 5; ++i) BOOST_TEST(w.publish(bytes_of("frame-" + std::to_string(i))) == std::uint64_t(i));
  for (int i = 0; i < 5; ++i) {
    auto res = r.try_read(buf);
    BOOST_REQUIRE(res);
    BOOST_TEST(res.frame.sequence == std::uint64_t(i));
    BOOST_TEST(string_of(res.data) == "frame-" + std::to_string(i));
    BOOST_TEST(res.lost == 0u);
    BOOST_TEST(res.frame.timestamp_ns > 0);
  }
  BOOST_TEST(r.try_read(buf).status == Errc::timeout);
  BOOST_TEST(r.delivered() == 5u);
  BOOST_TEST(w.published() == 5u);
  BOOST_TEST(w.stats().wake_calls == 0u);  // nobody was blocked: no system call
}

BOOST_DATA_TEST_CASE(batch_publishes_in_order_with_one_timestamp, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  auto w = BroadcastWriter::create(*s, "ch", config(8, 64, Checksum::crc32c));
  BroadcastReader r(*s, "ch", {});
  std::vector<std::array<std::byte, 64>> bufs(8);
  auto batch = [&](std::uint64_t first, std::size_t n) {
    std::vector<std::span<const std::byte>> frames;
    for (std::size_t i = 0; i < n; ++i) frames.emplace_back(bufs[i].data(), fill_payload(first + i, bufs[i]));
    return frames;
  };
  BOOST_TEST(w.publish_batch(batch(0, 3)) == 0u);
  BOOST_TEST(w.publish_batch(batch(3, 2)) == 3u);
  BOOST_TEST(w.publish_batch({}) == 5u);
  BOOST_TEST(w.published() == 5u);
  std::array<std::byte, 64> buf{};
  std::int64_t stamps[5] = {};
  for (std::uint64_t i = 0; i < 5; ++i) {
    auto res = r.try_read(buf);
    BOOST_REQUIRE(res);
    BOOST_TEST(res.frame.sequence == i);
    BOOST_TEST(payload_matches(i, res.data, 64));
    stamps[i] = res.frame.timestamp_ns;
  }
  BOOST_TEST(stamps[0] > 0);
  BOOST_TEST((stamps[0] == stamps[1] && stamps[1] == stamps[2]));  // one reading per batch
  BOOST_TEST(stamps[3] == stamps[4]);
  BOOST_TEST(stamps[3] >= stamps[2]);
  // A batch as large as the ring laps a reader that has not read it: it is told what it lost
  // and gets the newest frames whole.
  BOOST_TEST(w.publish_batch(batch(5, 8)) == 5u);
  BOOST_TEST(w.publish_batch(batch(13, 8)) == 13u);
  std::uint64_t delivered = 0, lost = 0, expect = 5;
  while (auto res = r.try_read(buf)) {
    lost += res.lost;
    BOOST_TEST(res.frame.sequence == expect + res.lost);
    BOOST_TEST(payload_matches(res.frame.sequence, res.data, 64));
    expect = res.frame.sequence + 1;
    ++delivered;
  }
  BOOST_TEST(lost > 0u);
  BOOST_TEST(delivered + lost == 16u);
  BOOST_TEST(r.position() == 21u);
  // More frames than slots, or one too large: an error, and nothing is published.
  std::array<std::byte, 65> big{};
  std::vector<std::span<const std::byte>> nine = batch(21, 8);
  nine.emplace_back(bufs[0].data(), 64);
  BOOST_CHECK_THROW(w.publish_batch(nine), Error);
  std::vector<std::span<const std::byte>> oversize = batch(21, 2);
  oversize.emplace_back(big);
  BOOST_CHECK_THROW(w.publish_batch(oversize), Error);
  BOOST_TEST(w.published() == 21u);
  BOOST_TEST(r.try_read(buf).status == Errc::timeout);
}

BOOST_DATA_TEST_CASE(every_reader_sees_every_frame, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  auto w = BroadcastWriter::create(*s, "ch", config(16, 32));
  BroadcastReader a(*s, "ch", {}), b(*s, "ch", {});
  for (int i = 0; i < 10; ++i) w.publish(bytes_of(std::to_string(i)));
  std::array<std::byte, 32> buf{};
  for (auto* r : {&a, &b})
    for (int i = 0; i < 10; ++i) BOOST_TEST(string_of(r->try_read(buf).data) == std::to_string(i));
}

BOOST_DATA_TEST_CASE(lapped_reader_is_told_what_it_lost, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  auto w = BroadcastWriter::create(*s, "ch", config(8, 64));
  BroadcastReader r(*s, "ch", {});
  std::array<std::byte, 64> buf{};
  constexpr std::uint64_t kPublished = 100;
  for (std::uint64_t i = 0; i < kPublished; ++i) w.publish(std::span(buf.data(), fill_payload(i, buf)));
  std::uint64_t delivered = 0, lost = 0, expect = 0;
  for (;;) {
    auto res = r.try_read(buf);
    lost += res.lost;
    if (!res) break;
    expect += res.lost;
    BOOST_TEST(res.frame.sequence == expect);
    BOOST_TEST(payload_matches(res.frame.sequence, res.data, 64));
    expect = res.frame.sequence + 1;
    ++delivered;
  }
  BOOST_TEST(lost > 0u);
  BOOST_TEST(delivered + lost == kPublished);
  BOOST_TEST(r.lost() == lost);
  BOOST_TEST(r.position() == kPublished);
  // After the resync, the reader got the newest frames, the last one included.
  BOOST_TEST(delivered >= 6u);
}

BOOST_DATA_TEST_CASE(late_joiner_starts_where_asked, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  auto w = BroadcastWriter::create(*s, "ch", config(8, 16));
  for (int i = 0; i < 20; ++i) w.publish(bytes_of(std::to_string(i)));
  std::array<std::byte, 16> buf{};
  BroadcastReader oldest(*s, "ch", reader_options(WaitStrategy::busy_poll(), StartAt::oldest));
  BroadcastReader newest(*s, "ch", reader_options(WaitStrategy::busy_poll(), StartAt::newest));
  BroadcastReader next(*s, "ch", reader_options(WaitStrategy::busy_poll(), StartAt::next));
  auto o = oldest.try_read(buf);
  BOOST_TEST(o.frame.sequence == 12u);  // 20 published, 8 slots: 12..19 remain
  BOOST_TEST(o.lost == 0u);
  BOOST_TEST(newest.try_read(buf).frame.sequence == 19u);
  BOOST_TEST(!next.try_read(buf));
  w.publish(bytes_of("20"));
  BOOST_TEST(next.try_read(buf).frame.sequence == 20u);
  BOOST_TEST(newest.try_read(buf).frame.sequence == 20u);
}

BOOST_DATA_TEST_CASE(zero_copy_loan_and_peek, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  auto w = BroadcastWriter::create(*s, "ch", config(4, 256, Checksum::crc32c));
  BroadcastReader r(*s, "ch", {});
  {
    FrameLoan loan = w.loan();
    BOOST_REQUIRE(loan);
    BOOST_TEST(loan.data().size() == 256u);
    BOOST_TEST(reinterpret_cast<std::uintptr_t>(loan.data().data()) % 32 == 0u);
    BOOST_TEST(loan.sequence() == 0u);
    const std::size_t n = fill_payload(0, loan.data());
    BOOST_TEST(loan.publish(n) == 0u);
    BOOST_TEST(!loan);
  }
  { FrameLoan dropped = w.loan(); }  // dropped unpublished: publishes nothing
  BOOST_TEST(w.published() == 1u);
  auto res = r.try_peek();
  BOOST_REQUIRE(res);
  BOOST_TEST(payload_matches(0, res.data, 256));
  BOOST_TEST(r.finish());
  BOOST_TEST(!r.try_peek());
  // A peeked frame overwritten before finish() is reported, and counted lost.
  w.publish(bytes_of("one"));
  auto p = r.try_peek();
  BOOST_REQUIRE(p);
  for (int i = 0; i < 4; ++i) w.publish(bytes_of("lap"));
  BOOST_TEST(!r.finish());
  BOOST_TEST(r.lost() == 1u);
  std::array<std::byte, 256> buf{};
  while (r.try_read(buf)) {
  }
  BOOST_TEST(r.delivered() + r.lost() == w.published());
}

BOOST_DATA_TEST_CASE(close_reaches_reader_after_drain, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  std::optional<BroadcastWriter> w(BroadcastWriter::create(*s, "ch", config(8, 16)));
  BroadcastReader r(*s, "ch", reader_options(WaitStrategy::block()));
  w->publish(bytes_of("a"));
  w->publish(bytes_of("b"));
  BOOST_TEST(r.writer_state() == PeerState::alive);
  w->close();
  BOOST_TEST(r.writer_state() == PeerState::closed);
  std::array<std::byte, 16> buf{};
  BOOST_TEST(string_of(r.read(buf, 1s).data) == "a");
  BOOST_TEST(string_of(r.read(buf, 1s).data) == "b");
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(r.read(buf, 10s).status == Errc::closed);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 1s));
  BOOST_CHECK_THROW(w->publish(bytes_of("c")), Error);
  // A new writer reopens the channel and continues the sequence.
  w.reset();
  auto w2 = BroadcastWriter::attach(*s, "ch");
  BOOST_TEST(r.writer_state() == PeerState::alive);
  BOOST_TEST(w2.publish(bytes_of("c")) == 2u);
  BOOST_TEST(string_of(r.read(buf, 1s).data) == "c");
}

BOOST_DATA_TEST_CASE(timeouts_fire_for_every_strategy, bdata::make(test_backends()) * bdata::make(strategies()),
                     backend, strategy) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  auto w = BroadcastWriter::create(*s, "ch", config(8, 16));
  BroadcastReader r(*s, "ch", reader_options(strategy));
  std::array<std::byte, 16> buf{};
  const auto t0 = std::chrono::steady_clock::now();
  const auto res = r.read(buf, 50ms);
  const auto waited = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(res.status == Errc::timeout);
  BOOST_TEST(waited >= 50ms);
  BOOST_TEST(waited < 1s);
  BOOST_TEST(r.peek(20ms).status == Errc::timeout);
}

BOOST_DATA_TEST_CASE(blocked_reader_wakes_on_publish, bdata::make(test_backends()) * bdata::make(strategies()),
                     backend, strategy) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  auto w = BroadcastWriter::create(*s, "ch", config(8, 16));
  // No liveness check during the test: each one briefly leaves the waiter count, and a frame
  // published then would be found by the reader's own probe, with no wake call to count.
  WaitStrategy waiting = strategy;
  waiting.liveness_check = std::chrono::hours(1);
  BroadcastReader r(*s, "ch", reader_options(waiting));
  std::atomic<int> got{-1};
  std::atomic<long> tid{-1};
  std::thread t([&] {
    tid.store(this_thread_tid());
    std::array<std::byte, 16> buf{};
    auto res = r.read(buf, 30s);
    got.store(res ? static_cast<int>(res.frame.sequence) : -2);
  });
  BOOST_REQUIRE(await([&] { return tid.load() != -1; }));
  // Counted and in state S: asleep in the kernel past its last look, so the frame must wake it.
  // (Where there is no /proc the count alone is all we can see.)
  std::optional<bool> asleep;
  if (strategy.kind != WaitKind::busy_poll)
    BOOST_REQUIRE(await([&] {
      asleep = thread_sleeping(tid.load());
      return channel_status(*s, "ch").blocked_readers == 1 && asleep.value_or(true);
    }));
  const auto t0 = std::chrono::steady_clock::now();
  w.publish(bytes_of("x"));
  t.join();
  BOOST_TEST(got.load() == 0);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 1s));
  if (asleep.has_value()) BOOST_TEST(w.stats().wake_calls >= 1u);
  BOOST_TEST(channel_status(*s, "ch").blocked_readers == 0u);
}

BOOST_DATA_TEST_CASE(writer_state_alive_stalled_closed, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  std::optional<BroadcastWriter> w(BroadcastWriter::create(*s, "ch", config(8, 16)));
  BroadcastReader r(*s, "ch", {});
  BOOST_TEST(r.writer_state(10s) == PeerState::alive);
  BOOST_TEST(r.writer_state(0ns) == PeerState::stalled);  // any heartbeat is older than nothing
  w->heartbeat();
  BOOST_TEST(r.writer_state(10s) == PeerState::alive);
  w.reset();  // destroying the writer closes
  BOOST_TEST(r.writer_state() == PeerState::closed);
  auto st = channel_status(*s, "ch");
  BOOST_TEST(st.writer == PeerState::closed);
  BOOST_TEST(st.writer_pid == 0);
}

BOOST_DATA_TEST_CASE(one_live_writer_at_a_time, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  auto w = BroadcastWriter::create(*s, "ch", config(8, 16));
  try {
    auto w2 = BroadcastWriter::attach(*s, "ch");
    BOOST_FAIL("a second writer must be refused");
  } catch (const Error& e) {
    BOOST_TEST(e.errc() == Errc::busy);
  }
  BOOST_CHECK_THROW(BroadcastWriter::create(*s, "ch", config(8, 16)), Error);
}

BOOST_DATA_TEST_CASE(checksum_catches_a_flipped_bit, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  auto w = BroadcastWriter::create(*s, "ch", config(8, 128, Checksum::crc32c));
  BroadcastReader r(*s, "ch", {});
  std::array<std::byte, 128> buf{};
  w.publish(std::span(buf.data(), fill_payload(0, buf)));
  w.publish(std::span(buf.data(), fill_payload(1, buf)));
  BOOST_TEST(r.try_read(buf));
  auto [lines, n] = s->find_array<detail::BroadcastStorage>("ch");
  auto* base = reinterpret_cast<std::byte*>(lines);
  const auto slots_offset = detail::slots_offset_for(16);
  base[slots_offset + detail::slot_stride_for(128) + detail::kSlotPayloadOffset + 9] ^= std::byte{0x10};
  try {
    (void)r.try_read(buf);
    BOOST_FAIL("a flipped bit must fail the checksum");
  } catch (const Error& e) {
    BOOST_TEST(e.errc() == Errc::corrupt);
  }
  BOOST_TEST(channel_status(*s, "ch").config.checksum == Checksum::crc32c);
}

BOOST_DATA_TEST_CASE(argument_errors, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  expect_errc(Errc::invalid_argument, [&] { BroadcastWriter::create(*s, "bad", config(3, 16)); });
  expect_errc(Errc::invalid_argument, [&] { BroadcastWriter::create(*s, "bad", config(1, 16)); });
  expect_errc(Errc::invalid_argument, [&] { BroadcastWriter::create(*s, "bad", config(8, 0)); });
  expect_errc(Errc::out_of_memory, [&] { BroadcastWriter::create(*s, "big", config(1 << 12, 1 << 12)); });
  auto w = BroadcastWriter::create(*s, "ch", config(8, 16));
  std::array<std::byte, 17> big{};
  expect_errc(Errc::invalid_argument, [&] { w.publish(big); });
  w.publish(std::span(big.data(), 16));
  BroadcastReader r(*s, "ch", {});
  std::array<std::byte, 8> small{};
  expect_errc(Errc::too_small, [&] { (void)r.try_read(small); });
  BOOST_TEST(r.try_read(big).frame.size == 16u);  // nothing was consumed by the failed read
  expect_errc(Errc::not_found, [&] { (void)BroadcastReader(*s, "nope", {}); });
  auto q = QueueWriter::create(*s, "queue", config(8, 16));
  expect_errc(Errc::type_mismatch, [&] { (void)BroadcastReader(*s, "queue", {}); });
  expect_errc(Errc::type_mismatch, [&] { (void)QueueReader(*s, "ch", {}); });
#if defined(_WIN32)
  expect_errc(Errc::unsupported, [&] { (void)r.notification_fd(); });  // no pollable fd on Windows
#endif
  FrameLoan l = w.loan();
  expect_errc(Errc::invalid_argument, [&] { w.loan(); });
  expect_errc(Errc::invalid_argument, [&] { l.publish(17); });
}

BOOST_DATA_TEST_CASE(registration_table_lists_readers, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  ChannelConfig cfg = config(8, 16);
  cfg.max_readers = 2;
  auto w = BroadcastWriter::create(*s, "ch", cfg);
  std::optional<BroadcastReader> a(std::in_place, *s, "ch", ReaderOptions{});
  BroadcastReader b(*s, "ch", {});
  ReaderOptions unregistered;
  unregistered.register_reader = false;
  BroadcastReader c(*s, "ch", unregistered);  // needs no record
  try {
    BroadcastReader d(*s, "ch", {});
    BOOST_FAIL("a third registered reader must be refused");
  } catch (const Error& e) {
    BOOST_TEST(e.errc() == Errc::resource_limit);
  }
  for (int i = 0; i < 12; ++i) w.publish(bytes_of("x"));
  std::array<std::byte, 16> buf{};
  while (b.try_read(buf) || b.position() < 12) {
  }
  auto st = channel_status(*s, "ch");
  BOOST_REQUIRE_EQUAL(st.readers.size(), 2u);
  BOOST_TEST(st.published == 12u);
  std::uint64_t cursors = st.readers[0].cursor + st.readers[1].cursor;
  BOOST_TEST(cursors == 12u);  // a has read nothing (cursor 0), b everything
  BOOST_TEST((st.readers[0].alive && st.readers[1].alive));
  a.reset();  // frees its record
  BroadcastReader d(*s, "ch", {});
  BOOST_TEST(destroy_channel(*s, "ch") == true);
}

// Many threads: a writer lapping a tiny ring and readers copying out: never a torn frame, and
// delivered + lost adds up. (Under ThreadSanitizer this also checks the seqlock is race-free.)
BOOST_DATA_TEST_CASE(threaded_lapping_never_tears, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 4 << 20, "shmkit-bc");
  constexpr std::uint64_t kFrames = 200'000;
  auto w = BroadcastWriter::create(*s, "ch", config(4, 512, Checksum::crc32c));
  std::atomic<int> ready{0};
  std::atomic<std::uint64_t> bad{0}, total_lost{0}, total_delivered{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      BroadcastReader r(*s, "ch", reader_options(t == 0 ? WaitStrategy::busy_poll() : WaitStrategy::block()));
      std::array<std::byte, 512> buf{};
      ready.fetch_add(1);
      std::uint64_t next = 0;
      for (;;) {
        auto res = r.read(buf, 30s);
        if (!res) break;
        next += res.lost;
        if (res.frame.sequence != next || !payload_matches(next, res.data, 512)) bad.fetch_add(1);
        next = res.frame.sequence + 1;
      }
      total_lost.fetch_add(r.lost());
      total_delivered.fetch_add(r.delivered());
      if (r.position() != kFrames) bad.fetch_add(1);
    });
  }
  BOOST_REQUIRE(await([&] { return ready.load() == 2; }));
  std::array<std::byte, 512> buf{};
  for (std::uint64_t i = 0; i < kFrames; ++i) w.publish(std::span(buf.data(), fill_payload(i, buf)));
  w.close();
  for (auto& t : readers) t.join();
  BOOST_TEST(bad.load() == 0u);
  BOOST_TEST(total_delivered.load() + total_lost.load() == 2 * kFrames);
}

#if !defined(_WIN32)
// notification_fd(): readable when frames arrive and when the writer closes; quiet otherwise.
BOOST_DATA_TEST_CASE(notification_fd_for_event_loops, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-bc");
  auto w = BroadcastWriter::create(*s, "ch", config(64, 16));
  w.publish(bytes_of("before"));
  BroadcastReader r(*s, "ch", reader_options(WaitStrategy::block(), StartAt::next));
  pollfd p{r.notification_fd(), POLLIN, 0};
  BOOST_TEST(r.notification_fd() == p.fd);  // one fd per reader
  // Its thread sleeps like a blocked reader, past its last look at the channel (counted and in
  // state S); until then (and after) nothing is pending.
  auto thread_asleep = [&] {
    return channel_status(*s, "ch").blocked_readers == 1 && other_threads_sleeping().value_or(true);
  };
  BOOST_REQUIRE(await(thread_asleep));
  BOOST_TEST(::poll(&p, 1, 0) == 0);
  std::array<std::byte, 16> buf{};
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5; ++i) w.publish(bytes_of("f" + std::to_string(i)));
    BOOST_REQUIRE(::poll(&p, 1, 10'000) == 1);
    r.clear_notification();
    int got = 0;
    while (r.try_read(buf)) ++got;
    // The thread may have signalled after the first frame only: drain, and poll again.
    while (got < 5 && ::poll(&p, 1, 10'000) == 1) {
      r.clear_notification();
      while (r.try_read(buf)) ++got;
    }
    BOOST_TEST(got == 5);
    // All five read: the thread catches up with `published` (it may signal once more for frames
    // it saw late) and goes back to sleep; once it is asleep the fd is quiet.
    BOOST_REQUIRE(await(thread_asleep));
    r.clear_notification();
    BOOST_TEST(::poll(&p, 1, 0) == 0);
  }
  w.close();
  BOOST_REQUIRE(::poll(&p, 1, 10'000) == 1);
  r.clear_notification();
  BOOST_TEST(r.try_read(buf).status == Errc::closed);
}
#endif
