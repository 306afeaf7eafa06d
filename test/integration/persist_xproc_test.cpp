// Semaphore and Snapshot across real, exec'd processes (each maps the segment at its own address).
#define BOOST_TEST_MODULE persist_cross_process
#include <signal.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <thread>

#include "../helpers/persist_types.hpp"
#include "backends.hpp"
#include "await.hpp"
#include "temp_segment.hpp"
#include "child_process.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace {

ChildProcess helper(const std::string& command, const TempSegment& t, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{command, to_string(t.backend), t.name};
  args.insert(args.end(), extra.begin(), extra.end());
  return ChildProcess(helper_path("shmkit-test-persist-helper"), args);
}

}  // namespace

BOOST_DATA_TEST_CASE(semaphore_limits_concurrency_across_processes, bdata::make(test_backends()), backend) {
  constexpr int kLimit = 2, kChildren = 5;
  constexpr std::uint64_t kRounds = 400;
  TempSegment t(backend, 1 << 20);
  auto& sem = t.segment->construct<Semaphore>("pool", static_cast<std::uint32_t>(kLimit));
  auto& stats = t.segment->construct<PoolStats>("stats");
  std::vector<ChildProcess> children;
  for (int i = 0; i < kChildren; ++i) children.push_back(helper("pool", t, {std::to_string(kRounds)}));
  BOOST_REQUIRE(await([&] { return stats.arrived.load() == kChildren; }));
  stats.go.store(1);
  for (auto& c : children) {
    const ExitStatus st = c.wait(std::chrono::minutes(3));
    BOOST_TEST(st.ok(), st.describe());
  }
  BOOST_TEST(stats.entries.load() == kChildren * kRounds);
  BOOST_TEST(stats.max_active.load() <= kLimit);
  BOOST_TEST(stats.max_active.load() >= 1);
  BOOST_TEST(stats.active.load() == 0);
  BOOST_TEST(sem.value() == static_cast<unsigned>(kLimit));  // every unit came back
}

BOOST_DATA_TEST_CASE(killed_waiter_does_not_block_later_waiters, bdata::make(test_backends()), backend) {
  TempSegment t(backend, 1 << 20);
  auto& sem = t.segment->construct<Semaphore>("gate", 0u);
  auto& stats = t.segment->construct<PoolStats>("stats");
  ChildProcess parked = helper("park", t);
  BOOST_REQUIRE(await([&] { return stats.waiter_parked.load() == 1; }));
  parked.kill(SIGKILL);
  const ExitStatus dead = parked.wait(30s);
  BOOST_TEST(dead.signal == SIGKILL);
  // A live waiter in another process gets the next unit; the dead one took nothing.
  ChildProcess taker = helper("take", t, {"60"});
  sem.post();
  const ExitStatus st = taker.wait(std::chrono::minutes(2));
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(sem.value() == 0u);
  sem.post();
  BOOST_TEST(sem.try_wait());
}

BOOST_DATA_TEST_CASE(snapshot_readers_never_see_torn_values, bdata::make(test_backends()), backend) {
  constexpr int kReaders = 3;
  constexpr std::uint64_t kStores = 2'000'000;
  TempSegment t(backend, 1 << 20);
  auto& snap = t.segment->construct<Snapshot<Pose>>("pose", make_pose(1));
  auto& stats = t.segment->construct<SnapshotStats>("snapshot-stats");
  std::vector<ChildProcess> readers;
  for (int i = 0; i < kReaders; ++i) readers.push_back(helper("read-snapshot", t, {std::to_string(i)}));
  BOOST_REQUIRE(await([&] { return stats.readers_ready.load() == kReaders; }));
  for (std::uint64_t i = 2; i <= kStores; ++i) snap.store(make_pose(i));
  stats.writer_done.store(1);
  for (auto& r : readers) {
    const ExitStatus st = r.wait(std::chrono::minutes(3));
    BOOST_TEST(st.ok(), st.describe());
  }
  BOOST_TEST(snap.version() == kStores);
  std::uint64_t total = 0;
  for (int i = 0; i < kReaders; ++i) {
    const auto& r = stats.readers[i];
    BOOST_TEST_CONTEXT("reader " << i) {
      BOOST_TEST(r.finished.load() == 1u);
      BOOST_TEST(r.reads.load() > 0u);
      BOOST_TEST(r.inconsistent.load() == 0u);
      BOOST_TEST(r.version_mismatch.load() == 0u);
      BOOST_TEST(r.went_backwards.load() == 0u);
      // The reader ran while the writer wrote: it saw the value change, and saw the final one.
      BOOST_TEST(r.distinct_versions.load() >= 2u);
    }
    total += r.reads.load();
  }
  BOOST_TEST_MESSAGE("stores: " << kStores << ", reads checked: " << total);
}
