// Cross-process segment tests: every child is a separate exec'd process that maps the segment
// at an address of its own.
#define BOOST_TEST_MODULE segment_cross_process
#include <signal.h>
#include <unistd.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <thread>

#include "backends.hpp"
#include "shmkit/memfd_handle.hpp"
#include "temp_segment.hpp"
#include "child_process.hpp"
#include "../helpers/segment_types.hpp"

using namespace shmkit;
using namespace shmkit::test;
namespace bdata = boost::unit_test::data;

namespace {

ChildProcess helper(const std::string& command, const TempSegment& t, std::vector<std::string> extra = {}) {
  // Helpers are told the socket path explicitly: that route and open-by-name (the unit tests,
  // default path) are both exercised.
  std::string backend = to_string(t.backend);
  if (const auto* memfd = t.segment->handle<MemfdHandle>()) backend += ":" + memfd->socket_path();
  std::vector<std::string> args{command, backend, t.name};
  args.insert(args.end(), extra.begin(), extra.end());
  return ChildProcess(helper_path("shmkit-test-segment-helper"), args);
}

// Waits (bounded) for a value another process stores; the store is the event, not the clock.
template <class Pred>
bool await(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

BOOST_DATA_TEST_CASE(child_edits_map_of_vectors, bdata::make(test_backends()), backend) {
  TempSegment t(backend, 1 << 20);
  auto& m = t.segment->construct<MapOfVectors>("map");
  auto& lock = t.segment->construct<Mutex>("map-lock");
  {
    std::lock_guard g(lock);
    m.emplace("alpha", std::initializer_list<int>{1, 2, 3});
    m.emplace("beta", std::initializer_list<int>{4, 5});
  }
  auto status = helper("edit-map", t).wait();
  BOOST_REQUIRE_MESSAGE(status.ok(), "child: " << status.describe());
  std::lock_guard g(lock);
  BOOST_REQUIRE_EQUAL(m.size(), 3u);
  const auto& alpha = m.find(std::string_view("alpha"))->second;
  BOOST_TEST((std::vector<int>(alpha.begin(), alpha.end()) == std::vector<int>{1, 2, 3, 100}));
  const auto& beta = m.find(std::string_view("beta"))->second;
  BOOST_TEST((std::vector<int>(beta.begin(), beta.end()) == std::vector<int>{4, 5, 100}));
  const auto& gamma = m.find(std::string_view("gamma"))->second;
  BOOST_TEST((std::vector<int>(gamma.begin(), gamma.end()) == std::vector<int>{7, 8, 9}));
}

// A B+ tree built by one process, read, thinned and grown by another (its own mapping), and
// read back: nodes link by offset pointers only.
BOOST_DATA_TEST_CASE(btree_map_edited_by_another_process, bdata::make(test_backends()), backend) {
  TempSegment t(backend, 8 << 20);
  auto& tree = t.segment->construct<CounterTree>("tree");
  auto& lock = t.segment->construct<Mutex>("tree-lock");
  {
    std::lock_guard g(lock);
    for (std::uint64_t k = kTreeKeys; k-- > 0;) tree.try_emplace(k, 3 * k);
  }
  auto status = helper("edit-tree", t).wait();
  BOOST_REQUIRE_MESSAGE(status.ok(), "child: " << status.describe());
  std::lock_guard g(lock);
  BOOST_TEST(tree.size() == kTreeKeys / 2 + kTreeKeys);
  std::uint64_t expect = 1, wrong = 0;
  for (const auto& [k, v] : tree) {
    if (k != expect || v != 3 * k) ++wrong;
    expect = expect < kTreeKeys - 1 ? expect + 2 : (expect == kTreeKeys - 1 ? kTreeKeys : expect + 1);
  }
  BOOST_TEST(wrong == 0u);
  BOOST_TEST(expect == 2 * kTreeKeys);
  BOOST_TEST(!tree.contains(0));
  BOOST_TEST(tree.at(2 * kTreeKeys - 1) == 3 * (2 * kTreeKeys - 1));
}

BOOST_DATA_TEST_CASE(hundred_thousand_items_through_deque, bdata::make(test_backends()), backend) {
  constexpr std::uint64_t kItems = 100'000;
  TempSegment t(backend, 4 << 20);
  auto& q = t.segment->construct<HandoffQueue>("queue");
  t.segment->construct<shmkit::deque<std::uint64_t>>("items");
  auto consumer = helper("consume", t);
  auto producer = helper("produce", t, {std::to_string(kItems)});
  const auto p = producer.wait(std::chrono::seconds(120));
  const auto c = consumer.wait(std::chrono::seconds(120));
  BOOST_REQUIRE_MESSAGE(p.ok(), "producer: " << p.describe());
  BOOST_REQUIRE_MESSAGE(c.ok(), "consumer: " << c.describe());
  std::lock_guard g(q.mutex);
  BOOST_TEST(q.received == kItems);
  BOOST_TEST(q.out_of_order == 0u);
}

BOOST_DATA_TEST_CASE(shared_mutex_readers_never_see_half_written_record, bdata::make(test_backends()), backend) {
  TempSegment t(backend, 1 << 20);
  auto& record = t.segment->construct<GuardedRecord>("record");
  std::vector<ChildProcess> readers;
  for (int i = 0; i < 3; ++i) readers.push_back(helper("read-records", t));
  BOOST_REQUIRE(await([&] { return record.readers_started.load() == 3; }));
  auto writer = helper("write-records", t, {"20000"});
  const auto w = writer.wait(std::chrono::seconds(120));
  BOOST_REQUIRE_MESSAGE(w.ok(), "writer: " << w.describe());
  for (auto& r : readers) {
    const auto s = r.wait(std::chrono::seconds(60));
    BOOST_TEST(s.ok(), "reader: " << s.describe());
  }
  std::shared_lock g(record.lock);
  for (auto v : record.values) BOOST_TEST(v == 20000u);
}

// A child takes the mutex, breaks an invariant and is SIGKILLed; the parent must get the lock
// promptly, be told the owner died, repair, and go on. 200 rounds, no hang.
BOOST_DATA_TEST_CASE(robust_mutex_survives_killed_holder, bdata::make(test_backends()), backend) {
  TempSegment t(backend, 1 << 20);
  auto& victim = t.segment->construct<RobustVictim>("victim");
  BOOST_REQUIRE(Mutex::is_robust());
  for (int round = 0; round < 200; ++round) {
    victim.locked_by_child.store(0);
    auto child = helper("hold-robust-lock", t);
    BOOST_REQUIRE(await([&] { return victim.locked_by_child.load(std::memory_order_acquire) == 1; }));
    child.kill(SIGKILL);
    BOOST_REQUIRE_EQUAL(child.wait().signal, SIGKILL);
    const auto start = std::chrono::steady_clock::now();
    RobustLock lock(victim.mutex, std::chrono::seconds(5));
    const auto waited = std::chrono::steady_clock::now() - start;
    BOOST_REQUIRE(lock.owns_lock());
    BOOST_REQUIRE(lock.owner_died());
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() < 100);
    BOOST_REQUIRE_EQUAL(victim.a, victim.b + 1);  // the half-done update is visible: repair it
    victim.b = victim.a;
    lock.mark_consistent();
  }
  std::lock_guard g(victim.mutex);  // consistent again: a plain lock works
  BOOST_TEST(victim.a == 200u);
  BOOST_TEST(victim.b == 200u);
}

// A writer killed at any point of construct()/destroy() leaves an object directory that the next
// reader either validates (every listed object found with its value) or rejects as corrupt.
BOOST_DATA_TEST_CASE(object_directory_survives_writer_killed_mid_update, bdata::make(test_backends()), backend) {
  int validated = 0, rejected = 0;
  for (int round = 0; round < 40; ++round) {
    TempSegment t(backend, 1 << 20);
    auto& progress = t->construct<std::atomic<std::uint64_t>>("progress", 0u);
    auto child = helper("churn-objects", t);
    const std::uint64_t target = 20 + static_cast<std::uint64_t>(round) * 37 % 400;  // vary where it dies
    BOOST_REQUIRE(await([&] { return progress.load(std::memory_order_acquire) >= target; }));
    child.kill(SIGKILL);
    BOOST_REQUIRE_EQUAL(child.wait().signal, SIGKILL);
    try {
      const SegmentView view = SegmentView::open(t.name, options_for(backend));
      const std::vector<ObjectInfo> objects = view.objects();
      BOOST_REQUIRE(!objects.empty());  // "progress" at least
      for (const ObjectInfo& o : objects) {
        if (o.name == "progress") continue;
        BOOST_REQUIRE_EQUAL(o.name.rfind("obj-", 0), 0u);
        const std::uint64_t k = std::stoull(o.name.substr(4));
        const std::uint64_t* v = view.find<std::uint64_t>(o.name);
        BOOST_REQUIRE(v != nullptr);
        BOOST_REQUIRE_EQUAL(*v, k);
        BOOST_REQUIRE_EQUAL(*t->find<std::uint64_t>(o.name), k);
      }
      BOOST_REQUIRE(view.find<std::uint64_t>("obj-none") == nullptr);
      ++validated;
    } catch (const Error& e) {
      BOOST_TEST_MESSAGE("round " << round << ": " << e.what());
      BOOST_REQUIRE(e.errc() == Errc::corrupt);
      ++rejected;
    }
  }
  BOOST_TEST_MESSAGE(to_string(backend) << ": " << validated << " validated, " << rejected << " rejected as corrupt");
  BOOST_TEST(validated + rejected == 40);
}

// Plain std locking after a killed holder: never an error, never a hang; the poison says the
// data may be half-updated, to every later locker, until it is cleared.
BOOST_DATA_TEST_CASE(killed_holder_poisons_the_mutex, bdata::make(test_backends()), backend) {
  TempSegment t(backend, 1 << 20);
  auto& victim = t.segment->construct<RobustVictim>("victim");
  auto child = helper("hold-robust-lock", t);
  BOOST_REQUIRE(await([&] { return victim.locked_by_child.load(std::memory_order_acquire) == 1; }));
  child.kill(SIGKILL);
  child.wait();
  for (int i = 0; i < 2; ++i) {
    std::unique_lock lock(victim.mutex, std::chrono::seconds(5));
    BOOST_REQUIRE(lock.owns_lock());
    BOOST_TEST(victim.mutex.poisoned());
  }
  victim.b = victim.a;  // repaired
  victim.mutex.clear_poison();
  std::lock_guard g(victim.mutex);
  BOOST_TEST(!victim.mutex.poisoned());
}

// open() with wait_for_creation: a process that starts waiting before the segment exists attaches
// once it is created (on Linux woken by the name's appearance; elsewhere by polling).
BOOST_DATA_TEST_CASE(open_waits_for_a_segment_created_later, bdata::make(test_backends()), backend) {
  const std::string name = unique_name("shmkit-wait", backend);
  const std::string marker = name + ".waiting";
  const std::string marker_path = backend == Backend::file ? marker : "/tmp/" + marker;
  ::unlink(marker_path.c_str());
  ChildProcess child(helper_path("shmkit-test-segment-helper"), {"wait-open", to_string(backend), name, marker_path});
  // The child is about to wait once its marker exists; only then does the segment appear.
  BOOST_REQUIRE(await([&] { return ::access(marker_path.c_str(), F_OK) == 0; }));
  BOOST_TEST(!child.wait_for(std::chrono::milliseconds(0)).has_value());  // still waiting, not failed
  {
    Segment seg = Segment::create(name, 1 << 20, options_for(backend));
    seg.construct<std::atomic<std::uint64_t>>("ready", 42u);
    const auto status = child.wait();
    BOOST_TEST(status.ok(), status.describe());
  }
  Segment::remove(name, backend);
  ::unlink(marker_path.c_str());
}

// Without a creator the wait ends in not_found, no sooner than asked.
BOOST_DATA_TEST_CASE(open_wait_ends_in_not_found, bdata::make(test_backends()), backend) {
  SegmentOptions options = options_for(backend);
  options.wait_for_creation = std::chrono::milliseconds(200);
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)Segment::open(unique_name("shmkit-wait-none", backend), options);
    BOOST_FAIL("open of a segment nobody creates succeeded");
  } catch (const Error& e) {
    BOOST_TEST(e.errc() == Errc::not_found);
  }
  const bool waited_long_enough = std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(200);
  BOOST_TEST(waited_long_enough);
}
