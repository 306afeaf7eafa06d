// Several real processes on one segment, on every platform (Linux, portable POSIX, Windows) and
// every backend of test_backends() (named and file everywhere): containers, Mutex, Condition,
// SharedMutex, Semaphore, a queue and a broadcast channel with blocking waits, Snapshot, and a
// child killed while holding a Mutex. Children are shmkit-test-platform-helper, started by exec or
// CreateProcess (support/child_process.hpp), and each works on the segment at an address of its
// own (platform_helper.cpp makes sure it differs from this process's).
// Public API only. Processes synchronize through the shared objects; every wait has a timeout,
// which is a failure guard, never the synchronization.
#define BOOST_TEST_MODULE platform_xproc
#include <unistd.h>  // getpid (mingw-w64 has it too)

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "../helpers/platform_types.hpp"
#include "await.hpp"
#include "backends.hpp"
#include "child_process.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace shmkit::test::xproc;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

// Not an anonymous namespace: lambdas in the (template) data test cases capture these types.
namespace fixtures {

constexpr auto kWait = 30s;  // failure guard for every wait

// A segment of this test, with the Control block, removed at the end (also when a check throws).
struct XprocSegment {
  explicit XprocSegment(Backend b, const std::string& prefix = "shmkit-xproc")
      : backend(b), name(unique_name(prefix, b)) {
    segment.emplace(Segment::create(name, 4 << 20, options_for(b)));
    control = &segment->construct<Control>("control");
    control->parent_control_at = reinterpret_cast<std::uintptr_t>(control);  // children map it elsewhere
  }
  ~XprocSegment() {
    segment.reset();
    Segment::remove(name, backend);
  }
  XprocSegment(const XprocSegment&) = delete;
  XprocSegment& operator=(const XprocSegment&) = delete;

  // shmkit-test-platform-helper <command> <backend> <segment> [n] [id]
  ChildProcess child(const std::string& command, std::uint64_t n = 0, std::uint64_t id = 0) const {
    return ChildProcess(helper_path("shmkit-test-platform-helper"),
                        {command, to_string(backend), name, std::to_string(n), std::to_string(id)});
  }

  Segment& operator*() { return *segment; }
  Segment* operator->() { return &*segment; }

  Backend backend;
  std::string name;
  std::optional<Segment> segment;
  Control* control = nullptr;
};

void expect_success(ChildProcess& child, const std::string& what) {
  const ExitStatus st = child.wait(std::chrono::duration_cast<std::chrono::milliseconds>(2 * kWait));
  BOOST_TEST(st.ok(), what << ": " << st.describe());
}

}  // namespace fixtures
using namespace fixtures;

// Two children, N locked push_backs each into one vector: exactly 2N elements, each child's in
// its own order, and a plain counter under the same Mutex that lost no increment.
BOOST_DATA_TEST_CASE(mutex_guards_pushes_from_two_processes, bdata::make(test_backends()), backend) {
  constexpr std::uint64_t kPushes = 2000;
  XprocSegment s(backend);
  Control& c = *s.control;
  auto& pushes = s->construct<Pushes>("pushes");
  ChildProcess first = s.child("push", kPushes, 1);
  ChildProcess second = s.child("push", kPushes, 2);
  c.go.post(2);
  expect_success(first, "first pusher");
  expect_success(second, "second pusher");

  std::unique_lock lock(c.mutex, std::defer_lock);
  BOOST_REQUIRE(lock.try_lock_for(kWait));
  BOOST_TEST(c.counter == 2 * kPushes);
  BOOST_REQUIRE_EQUAL(pushes.size(), 2 * kPushes);
  std::uint64_t next[3] = {0, 0, 0};
  for (const std::uint64_t v : pushes) {
    const std::uint64_t id = v >> 32, i = v & 0xffffffffu;
    BOOST_REQUIRE(id == 1 || id == 2);
    BOOST_REQUIRE_EQUAL(i, next[id]);
    ++next[id];
  }
  BOOST_TEST(next[1] == kPushes);
  BOOST_TEST(next[2] == kPushes);
}

// A map of vectors built here is read in the child and extended there; the change shows here.
// The child is another process (its pid is the one ChildProcess started, not ours), working on
// the segment at another address than this process.
BOOST_DATA_TEST_CASE(containers_are_shared_both_ways, bdata::make(test_backends()), backend) {
  constexpr std::uint64_t kKeys = 50;
  XprocSegment s(backend);
  auto& index = s->construct<Index>("index");
  {
    std::lock_guard lock(s.control->mutex);
    for (std::uint64_t k = 0; k < kKeys; ++k) {
      const std::string key = "key-" + std::to_string(k);
      auto& values = index.emplace(key.c_str(), std::initializer_list<int>{}).first->second;
      for (std::uint64_t j = 0; j <= k; ++j) values.push_back(static_cast<int>(k * 100 + j));
    }
  }
  ChildProcess child = s.child("containers", kKeys, 7);
  expect_success(child, "containers child");
  std::lock_guard lock(s.control->mutex);
  BOOST_TEST(index.size() == kKeys + 1);
  const auto it = index.find(std::string_view("child"));
  BOOST_REQUIRE(it != index.end());
  BOOST_TEST(it->second.size() == 2u);
  BOOST_TEST(it->second[0] == 7);
  BOOST_TEST(it->second[1] == static_cast<int>(kKeys));
  BOOST_TEST(s.control->child_pid == static_cast<std::int64_t>(child.pid()));
  BOOST_TEST(s.control->child_pid != static_cast<std::int64_t>(getpid()));
  BOOST_TEST(s.control->child_control_at != s.control->parent_control_at);
  BOOST_TEST_MESSAGE("Control mapped at 0x" << std::hex << reinterpret_cast<std::uintptr_t>(s.control)
                                            << " here, 0x" << s.control->child_control_at << " in child "
                                            << std::dec << s.control->child_pid);
}

// Ping-pong through one Condition: this process takes the even turns, the child the odd ones;
// each side sleeps in wait_for until the other notifies. Also: a wait nobody notifies times out.
BOOST_DATA_TEST_CASE(condition_wakes_the_other_process, bdata::make(test_backends()), backend) {
  constexpr std::uint64_t kRounds = 200;
  XprocSegment s(backend);
  Control& c = *s.control;
  ChildProcess child = s.child("ping", kRounds);
  for (std::uint64_t r = 0; r < kRounds; ++r) {
    std::unique_lock lock(c.mutex, std::defer_lock);
    BOOST_REQUIRE(lock.try_lock_for(kWait));
    BOOST_REQUIRE_MESSAGE(c.changed.wait_for(lock, kWait, [&] { return c.turns % 2 == 0; }),
                          "no notify for turn " << c.turns + 1);
    ++c.turns;
    c.changed.notify_all();
  }
  expect_success(child, "ping child");
  std::unique_lock lock(c.mutex, std::defer_lock);
  BOOST_REQUIRE(lock.try_lock_for(kWait));
  BOOST_TEST(c.turns == 2 * kRounds);
  const auto before = std::chrono::steady_clock::now();
  BOOST_TEST((c.changed.wait_for(lock, 100ms) == std::cv_status::timeout));
  BOOST_TEST((std::chrono::steady_clock::now() - before >= 100ms));
  BOOST_TEST(lock.owns_lock());
}

// A child's shared ownership excludes a writer here but admits a reader; once it lets go the
// writer gets in. Then a writer child and a reader child taking shared ownership in a loop: it
// sees every update (the writer waits for that), never half of one.
BOOST_DATA_TEST_CASE(shared_mutex_readers_and_writer_across_processes, bdata::make(test_backends()), backend) {
  constexpr std::uint64_t kUpdates = 500;
  XprocSegment s(backend);
  Control& c = *s.control;
  {
    ChildProcess reader = s.child("hold-shared");
    BOOST_REQUIRE(c.ready.try_wait_for(kWait));
    BOOST_TEST(!c.rw.try_lock_for(50ms));  // the child reads: no writer
    BOOST_REQUIRE(c.rw.try_lock_shared_for(kWait));  // readers share
    c.rw.unlock_shared();
    c.release.post();
    BOOST_REQUIRE(c.rw.try_lock_for(kWait));  // the child let go
    c.rw.unlock();
    expect_success(reader, "shared holder");
  }
  ChildProcess writer = s.child("rw-writer", kUpdates);
  ChildProcess reader = s.child("rw-reader", kUpdates);
  c.go.post(2);
  expect_success(writer, "writer");
  expect_success(reader, "reader");
  std::shared_lock lock(c.rw, std::defer_lock);
  BOOST_REQUIRE(lock.try_lock_for(kWait));
  BOOST_TEST(c.a == kUpdates);
  BOOST_TEST(c.b == kUpdates);
}

// Units posted here are taken by two children, exactly half each (a child that took more would
// leave the other waiting until its timeout); every take is acknowledged, nothing is left.
BOOST_DATA_TEST_CASE(semaphore_counts_across_processes, bdata::make(test_backends()), backend) {
  constexpr std::uint64_t kUnits = 400;
  XprocSegment s(backend);
  Control& c = *s.control;
  ChildProcess first = s.child("sem-consume", kUnits / 2);
  ChildProcess second = s.child("sem-consume", kUnits / 2);
  for (std::uint64_t posted = 0; posted < kUnits; posted += 4) c.items.post(4);
  for (std::uint64_t i = 0; i < kUnits; ++i) BOOST_REQUIRE_MESSAGE(c.acks.try_wait_for(kWait), "ack " << i);
  expect_success(first, "first consumer");
  expect_success(second, "second consumer");
  BOOST_TEST(c.items.value() == 0u);
  BOOST_TEST(!c.items.try_wait());
  BOOST_TEST(c.acks.value() == 0u);
  BOOST_TEST(!c.acks.try_wait_for(10ms));
}

// Writer here, blocking reader in the child, a ring of 8 slots: the writer waits for room, the
// reader for frames. Every frame arrives once, in order, intact; then the close.
BOOST_DATA_TEST_CASE(queue_delivers_every_frame_in_order_across_processes, bdata::make(test_backends()), backend) {
  constexpr std::uint64_t kFrames = 5000;
  XprocSegment s(backend);
  ChannelConfig config;
  config.slots = 8;
  config.max_frame = kMaxFrame;
  WriterOptions options;
  options.wait = WaitStrategy::block();
  auto writer = QueueWriter::create(*s, "queue", config, options);
  ChildProcess reader = s.child("queue-read", kFrames);
  BOOST_REQUIRE(s.control->ready.try_wait_for(kWait));  // attached
  std::array<std::byte, kMaxFrame> buf{};
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const Published p = writer.publish(fill_frame(i, buf), kWait);
    BOOST_REQUIRE_MESSAGE(p.status == Errc::ok, "frame " << i << ": " << to_string(p.status));
    BOOST_REQUIRE_EQUAL(p.sequence, i);
  }
  BOOST_TEST(writer.stats().full_waits > 0u);  // the ring filled up: the writer really waited
  writer.close();
  expect_success(reader, "queue reader");
  const ChannelStatus st = channel_status(*s, "queue");
  BOOST_TEST(st.published == kFrames);
  BOOST_TEST(st.consumed == kFrames);
}

// One writer here, two blocking readers in two children. Before each frame both are asleep in
// their read (channel_status counts them); each frame wakes both, and each acknowledges it.
BOOST_DATA_TEST_CASE(broadcast_wakes_blocked_readers_in_other_processes, bdata::make(test_backends()), backend) {
  constexpr std::uint64_t kFrames = 300;
  XprocSegment s(backend);
  Control& c = *s.control;
  ChannelConfig config;
  config.slots = 16;
  config.max_frame = kMaxFrame;
  auto writer = BroadcastWriter::create(*s, "broadcast", config);
  ChildProcess first = s.child("broadcast-read", kFrames);
  ChildProcess second = s.child("broadcast-read", kFrames);
  BOOST_REQUIRE(c.ready.try_wait_for(kWait));
  BOOST_REQUIRE(c.ready.try_wait_for(kWait));
  std::array<std::byte, kMaxFrame> buf{};
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    BOOST_REQUIRE_MESSAGE(await([&] { return channel_status(*s, "broadcast").blocked_readers == 2; }, kWait),
                          "readers not both blocked before frame " << i);
    BOOST_REQUIRE_EQUAL(writer.publish(fill_frame(i, buf)), i);
    BOOST_REQUIRE_MESSAGE(c.acks.try_wait_for(kWait), "frame " << i << ": first ack");
    BOOST_REQUIRE_MESSAGE(c.acks.try_wait_for(kWait), "frame " << i << ": second ack");
  }
  writer.close();
  expect_success(first, "first reader");
  expect_success(second, "second reader");
  const ChannelStatus st = channel_status(*s, "broadcast");
  BOOST_TEST(st.published == kFrames);
  BOOST_TEST(st.readers.size() == 0u);  // both records freed when the readers ended
}

// The child stores versions 1, 2, 3... without pause while this process loads, until it saw
// kVersions of them change: every copy is whole (no torn sample) and versions never go back.
BOOST_DATA_TEST_CASE(snapshot_loads_whole_values_written_by_another_process, bdata::make(test_backends()), backend) {
  constexpr std::uint64_t kVersions = 200;
  XprocSegment s(backend);
  auto& snapshot = s->construct<Snapshot<Sample>>("snapshot");
  ChildProcess writer = s.child("snapshot-write");
  s.control->go.post();
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  std::uint64_t last = 0, seen = 0, loads = 0;
  while (seen < kVersions) {
    const auto [value, version] = snapshot.load_with_version();
    ++loads;
    BOOST_REQUIRE_GE(version, last);
    if (version != last) ++seen;
    last = version;
    if (version != 0) {
      BOOST_REQUIRE_MESSAGE(sample_consistent(value), "torn sample at version " << version);
      BOOST_REQUIRE_EQUAL(value.version, version);
    }
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "saw only " << seen << " versions");
  }
  s.control->release.post();
  expect_success(writer, "snapshot writer");
  const auto [value, version] = snapshot.load_with_version();
  BOOST_TEST(version >= last);
  BOOST_TEST(value.version == version);
  BOOST_TEST(sample_consistent(value));
  BOOST_TEST_MESSAGE("snapshot: " << loads << " loads saw " << seen << " of " << version << " versions");
}

// A child takes the Mutex, breaks the invariant a == b and is killed (SIGKILL; TerminateProcess
// on Windows) holding it. The next locker here is told owner_died, repairs, marks it consistent;
// the lock after that is plain.
BOOST_DATA_TEST_CASE(killed_holder_is_reported_as_owner_died, bdata::make(test_backends()), backend) {
  XprocSegment s(backend);
  Control& c = *s.control;
  ChildProcess holder = s.child("hold-mutex");
  BOOST_REQUIRE(c.ready.try_wait_for(kWait));
  BOOST_TEST(!c.mutex.try_lock_for(50ms));  // held by a live process
  holder.kill(SIGKILL);
  const ExitStatus st = holder.wait(std::chrono::duration_cast<std::chrono::milliseconds>(kWait));
  BOOST_REQUIRE_EQUAL(st.signal, SIGKILL);
  {
    RobustLock lock(c.mutex, kWait);
    BOOST_REQUIRE(lock.owns_lock());
    BOOST_TEST(lock.owner_died());
    BOOST_TEST(c.a == c.b + 1);  // what the dead holder left
    c.b = c.a;                   // repaired
    lock.mark_consistent();
  }
  RobustLock again(c.mutex, kWait);
  BOOST_REQUIRE(again.owns_lock());
  BOOST_TEST(!again.owner_died());
  BOOST_TEST(c.a == c.b);
}
