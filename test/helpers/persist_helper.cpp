// Child process for the semaphore, snapshot and file-backend tests. Usage:
//   shmkit-test-persist-helper <command> <backend> <segment-name-or-path> [args...]
// Exit codes: 0 success, 2 data mismatch or timeout (details on stderr), 3 shmkit::Error, 4 usage.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <csignal>

#include "backend.hpp"
#include "persist_types.hpp"
#include "shmkit/containers.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/file_session.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;

namespace {

int fail(const std::string& what) {
  std::fprintf(stderr, "persist helper: %s\n", what.c_str());
  return 2;
}

// Bounded wait for a flag another process sets; the flag is the event, the clock only a bound.
template <class Pred>
bool await(Pred pred, std::chrono::seconds timeout = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Enters the pool `rounds` times, recording how many holders are inside at once.
int pool(Segment& seg, std::uint64_t rounds) {
  auto* sem = seg.find<Semaphore>("pool");
  auto* stats = seg.find<PoolStats>("stats");
  if (sem == nullptr || stats == nullptr) return fail("pool or stats not found");
  stats->arrived.fetch_add(1);
  if (!await([&] { return stats->go.load() != 0; })) return fail("the parent never opened the gate");
  for (std::uint64_t i = 0; i < rounds; ++i) {
    if (!sem->try_wait_for(60s)) return fail("no pool slot within 60 s");
    const std::int32_t now = stats->active.fetch_add(1) + 1;
    std::int32_t seen = stats->max_active.load();
    while (now > seen && !stats->max_active.compare_exchange_weak(seen, now)) {}
    stats->entries.fetch_add(1);
    // Stay inside a little, so holders overlap and a broken limit shows.
    for (int spin = 0; spin < 200; ++spin) std::this_thread::yield();
    stats->active.fetch_sub(1);
    sem->post();
  }
  return 0;
}

// Blocks on semaphore "gate" until the parent kills this process.
int park(Segment& seg) {
  auto* sem = seg.find<Semaphore>("gate");
  auto* stats = seg.find<PoolStats>("stats");
  if (sem == nullptr || stats == nullptr) return fail("gate or stats not found");
  stats->waiter_parked.store(1);
  sem->wait();
  return fail("parked waiter got a unit it was never meant to get");
}

// Takes one unit of "gate" within the timeout (seconds).
int take(Segment& seg, long seconds) {
  auto* sem = seg.find<Semaphore>("gate");
  if (sem == nullptr) return fail("gate not found");
  return sem->try_wait_for(std::chrono::seconds(seconds)) ? 0 : fail("no unit arrived in time");
}

// Reads snapshot "pose" until the writer is done, checking every copy.
int read_snapshot(Segment& seg, int index) {
  auto* snap = seg.find<Snapshot<Pose>>("pose");
  auto* stats = seg.find<SnapshotStats>("snapshot-stats");
  if (snap == nullptr || stats == nullptr) return fail("pose or stats not found");
  if (index < 0 || index >= kMaxReaders) return fail("bad reader index");
  auto& me = stats->readers[index];
  std::uint64_t reads = 0, inconsistent = 0, mismatch = 0, backwards = 0, distinct = 0, last = 0;
  stats->readers_ready.fetch_add(1);
  // One more read after the writer finished, so the final value is always checked too.
  for (bool done = false; !done;) {
    done = stats->writer_done.load() != 0;
    auto [pose, version] = snap->load_with_version();
    ++reads;
    if (!pose_consistent(pose)) ++inconsistent;
    if (pose.stamp != version) ++mismatch;
    if (version < last) ++backwards;
    if (version != last) ++distinct;
    last = version;
  }
  me.reads.store(reads);
  me.inconsistent.store(inconsistent);
  me.version_mismatch.store(mismatch);
  me.went_backwards.store(backwards);
  me.distinct_versions.store(distinct);
  me.finished.store(1);
  return 0;
}

// Fills a file segment with n numbers and a string, then exits normally (an orderly close).
int file_fill(Segment& seg, std::uint64_t n) {
  auto& numbers = seg.construct<shmkit::vector<std::uint64_t>>("numbers");
  for (std::uint64_t i = 0; i < n; ++i) numbers.push_back(file_value(i));
  seg.construct<shmkit::string>("greeting", "written by another process");
  seg.construct<FileRecord>("record");
  return 0;
}

// Checks what file_fill wrote and how the open found the file ("clean" or "unclean").
int file_check(Segment& seg, std::uint64_t n, const std::string& expect) {
  if (seg.handle<FileSession>()->opened_clean() != (expect == "clean"))
    return fail(std::string("expected the open to find the file ") + expect);
  auto* numbers = seg.find<shmkit::vector<std::uint64_t>>("numbers");
  auto* greeting = seg.find<shmkit::string>("greeting");
  if (numbers == nullptr || greeting == nullptr) return fail("numbers or greeting not found");
  if (numbers->size() != n) return fail("numbers has " + std::to_string(numbers->size()) + " elements");
  for (std::uint64_t i = 0; i < n; ++i)
    if ((*numbers)[i] != file_value(i)) return fail("numbers[" + std::to_string(i) + "] differs");
  if (*greeting != "written by another process") return fail("greeting differs");
  return 0;
}

// Rewrites the record forever (until killed): each update sets every value to the next count.
int file_update_forever(Segment& seg) {
  auto* r = seg.find<FileRecord>("record");
  if (r == nullptr) return fail("record not found");
  r->child_state.store(1);
  for (std::uint64_t k = 1;; ++k) {
    for (auto& v : r->values) v = k;
    r->updates.store(k, std::memory_order_release);
  }
}

// Stops inside the segment manager's lock, as a process stopped by a power cut would be.
int file_hold_manager_lock(Segment& seg) {
  auto* r = seg.find<FileRecord>("record");
  if (r == nullptr) return fail("record not found");
  auto hold = [&] {
    r->child_state.store(2);
    for (;;) ::pause();
  };
  seg.manager().atomic_func(hold);
  return fail("left the manager lock");
}

// Starts creating a file segment and stops for good while formatting it, its private file
// fully reserved: says "formatting" on stdout, then waits to be killed.
int file_create_stop(const std::string& path, std::size_t size) {
  SegmentOptions options;
  options.backend = Backend::file;
  shmkit::detail::backend_for(Backend::file).create(path, size, size, options, [](shmkit::detail::Mapping&) {
    std::printf("formatting\n");
    std::fflush(stdout);
    for (;;) ::pause();
  });
  return fail("create finished");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return 4;
  const std::string command = argv[1];
  try {
    if (command == "file-create-stop" && argc == 5) return file_create_stop(argv[3], std::strtoull(argv[4], nullptr, 10));
    SegmentOptions options;
    // The backend as to_string() spells it (the registry's names): every backend of the build.
    const std::optional<Backend> backend = backend_from_string(argv[2]);
    if (!backend) {
      std::fprintf(stderr, "persist helper: unknown backend '%s'\n", argv[2]);
      return 4;
    }
    options.backend = *backend;
    Segment seg = Segment::open(argv[3], options);
    if (command == "pool" && argc == 5) return pool(seg, std::strtoull(argv[4], nullptr, 10));
    if (command == "park" && argc == 4) return park(seg);
    if (command == "take" && argc == 5) return take(seg, std::strtol(argv[4], nullptr, 10));
    if (command == "read-snapshot" && argc == 5) return read_snapshot(seg, std::atoi(argv[4]));
    if (command == "file-fill" && argc == 5) return file_fill(seg, std::strtoull(argv[4], nullptr, 10));
    if (command == "file-check" && argc == 6) return file_check(seg, std::strtoull(argv[4], nullptr, 10), argv[5]);
    if (command == "file-update-forever" && argc == 4) return file_update_forever(seg);
    if (command == "file-hold-manager-lock" && argc == 4) return file_hold_manager_lock(seg);
    return 4;
  } catch (const Error& e) {
    std::fprintf(stderr, "persist helper: %s: %s\n", to_string(e.errc()), e.what());
    return 3;
  }
}
