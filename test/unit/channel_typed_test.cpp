// Typed channels: publish(const T&), read<T>()/try_read<T>() and loan<T>() on broadcast and queue
// channels, on every backend: values arrive intact and in order, a frame of another size is
// Error(type_mismatch) and consumed (the next read gets the next frame), a loan<T> larger than
// the channel's max_frame is Error(invalid_argument), and an empty ring is a timeout status.
#define BOOST_TEST_MODULE channel_typed
#include <array>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "channel_fixture.hpp"
#include "expect_errc.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace {

struct Tick {
  std::int64_t ts;
  double price;
  std::uint32_t venue;
};

struct Big {
  std::array<std::uint64_t, 64> words;
};

}  // namespace

BOOST_DATA_TEST_CASE(broadcast_publish_and_read_values, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-typed");
  auto w = BroadcastWriter::create(*s, "t", channel_config(8, 64));
  BroadcastReader r(*s, "t");
  BOOST_TEST((r.try_read<Tick>().status == Errc::timeout));
  for (int i = 0; i < 20; ++i) BOOST_TEST(w.publish(Tick{i, i * 0.5, static_cast<std::uint32_t>(100 + i)}) == std::uint64_t(i));
  // 20 published into 8 slots: the reader lost the oldest and reads the rest in order, each
  // value the one published under its sequence.
  std::uint64_t lost = 0, received = 0, next = 0;
  for (auto t = r.read<Tick>(1s); t; t = r.try_read<Tick>()) {
    lost += t.lost;
    ++received;
    BOOST_TEST(t.frame.sequence >= next);
    next = t.frame.sequence + 1;
    const auto i = static_cast<std::int64_t>(t.frame.sequence);
    BOOST_TEST(t->ts == i);
    BOOST_TEST(t->price == static_cast<double>(i) * 0.5);
    BOOST_TEST((*t).venue == static_cast<std::uint32_t>(100 + i));
    BOOST_TEST(t.frame.size == sizeof(Tick));
  }
  BOOST_TEST(next == 20u);
  BOOST_TEST(received >= 1u);
  BOOST_TEST(received <= 8u);
  BOOST_TEST(lost + received == 20u);
  BOOST_TEST((r.try_read<Tick>().status == Errc::timeout));
}

BOOST_DATA_TEST_CASE(broadcast_frame_of_another_size_is_type_mismatch_and_consumed, bdata::make(test_backends()),
                     backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-typed");
  auto w = BroadcastWriter::create(*s, "t", channel_config(8, 64));
  BroadcastReader r(*s, "t");
  const std::uint32_t small = 7;
  w.publish(small);                                  // 4 bytes: smaller than Tick
  w.publish(std::array<std::uint64_t, 5>{1, 2, 3, 4, 5});  // 40 bytes: larger than Tick
  w.publish(Tick{42, 1.5, 9});
  try {
    (void)r.try_read<Tick>();
    BOOST_ERROR("a 4-byte frame read as Tick must throw");
  } catch (const Error& e) {
    BOOST_TEST(e.errc() == Errc::type_mismatch);
    BOOST_TEST(std::strstr(e.what(), "has 4 bytes") != nullptr, e.what());
    BOOST_TEST(std::strstr(e.what(), "sizeof(T) = 24") != nullptr, e.what());
  }
  try {
    (void)r.read<Tick>(1s);
    BOOST_ERROR("a 40-byte frame read as Tick must throw");
  } catch (const Error& e) {
    BOOST_TEST(e.errc() == Errc::type_mismatch);
    BOOST_TEST(std::strstr(e.what(), "frame 1 has 40 bytes") != nullptr, e.what());
  }
  auto t = r.try_read<Tick>();
  BOOST_REQUIRE(t);
  BOOST_TEST(t->ts == 42);
  BOOST_TEST(t.frame.sequence == 2u);
}

BOOST_DATA_TEST_CASE(broadcast_typed_loan, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-typed");
  auto w = BroadcastWriter::create(*s, "t", channel_config(8, 64));
  BroadcastReader r(*s, "t");
  {
    auto loan = w.loan<Tick>();
    BOOST_REQUIRE(loan);
    loan->ts = 7;
    loan->price = 2.25;
    (*loan).venue = 3;
    BOOST_TEST(loan.publish() == 0u);
  }
  { auto dropped = w.loan<Tick>(); }  // never published: publishes nothing
  auto t = r.try_read<Tick>();
  BOOST_REQUIRE(t);
  BOOST_TEST(t->ts == 7);
  BOOST_TEST(t->price == 2.25);
  BOOST_TEST(t->venue == 3u);
  BOOST_TEST((r.try_read<Tick>().status == Errc::timeout));
  expect_errc(Errc::invalid_argument, [&] { (void)w.loan<Big>(); });
}

BOOST_DATA_TEST_CASE(queue_typed_publish_read_and_loan, bdata::make(test_backends()), backend) {
  ScratchSegment s(backend, 1 << 20, "shmkit-typed");
  auto w = QueueWriter::create(*s, "q", channel_config(4, 64));
  QueueReader r(*s, "q");
  BOOST_TEST((r.try_read<Tick>().status == Errc::timeout));
  BOOST_TEST((w.publish(Tick{1, 1.0, 1}, 1s).status == Errc::ok));
  BOOST_TEST((w.try_publish(Tick{2, 2.0, 2}).status == Errc::ok));
  {
    auto loan = w.loan<Tick>(1s);
    BOOST_REQUIRE(loan);
    *loan = Tick{3, 3.0, 3};
    loan.publish();
  }
  {
    auto loan = w.try_loan<Tick>();
    BOOST_REQUIRE(loan);
    *loan = Tick{4, 4.0, 4};
    loan.publish();
  }
  // Full: four slots taken, a fifth fails fast.
  BOOST_TEST((w.try_publish(Tick{5, 5.0, 5}).status == Errc::timeout));
  BOOST_TEST(!static_cast<bool>(w.try_loan<Tick>()));
  for (int i = 1; i <= 4; ++i) {
    auto t = i % 2 ? r.read<Tick>(1s) : r.try_read<Tick>();
    BOOST_REQUIRE(t);
    BOOST_TEST(t->ts == i);
    BOOST_TEST(t->price == double(i));
  }
  w.publish(std::uint64_t{9}, 1s);
  w.publish(Tick{6, 6.0, 6}, 1s);
  expect_errc(Errc::type_mismatch, [&] { (void)r.read<Tick>(1s); });
  auto t = r.try_read<Tick>();
  BOOST_REQUIRE(t);
  BOOST_TEST(t->ts == 6);
  expect_errc(Errc::invalid_argument, [&] { (void)w.try_loan<Big>(); });
}
