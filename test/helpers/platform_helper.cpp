// Child process of platform_xproc_test: started by exec (POSIX) or CreateProcess (Windows), so it
// maps the segment afresh, at an address of its own. Public API only. Usage:
//   shmkit-test-platform-helper <command> <backend> <segment> [n] [id]
// Every wait has a timeout. Exit codes: 0 success, 2 check failed (details on stderr),
// 3 shmkit::Error, 4 usage, 5 not killed when the test should have killed it.
#include <unistd.h>  // getpid (mingw-w64 has it too)

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "platform_types.hpp"

using namespace shmkit;
using namespace shmkit::test::xproc;
using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 30s;  // a failure guard only: the peer's post or notify is the event

int fail(const std::string& what) {
  std::fprintf(stderr, "platform helper: %s\n", what.c_str());
  return 2;
}

// N locked push_backs of id << 32 | i, after the parent's go.
int push(Segment& seg, Control& c, std::uint64_t n, std::uint64_t id) {
  auto* pushes = seg.find<Pushes>("pushes");
  if (pushes == nullptr) return fail("pushes not found");
  if (!c.go.try_wait_for(kWait)) return fail("no go");
  for (std::uint64_t i = 0; i < n; ++i) {
    std::unique_lock lock(c.mutex, std::defer_lock);
    if (!lock.try_lock_for(kWait)) return fail("mutex not acquired");
    pushes->push_back(id << 32 | i);
    ++c.counter;
  }
  return 0;
}

// Reads the parent's index, then adds "child": [id, n] under the mutex.
int containers(Segment& seg, Control& c, std::uint64_t n, std::uint64_t id) {
  auto* index = seg.find<Index>("index");
  if (index == nullptr) return fail("index not found");
  std::unique_lock lock(c.mutex, std::defer_lock);
  if (!lock.try_lock_for(kWait)) return fail("mutex not acquired");
  if (index->size() != n) return fail("index has " + std::to_string(index->size()) + " keys");
  for (std::uint64_t k = 0; k < n; ++k) {
    const auto it = index->find(std::string_view("key-" + std::to_string(k)));
    if (it == index->end()) return fail("key-" + std::to_string(k) + " missing");
    if (it->second.size() != k + 1) return fail("key-" + std::to_string(k) + ": wrong vector size");
    for (std::size_t j = 0; j < it->second.size(); ++j)
      if (it->second[j] != static_cast<int>(k * 100 + j)) return fail("key-" + std::to_string(k) + ": wrong value");
  }
  index->emplace("child", std::initializer_list<int>{static_cast<int>(id), static_cast<int>(n)});
  c.child_pid = static_cast<std::int64_t>(getpid());
  c.child_control_at = reinterpret_cast<std::uintptr_t>(&c);
  return 0;
}

// Ping-pong through the Condition: the parent takes even turns, this process odd ones.
int ping(Control& c, std::uint64_t rounds) {
  for (std::uint64_t r = 0; r < rounds; ++r) {
    std::unique_lock lock(c.mutex, std::defer_lock);
    if (!lock.try_lock_for(kWait)) return fail("mutex not acquired");
    if (!c.changed.wait_for(lock, kWait, [&] { return c.turns % 2 == 1; }))
      return fail("no notify for turn " + std::to_string(c.turns + 1));
    ++c.turns;
    c.changed.notify_all();
  }
  return 0;
}

// Holds shared ownership until the parent posts release.
int hold_shared(Control& c) {
  if (!c.rw.try_lock_shared_for(kWait)) return fail("shared lock not acquired");
  c.ready.post();
  const bool released = c.release.try_wait_for(kWait);
  c.rw.unlock_shared();
  return released ? 0 : fail("no release");
}

// Writer: a = b = i for i in 1..n, each under the exclusive lock (a reader that got in between
// the two stores would see them differ), while the reader keeps taking shared ownership. After
// each update it waits until the reader saw it (a writer-preferring lock would otherwise let a
// writer in a tight loop keep the reader out until it is done).
int rw_writer(Control& c, std::uint64_t n) {
  if (!c.go.try_wait_for(kWait)) return fail("no go");
  for (std::uint64_t i = 1; i <= n; ++i) {
    if (!c.rw.try_lock_for(kWait)) return fail("exclusive lock not acquired");
    c.a = i;
    c.b = i;
    c.rw.unlock();
    if (!c.acks.try_wait_for(kWait)) return fail("the reader did not see " + std::to_string(i));
  }
  return 0;
}

// Reader: under shared ownership a == b always, until the writer reaches n.
int rw_reader(Control& c, std::uint64_t n) {
  if (!c.go.try_wait_for(kWait)) return fail("no go");
  const auto deadline = std::chrono::steady_clock::now() + 2 * kWait;
  std::uint64_t reads = 0, last = 0;
  for (;;) {
    if (!c.rw.try_lock_shared_for(kWait)) return fail("shared lock not acquired");
    const std::uint64_t a = c.a, b = c.b;
    c.rw.unlock_shared();
    ++reads;
    if (a != b) return fail("torn: a " + std::to_string(a) + " b " + std::to_string(b));
    if (a != last) {
      if (a != last + 1) return fail("saw " + std::to_string(a) + " after " + std::to_string(last));
      last = a;
      c.acks.post();
    }
    if (a == n) break;
    if (std::chrono::steady_clock::now() > deadline) return fail("writer did not finish");
  }
  std::printf("platform helper: rw-reader: %llu shared reads\n", static_cast<unsigned long long>(reads));
  return 0;
}

// Takes n units of items, acknowledging each.
int sem_consume(Control& c, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    if (!c.items.try_wait_for(kWait)) return fail("unit " + std::to_string(i) + " never came");
    c.acks.post();
  }
  return 0;
}

// The queue's reader, blocking: frames 0..n-1 once each, in order, then closed.
int queue_read(Segment& seg, Control& c, std::uint64_t n) {
  ReaderOptions options;
  options.wait = WaitStrategy::block();
  QueueReader reader(seg, "queue", options);
  c.ready.post();
  std::array<std::byte, kMaxFrame> buf{};
  for (std::uint64_t i = 0; i < n; ++i) {
    const ReadResult r = reader.read(buf, kWait);
    if (r.status != Errc::ok) return fail("queue frame " + std::to_string(i) + ": " + to_string(r.status));
    if (r.frame.sequence != i) return fail("queue frame " + std::to_string(i) + " has sequence " + std::to_string(r.frame.sequence));
    if (!frame_ok(i, r.data)) return fail("queue frame " + std::to_string(i) + ": wrong payload");
  }
  const ReadResult end = reader.read(buf, kWait);
  if (end.status != Errc::closed) return fail(std::string("after the last frame: ") + to_string(end.status) + ", not closed");
  return 0;
}

// A broadcast reader, blocking: frames 0..n-1 once each, in order, none lost; acks each; then closed.
int broadcast_read(Segment& seg, Control& c, std::uint64_t n) {
  ReaderOptions options;
  options.wait = WaitStrategy::block();
  options.start = StartAt::oldest;
  BroadcastReader reader(seg, "broadcast", options);
  c.ready.post();
  std::array<std::byte, kMaxFrame> buf{};
  for (std::uint64_t i = 0; i < n; ++i) {
    const ReadResult r = reader.read(buf, kWait);
    if (r.status != Errc::ok) return fail("broadcast frame " + std::to_string(i) + ": " + to_string(r.status));
    if (r.frame.sequence != i || r.lost != 0)
      return fail("broadcast frame " + std::to_string(i) + " has sequence " + std::to_string(r.frame.sequence) +
                  ", lost " + std::to_string(r.lost));
    if (!frame_ok(i, r.data)) return fail("broadcast frame " + std::to_string(i) + ": wrong payload");
    c.acks.post();
  }
  const ReadResult end = reader.read(buf, kWait);
  if (end.status != Errc::closed) return fail(std::string("after the last frame: ") + to_string(end.status) + ", not closed");
  return 0;
}

// The Snapshot's one writer: versions 1, 2, 3... after the parent's go, without pause, until the
// parent (loading all along) has seen enough of them and posts release.
int snapshot_write(Segment& seg, Control& c) {
  auto* snapshot = seg.find<Snapshot<Sample>>("snapshot");
  if (snapshot == nullptr) return fail("snapshot not found");
  if (!c.go.try_wait_for(kWait)) return fail("no go");
  const auto deadline = std::chrono::steady_clock::now() + 2 * kWait;
  for (std::uint64_t v = 1;; ++v) {
    snapshot->store(make_sample(v));
    if (c.release.try_wait()) break;
    if (v % 1024 == 0 && std::chrono::steady_clock::now() > deadline) return fail("no release");
  }
  return 0;
}

// Takes the mutex, breaks the invariant a == b, and waits to be killed holding it.
int hold_mutex(Control& c) {
  RobustLock lock(c.mutex, kWait);
  if (!lock.owns_lock()) return fail("mutex not acquired");
  ++c.a;
  c.ready.post();
  (void)c.release.try_wait_for(4 * kWait);
  std::fprintf(stderr, "platform helper: hold-mutex was not killed\n");
  return 5;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return 4;
  const std::string command = argv[1];
  const std::uint64_t n = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 0;
  const std::uint64_t id = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 0;
  try {
    const std::optional<Backend> backend = backend_from_string(argv[2]);
    if (!backend) return fail(std::string("unknown backend ") + argv[2]) + 2;
    SegmentOptions options;
    options.backend = *backend;
    Segment seg = Segment::open(argv[3], options);
    auto* control = seg.find<Control>("control");
    // Work through a mapping at another address than the test's: where the OS maps the segment
    // at the same place (Wine does, having no ASLR for views), this takes another view and keeps
    // the first, so that only offsets can work.
    std::vector<Segment> spacers;
    while (control != nullptr && reinterpret_cast<std::uintptr_t>(control) == control->parent_control_at) {
      if (spacers.size() == 4) return fail("every view of the segment is at the test's address");
      spacers.push_back(std::move(seg));
      seg = Segment::open(argv[3], options);
      control = seg.find<Control>("control");
    }
    if (control == nullptr) return fail("control not found");
    Control& c = *control;
    if (command == "push") return push(seg, c, n, id);
    if (command == "containers") return containers(seg, c, n, id);
    if (command == "ping") return ping(c, n);
    if (command == "hold-shared") return hold_shared(c);
    if (command == "rw-writer") return rw_writer(c, n);
    if (command == "rw-reader") return rw_reader(c, n);
    if (command == "sem-consume") return sem_consume(c, n);
    if (command == "queue-read") return queue_read(seg, c, n);
    if (command == "broadcast-read") return broadcast_read(seg, c, n);
    if (command == "snapshot-write") return snapshot_write(seg, c);
    if (command == "hold-mutex") return hold_mutex(c);
    return fail("unknown command " + command) + 2;
  } catch (const shmkit::Error& e) {
    std::fprintf(stderr, "platform helper: %s: shmkit error %s: %s\n", command.c_str(), to_string(e.errc()), e.what());
    return 3;
  }
}
