// Child process for the cross-process segment tests. Usage:
//   shmkit-test-segment-helper <command> <backend>[:<socket-path>] <segment-name> [args...]
// memfd opens at <socket-path> when given, else at the segment's default socket path.
// Exit codes: 0 success, 2 data mismatch (details on stderr), 3 shmkit::Error, 4 usage.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>

#include "segment_types.hpp"
#include "shmkit/memfd_handle.hpp"

using namespace shmkit;
using namespace shmkit::test;

namespace {

int fail(const char* what) {
  std::fprintf(stderr, "helper: %s\n", what);
  return 2;
}

// "<backend>[:<socket-path>]", the backend as to_string() spells it (the registry's names, and
// "automatic"); nullopt for a name no backend has.
std::optional<SegmentOptions> parse_backend(const std::string& arg) {
  SegmentOptions options;
  const auto colon = arg.find(':');
  const std::optional<Backend> backend = backend_from_string(arg.substr(0, colon));
  if (!backend) return std::nullopt;
  options.backend = *backend;
  if (colon != std::string::npos) options.socket_path = arg.substr(colon + 1);
  return options;
}

// Reads {"alpha": [1,2,3], "beta": [4,5]}, appends 100 to every vector, adds "gamma": [7,8,9].
int edit_map(Segment& seg) {
  auto* m = seg.find<MapOfVectors>("map");
  auto* lock = seg.find<Mutex>("map-lock");
  if (m == nullptr || lock == nullptr) return fail("map or lock not found");
  std::lock_guard guard(*lock);
  auto alpha = m->find(std::string_view("alpha"));
  auto beta = m->find(std::string_view("beta"));
  if (m->size() != 2 || alpha == m->end() || beta == m->end()) return fail("map keys differ");
  if (alpha->second.size() != 3 || alpha->second[0] != 1 || alpha->second[2] != 3) return fail("alpha differs");
  if (beta->second.size() != 2 || beta->second[1] != 5) return fail("beta differs");
  for (auto& [key, values] : *m) values.push_back(100);
  m->emplace("gamma", std::initializer_list<int>{7, 8, 9});
  return 0;
}

int edit_tree(Segment& seg) {
  auto* t = seg.find<CounterTree>("tree");
  auto* lock = seg.find<Mutex>("tree-lock");
  if (t == nullptr || lock == nullptr) return fail("tree or lock not found");
  std::lock_guard guard(*lock);
  if (t->size() != kTreeKeys) return fail("tree size differs");
  std::uint64_t expect = 0;
  for (const auto& [k, v] : *t) {
    if (k != expect || v != 3 * k) return fail("tree entries differ");
    ++expect;
  }
  for (std::uint64_t k = 0; k < kTreeKeys; k += 2)
    if (t->erase(k) != 1) return fail("erase failed");
  for (std::uint64_t k = kTreeKeys; k < 2 * kTreeKeys; ++k)
    if (!t->try_emplace(k, 3 * k).second) return fail("insert failed");
  return 0;
}

int produce(Segment& seg, std::uint64_t count) {
  auto* q = seg.find<HandoffQueue>("queue");
  auto* items = seg.find<shmkit::deque<std::uint64_t>>("items");
  if (q == nullptr || items == nullptr) return fail("queue not found");
  for (std::uint64_t i = 0; i < count; ++i) {
    std::unique_lock lock(q->mutex);
    if (!q->not_full.wait_for(lock, std::chrono::seconds(30), [&] { return items->size() < q->capacity; }))
      return fail("producer timed out waiting for room");
    items->push_back(i);
    q->not_empty.notify_one();
  }
  std::lock_guard lock(q->mutex);
  q->producer_done = true;
  q->not_empty.notify_all();
  return 0;
}

int consume(Segment& seg) {
  auto* q = seg.find<HandoffQueue>("queue");
  auto* items = seg.find<shmkit::deque<std::uint64_t>>("items");
  if (q == nullptr || items == nullptr) return fail("queue not found");
  std::uint64_t expected = 0, out_of_order = 0;
  for (;;) {
    std::unique_lock lock(q->mutex);
    if (!q->not_empty.wait_for(lock, std::chrono::seconds(30), [&] { return !items->empty() || q->producer_done; }))
      return fail("consumer timed out waiting for items");
    if (items->empty() && q->producer_done) break;
    while (!items->empty()) {
      if (items->front() != expected) ++out_of_order;
      items->pop_front();
      ++expected;
    }
    q->not_full.notify_one();
  }
  std::lock_guard lock(q->mutex);
  q->received = expected;
  q->out_of_order = out_of_order;
  return 0;
}

int write_records(Segment& seg, std::uint64_t rounds) {
  auto* r = seg.find<GuardedRecord>("record");
  if (r == nullptr) return fail("record not found");
  for (std::uint64_t round = 1; round <= rounds; ++round) {
    std::unique_lock lock(r->lock);
    // Field by field: a reader that got in between would see a mix.
    for (auto& v : r->values) v = round;
  }
  r->writer_done.store(1, std::memory_order_release);
  return 0;
}

int read_records(Segment& seg) {
  auto* r = seg.find<GuardedRecord>("record");
  if (r == nullptr) return fail("record not found");
  r->readers_started.fetch_add(1);
  std::uint64_t reads = 0, torn = 0, last = 0, went_back = 0;
  while (r->writer_done.load(std::memory_order_acquire) == 0) {
    std::shared_lock lock(r->lock);
    const std::uint64_t first = r->values[0];
    for (auto v : r->values) torn += v != first ? 1 : 0;
    went_back += first < last ? 1 : 0;
    last = first;
    ++reads;
  }
  std::printf("reader %d: %llu reads, %llu torn, last value %llu\n", getpid(), static_cast<unsigned long long>(reads),
              static_cast<unsigned long long>(torn), static_cast<unsigned long long>(last));
  return torn == 0 && went_back == 0 ? 0 : fail("torn or backwards record seen");
}

int hold_robust_lock(Segment& seg) {
  auto* v = seg.find<RobustVictim>("victim");
  if (v == nullptr) return fail("victim not found");
  RobustLock lock(v->mutex);
  if (lock.owner_died()) {  // a previous child was killed: repair first, as a user would
    v->b = v->a;
    lock.mark_consistent();
  }
  ++v->a;  // invariant a == b broken: the parent kills us before we restore it
  v->locked_by_child.store(1, std::memory_order_release);
  for (;;) pause();
}

}  // namespace

// Constructs and destroys "obj-<k>" (value k) for ever, counting steps in "progress", until killed.
int churn_objects(Segment& seg) {
  auto* progress = seg.find<std::atomic<std::uint64_t>>("progress");
  if (progress == nullptr) return fail("progress not found");
  for (std::uint64_t i = 0; i < (std::uint64_t{1} << 40); ++i) {
    const std::uint64_t k = i % 40;
    const std::string name = "obj-" + std::to_string(k);
    if (seg.find<std::uint64_t>(name) != nullptr) {
      if (!seg.destroy<std::uint64_t>(name)) return fail("destroy of a found object failed");
    } else {
      seg.construct<std::uint64_t>(name, k);
    }
    progress->store(i + 1, std::memory_order_release);
  }
  return 0;
}

// Checks every value of "grow-values" (under "grow-lock").
bool grow_values_intact(Segment& seg) {
  auto* values = seg.find<GrowValues>("grow-values");
  auto* lock = seg.find<Mutex>("grow-lock");
  if (values == nullptr || lock == nullptr) return false;
  std::lock_guard guard(*lock);
  for (std::uint64_t i = 0; i < values->size(); ++i)
    if ((*values)[i] != grow_value(i)) return false;
  return true;
}

// Grows the segment `count` times by `step` bytes, checking the size after each and the values
// the test writes meanwhile every 50th time; counts grows in "grows".
int grow_times(Segment& seg, std::uint64_t count, std::uint64_t step) {
  auto* grows = seg.find<std::atomic<std::uint64_t>>("grows");
  if (grows == nullptr) return fail("grows not found");
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t before = seg.size();
    seg.grow(step);
    if (seg.size() < before + step) return fail("size did not follow the grow");
    grows->store(i + 1, std::memory_order_release);
    if (i % 50 == 0 && !grow_values_intact(seg)) return fail("grow-values differ");
  }
  return grow_values_intact(seg) ? 0 : fail("grow-values differ at the end");
}

// Grows by `step` until the maximum, counting in "grows", and is killed before (or exits 0).
int grow_until_killed(Segment& seg, std::uint64_t step) {
  auto* grows = seg.find<std::atomic<std::uint64_t>>("grows");
  if (grows == nullptr) return fail("grows not found");
  for (std::uint64_t i = 0;; ++i) {
    try {
      seg.grow(step);
    } catch (const Error& e) {
      if (e.errc() == Errc::out_of_memory) return 0;
      throw;
    }
    grows->store(i + 1, std::memory_order_release);
  }
}

// For the Python reader's growth test: creates `name` (64 KiB, may grow to 16 MiB) holding
// "obj-0" = 1000, prints "ready <size> <memfd socket path or ->", then on each "grow" line from
// stdin grows it by 1 MiB, constructs "obj-<k>" (100,000 x (1000 + k), in the new room) and
// prints "grown <size>"; any other line (or EOF) removes the segment and ends.
int serve_growing(const char* name, SegmentOptions options) {
  options.max_size = 16u << 20;
  Segment::remove(name, options.backend);
  {
    Segment seg = Segment::create(name, 64u << 10, options);
    seg.construct<std::uint64_t>("obj-0", std::uint64_t{1000});
    const auto* memfd = seg.handle<MemfdHandle>();
    std::printf("ready %zu %s\n", seg.size(), memfd != nullptr ? memfd->socket_path().c_str() : "-");
    std::fflush(stdout);
    char line[64];
    for (std::uint64_t k = 1; std::fgets(line, sizeof line, stdin) != nullptr && std::strncmp(line, "grow", 4) == 0; ++k) {
      seg.grow(1u << 20);
      seg.construct_array<std::uint64_t>("obj-" + std::to_string(k), 100000, 1000 + k);
      std::printf("grown %zu\n", seg.size());
      std::fflush(stdout);
    }
  }
  Segment::remove(name, options.backend);
  return 0;
}

// Says "about to wait" by creating `marker`, then opens a segment that does not exist yet,
// waiting for its creation, and checks the value its creator stores in "ready".
int wait_open(const char* name, SegmentOptions options, const char* marker) {
  options.wait_for_creation = std::chrono::seconds(30);
  if (std::FILE* f = std::fopen(marker, "w")) {
    std::fclose(f);
  } else {
    return fail("cannot create the marker file");
  }
  Segment seg = Segment::open(name, options);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {  // the creator constructs "ready" right after create(): bounded wait for it
    if (const auto* ready = seg.find<std::atomic<std::uint64_t>>("ready");
        ready != nullptr && ready->load(std::memory_order_acquire) == 42)
      return 0;
    if (std::chrono::steady_clock::now() >= deadline) return fail("no ready value after the open");
    std::this_thread::yield();
  }
}

int main(int argc, char** argv) {
  if (argc < 4) return 4;
  const std::string command = argv[1];
  try {
    const std::optional<SegmentOptions> options = parse_backend(argv[2]);
    if (!options) {
      std::fprintf(stderr, "helper: unknown backend in '%s'\n", argv[2]);
      return 4;
    }
    if (command == "wait-open" && argc == 5) return wait_open(argv[3], *options, argv[4]);
    if (command == "serve-growing") return serve_growing(argv[3], *options);
    Segment seg = Segment::open(argv[3], *options);
    if (command == "edit-map") return edit_map(seg);
    if (command == "edit-tree") return edit_tree(seg);
    if (command == "produce" && argc == 5) return produce(seg, std::strtoull(argv[4], nullptr, 10));
    if (command == "consume") return consume(seg);
    if (command == "write-records" && argc == 5) return write_records(seg, std::strtoull(argv[4], nullptr, 10));
    if (command == "read-records") return read_records(seg);
    if (command == "hold-robust-lock") return hold_robust_lock(seg);
    if (command == "churn-objects") return churn_objects(seg);
    if (command == "grow-times" && argc == 6)
      return grow_times(seg, std::strtoull(argv[4], nullptr, 10), std::strtoull(argv[5], nullptr, 10));
    if (command == "grow-until-killed" && argc == 5) return grow_until_killed(seg, std::strtoull(argv[4], nullptr, 10));
    std::fprintf(stderr, "helper: unknown command '%s' with %d arguments\n", command.c_str(), argc - 1);
    return 4;
  } catch (const shmkit::Error& e) {
    std::fprintf(stderr, "helper: shmkit error %s: %s\n", to_string(e.errc()), e.what());
    return 3;
  }
}
