// shmkit::Snapshot<T> in one process: versions, load_if_newer, torn-read freedom under threads,
// and a writer that died mid-store.
#define BOOST_TEST_MODULE snapshot
#include <boost/test/unit_test.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "../helpers/persist_types.hpp"
#include "child_process.hpp"
#include "shmkit/error.hpp"
#include "shmkit/segment.hpp"

using namespace shmkit;
using namespace shmkit::test;

namespace {

struct Small {
  std::int16_t a;
  char c;  // padding after it must not matter
  double d;
};

}  // namespace

BOOST_AUTO_TEST_CASE(starts_empty_then_counts_versions) {
  Snapshot<Small> s;
  BOOST_TEST(s.version() == Snapshot<Small>::empty_version);
  BOOST_TEST(s.load().a == 0);
  s.store(Small{7, 'x', 2.5});
  BOOST_TEST(s.version() == 1u);
  const Small got = s.load();
  BOOST_TEST(got.a == 7);
  BOOST_TEST(got.c == 'x');
  BOOST_TEST(got.d == 2.5);
  s.store(Small{8, 'y', 3.5});
  auto [v, version] = s.load_with_version();
  BOOST_TEST(v.a == 8);
  BOOST_TEST(version == 2u);

  Snapshot<int> initial(42);
  BOOST_TEST(initial.version() == 1u);
  BOOST_TEST(initial.load() == 42);
}

BOOST_AUTO_TEST_CASE(load_if_newer_only_reports_new_values) {
  Snapshot<int> s;
  std::uint64_t seen = 0;
  BOOST_TEST(!s.load_if_newer(seen).has_value());
  s.store(1);
  auto first = s.load_if_newer(seen);
  BOOST_REQUIRE(first.has_value());
  BOOST_TEST(*first == 1);
  BOOST_TEST(seen == 1u);
  BOOST_TEST(!s.load_if_newer(seen).has_value());
  s.store(2);
  s.store(3);
  auto latest = s.load_if_newer(seen);
  BOOST_REQUIRE(latest.has_value());
  BOOST_TEST(*latest == 3);  // intermediate values are skipped: latest value wins
  BOOST_TEST(seen == 3u);
}

BOOST_AUTO_TEST_CASE(readers_never_see_a_torn_value) {
  Snapshot<Pose> s(make_pose(1));
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> reads{0}, torn{0}, mismatched{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r)
    readers.emplace_back([&] {
      std::uint64_t local = 0;
      while (!done.load(std::memory_order_relaxed)) {
        auto [p, version] = s.load_with_version();
        if (!pose_consistent(p)) torn.fetch_add(1);
        if (p.stamp != version) mismatched.fetch_add(1);
        ++local;
      }
      reads.fetch_add(local);
    });
  for (std::uint64_t i = 2; i <= 300'000; ++i) s.store(make_pose(i));
  done = true;
  for (auto& t : readers) t.join();
  BOOST_TEST(reads.load() > 0u);
  BOOST_TEST(torn.load() == 0u);
  BOOST_TEST(mismatched.load() == 0u);
  BOOST_TEST(s.load().stamp == 300'000u);
}

BOOST_AUTO_TEST_CASE(works_in_a_segment) {
  const std::string name = unique_name("shmkit-snap");
  {
    Segment seg = Segment::create(name, 1 << 20);
    auto& s = seg.construct<Snapshot<Pose>>("pose");
    s.store(make_pose(1));
    Segment other = Segment::open(name);
    auto* found = other.find<Snapshot<Pose>>("pose");
    BOOST_REQUIRE(found != nullptr);
    BOOST_TEST(found->load().stamp == 1u);
    BOOST_TEST(pose_consistent(found->load()));
  }
  Segment::remove(name);
}

// The sequence word is the first member (standard layout): the test plays a writer that died
// between the odd and even marks, which no timing of a real kill can hit on purpose.
BOOST_AUTO_TEST_CASE(writer_dead_mid_store_is_reported_and_repaired) {
  static_assert(std::is_standard_layout_v<Snapshot<Pose>>);
  Snapshot<Pose> s(make_pose(1));
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  int st = 0;
  BOOST_REQUIRE(::waitpid(dead, &st, 0) == dead);
  auto* seq = reinterpret_cast<std::atomic<std::uint64_t>*>(&s);
  auto* writer = reinterpret_cast<std::atomic<std::int32_t>*>(reinterpret_cast<char*>(&s) + 8);
  seq->store(seq->load() | 1);
  writer->store(static_cast<std::int32_t>(dead));
  try {
    (void)s.load();
    BOOST_FAIL("load() must not return while the dead writer's store is half done");
  } catch (const Error& e) {
    BOOST_TEST(e.errc() == Errc::owner_died);
  }
  s.store(make_pose(2));  // version continues after the interrupted store
  BOOST_TEST(s.load().stamp == 2u);
  BOOST_TEST(s.version() == 2u);
}
