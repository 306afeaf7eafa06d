// shmkit-chaos: a writer and several readers (exec'd processes) on one segment, killed with
// SIGKILL at random moments and restarted, for a given time. Then it checks what shmkit promises
// after crashes (docs/reliability.md):
//  - no deadlock: every wait is bounded and every process keeps making progress;
//  - no torn frame: every frame a reader gets carries its own checksum and sequence;
//  - the shared map's invariant (sum of values == counter, kept under a robust Mutex) holds,
//    repaired through RobustLock::owner_died() whenever a process died inside the lock;
//  - no stale segment or socket file, the creator's fd count back where it was, readers' fd
//    counts stable.
//   shmkit-chaos [--duration 20] [--readers 3] [--backend memfd|named] [--seed N]
// The supervisor (this process without --role) creates the segment and is never killed; kills
// start once a child has done its named lookups (a process killed inside the segment manager
// poisons the segment by design, see Segment; that is tested elsewhere).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "shmkit/broadcast_channel.hpp"
#include "shmkit/containers.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/memfd_handle.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kMaxChildren = 16;
constexpr std::uint32_t kKeys = 64;
constexpr std::uint32_t kMaxFrame = 512;
constexpr const char* kChannel = "chaos.frames";

enum Phase : std::uint32_t { starting = 0, ready = 1, in_lock = 2, in_publish = 3, done = 4 };

struct ChildSlot {
  std::atomic<std::uint32_t> phase{starting};
  std::atomic<std::uint64_t> progress{0};
};

// Counters in shared memory: atomics, so a kill never tears one.
struct Stats {
  std::atomic<std::uint32_t> stop{0};
  std::atomic<std::uint64_t> writer_incarnation{0};
  std::atomic<std::uint64_t> frames_published{0};
  std::atomic<std::uint64_t> frames_verified{0};
  std::atomic<std::uint64_t> frames_lost{0};
  std::atomic<std::uint64_t> torn_frames{0};
  std::atomic<std::uint64_t> map_ops{0};
  std::atomic<std::uint64_t> repairs{0};
  std::atomic<std::uint64_t> repairs_needed{0};  // owner_died found the invariant actually broken
  std::atomic<std::uint64_t> invariant_violations{0};
  std::atomic<std::uint64_t> lock_timeouts{0};
  std::atomic<std::uint64_t> unexpected_errors{0};
  std::atomic<std::uint64_t> fd_leaks{0};
  ChildSlot child[kMaxChildren];
};

using Map = shmkit::map<std::uint32_t, std::int64_t>;
struct Guarded {
  static constexpr bool shmkit_shareable = true;  // shmkit/shareable.hpp
  shmkit::Mutex mutex;
  std::int64_t counter = 0;  // == sum of the map's values whenever the mutex is free
};

struct Args {
  double duration = 20;
  int readers = 3;
  std::string backend = shmkit::to_string(shmkit::resolve_backend(shmkit::Backend::automatic));
  std::uint64_t seed = 0;
  bool demo = false;  // the demo apps' untrusted-peer cases instead of the segment chaos
  std::string role;  // "", writer, reader
  std::string segment;
  int id = 0;
};

Args parse(int argc, char** argv) {
  Args a;
  a.seed = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "shmkit-chaos: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--duration") a.duration = std::stod(next());
    else if (k == "--readers") a.readers = std::stoi(next());
    else if (k == "--backend") a.backend = next();
    else if (k == "--seed") a.seed = std::stoull(next());
    else if (k == "--demo") a.demo = true;
    else if (k == "--role") a.role = next();
    else if (k == "--segment") a.segment = next();
    else if (k == "--id") a.id = std::stoi(next());
    else {
      std::fprintf(stderr,
                   "usage: shmkit-chaos [--duration seconds] [--readers n (1..%d)] [--backend memfd|named] [--seed n] [--demo]\n",
                   kMaxChildren - 1);
      std::exit(2);
    }
  }
  if (a.readers < 1 || a.readers >= kMaxChildren || (a.backend != "memfd" && a.backend != "named")) {
    std::fprintf(stderr, "shmkit-chaos: --readers must be 1..%d, --backend memfd or named\n", kMaxChildren - 1);
    std::exit(2);
  }
  return a;
}

shmkit::Backend backend_of(const std::string& b) { return b == "named" ? shmkit::Backend::named : shmkit::Backend::memfd; }

int count_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n - 1;  // the iterator's own
}

std::uint64_t fnv1a(const std::byte* p, std::size_t n) {
  std::uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<std::uint8_t>(p[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

// Frame: [sequence u64][incarnation u64][size u32][pad u32][pattern...][fnv1a of all before u64]
constexpr std::size_t kFrameHead = 24;
std::byte pattern(std::uint64_t seq, std::uint64_t inc, std::size_t i) {
  return static_cast<std::byte>((seq * 31 + inc * 7 + i) & 0xFF);
}

// Spins a little inside a critical section or a publish, so kills land there often.
void dawdle(std::mt19937_64& rng) {
  const auto until = Clock::now() + std::chrono::microseconds(rng() % 200);
  while (Clock::now() < until) {
  }
}

std::int64_t map_sum(const Map& m) {
  std::int64_t s = 0;
  for (const auto& [k, v] : m) s += v;
  return s;
}

// One operation on the map under the robust mutex. The writer adds to a value and then to the
// counter; readers move an amount between two values. Either way the invariant is broken in
// between, so a kill there leaves work for the next locker's repair.
void map_op(Stats& st, ChildSlot& me, Guarded& g, Map& m, std::mt19937_64& rng, bool writer) {
  me.phase.store(in_lock, std::memory_order_seq_cst);
  shmkit::RobustLock lock(g.mutex, 5s);
  if (!lock) {
    st.lock_timeouts.fetch_add(1);
    std::fprintf(stderr, "chaos: lock timeout (5 s): deadlock?\n");
    me.phase.store(ready);
    return;
  }
  if (lock.owner_died()) {
    // Repair: the counter follows the values (the dead holder's half-done step is kept).
    const std::int64_t sum = map_sum(m);
    if (sum != g.counter) st.repairs_needed.fetch_add(1);
    g.counter = sum;
    lock.mark_consistent();
    st.repairs.fetch_add(1);
  } else if (map_sum(m) != g.counter) {
    st.invariant_violations.fetch_add(1);
    std::fprintf(stderr, "chaos: invariant broken without a dead holder: sum %lld, counter %lld\n",
                 static_cast<long long>(map_sum(m)), static_cast<long long>(g.counter));
    g.counter = map_sum(m);
  }
  const auto a = static_cast<std::uint32_t>(rng() % kKeys);
  const auto d = static_cast<std::int64_t>(rng() % 100) + 1;
  if (writer) {
    m.find(a)->second += d;
    dawdle(rng);
    g.counter += d;
  } else {
    const auto b = static_cast<std::uint32_t>(rng() % kKeys);
    m.find(a)->second -= d;
    dawdle(rng);
    m.find(b)->second += d;
  }
  st.map_ops.fetch_add(1);
  lock.unlock();
  me.phase.store(ready, std::memory_order_seq_cst);
}

struct Shared {
  Stats* st;
  Guarded* g;
  Map* m;
};

Shared lookup(shmkit::Segment& seg) {
  Shared s{seg.find<Stats>("chaos.stats"), seg.find<Guarded>("chaos.guard"), seg.find<Map>("chaos.map")};
  if (s.st == nullptr || s.g == nullptr || s.m == nullptr) throw std::runtime_error("chaos objects missing");
  return s;
}

shmkit::SegmentOptions options_for(const std::string& backend) {
  shmkit::SegmentOptions o;
  o.backend = backend_of(backend);
  o.open_timeout = 10s;
  return o;
}

int run_writer(const Args& a) {
  auto seg = shmkit::Segment::open(a.segment, options_for(a.backend));
  Shared sh = lookup(seg);
  Stats& st = *sh.st;
  ChildSlot& me = st.child[a.id];
  auto w = shmkit::BroadcastWriter::attach(seg, kChannel);
  const std::uint64_t inc = st.writer_incarnation.fetch_add(1) + 1;
  std::mt19937_64 rng(a.seed ^ (inc * 0x9E3779B97F4A7C15ULL));
  me.phase.store(ready, std::memory_order_seq_cst);
  while (st.stop.load() == 0) {
    me.progress.fetch_add(1, std::memory_order_relaxed);
    me.phase.store(in_publish, std::memory_order_seq_cst);
    shmkit::FrameLoan loan = w.loan();
    auto buf = loan.data();
    const std::size_t size = kFrameHead + 8 + rng() % (kMaxFrame - kFrameHead - 8 + 1);
    const std::uint64_t seq = loan.sequence();
    const auto size32 = static_cast<std::uint32_t>(size);
    std::memcpy(buf.data(), &seq, 8);
    std::memcpy(buf.data() + 8, &inc, 8);
    std::memcpy(buf.data() + 16, &size32, 4);
    std::memset(buf.data() + 20, 0, 4);
    for (std::size_t i = kFrameHead; i < size - 8; ++i) {
      buf[i] = pattern(seq, inc, i);
      if (i == size / 2) dawdle(rng);  // half-written: a kill here must not show up as a frame
    }
    const std::uint64_t h = fnv1a(buf.data(), size - 8);
    std::memcpy(buf.data() + size - 8, &h, 8);
    loan.publish(size);
    me.phase.store(ready, std::memory_order_seq_cst);
    st.frames_published.fetch_add(1, std::memory_order_relaxed);
    if (rng() % 4 == 0) map_op(st, me, *sh.g, *sh.m, rng, true);
    if (rng() % 8 == 0) std::this_thread::sleep_for(100us);  // pacing, so readers keep up mostly
  }
  me.phase.store(done);
  return 0;
}

int run_reader(const Args& a) {
  auto seg = shmkit::Segment::open(a.segment, options_for(a.backend));
  Shared sh = lookup(seg);
  Stats& st = *sh.st;
  ChildSlot& me = st.child[a.id];
  shmkit::ReaderOptions ro;
  ro.start = shmkit::StartAt::oldest;
  shmkit::BroadcastReader r(seg, kChannel, ro);
  std::mt19937_64 rng(a.seed ^ (static_cast<std::uint64_t>(::getpid()) << 20));
  std::vector<std::byte> buf(r.max_frame());
  const int fds_at_start = count_fds();
  me.phase.store(ready, std::memory_order_seq_cst);
  while (st.stop.load() == 0) {
    me.progress.fetch_add(1, std::memory_order_relaxed);
    const shmkit::ReadResult res = r.read(buf, 50ms);
    st.frames_lost.fetch_add(res.lost, std::memory_order_relaxed);
    if (res) {
      const auto d = res.data;
      bool ok = d.size() >= kFrameHead + 8;
      std::uint64_t seq = 0, inc = 0, h = 0;
      std::uint32_t size = 0;
      if (ok) {
        std::memcpy(&seq, d.data(), 8);
        std::memcpy(&inc, d.data() + 8, 8);
        std::memcpy(&size, d.data() + 16, 4);
        std::memcpy(&h, d.data() + d.size() - 8, 8);
        ok = seq == res.frame.sequence && size == d.size() && h == fnv1a(d.data(), d.size() - 8);
        for (std::size_t i = kFrameHead; ok && i < d.size() - 8; ++i) ok = d[i] == pattern(seq, inc, i);
      }
      if (ok) {
        st.frames_verified.fetch_add(1, std::memory_order_relaxed);
      } else {
        st.torn_frames.fetch_add(1);
        std::fprintf(stderr, "chaos: reader %d got a torn frame (sequence %llu, %zu bytes)\n", a.id,
                     static_cast<unsigned long long>(res.frame.sequence), d.size());
      }
    } else if (res.status == shmkit::Errc::peer_gone || res.status == shmkit::Errc::closed) {
      std::this_thread::sleep_for(1ms);  // no writer right now (killed, or not yet restarted)
    } else if (res.status != shmkit::Errc::timeout) {
      st.unexpected_errors.fetch_add(1);
      std::fprintf(stderr, "chaos: reader %d: read returned %s\n", a.id, shmkit::to_string(res.status));
    }
    if (rng() % 16 == 0) map_op(st, me, *sh.g, *sh.m, rng, false);
  }
  if (count_fds() != fds_at_start) st.fd_leaks.fetch_add(1);
  me.phase.store(done);
  return 0;
}

// ---- Supervisor ----

struct Child {
  pid_t pid = -1;
  std::uint64_t last_progress = 0;
  Clock::time_point progress_at{};
};

pid_t spawn(const Args& a, const std::string& segment, int id) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  const std::string ids = std::to_string(id), seed = std::to_string(a.seed + static_cast<std::uint64_t>(id));
  const pid_t pid = ::fork();
  if (pid == 0) {
    const char* role = id == 0 ? "writer" : "reader";
    ::execl(self.c_str(), self.c_str(), "--role", role, "--segment", segment.c_str(), "--backend", a.backend.c_str(),
            "--id", ids.c_str(), "--seed", seed.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

// Waits (bounded) until `cond` holds; polls shared state, which is all it can watch.
template <class Cond>
bool wait_for(Cond cond, std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  while (!cond()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

int supervise(const Args& a) {
  const std::string name = "shmkit-chaos-" + std::to_string(::getpid());
  const shmkit::SegmentOptions opts = options_for(a.backend);
  std::mt19937_64 rng(a.seed);
  std::printf("shmkit-chaos: %s segment %s, 1 writer + %d readers, %.0f s, seed %llu\n", a.backend.c_str(),
              name.c_str(), a.readers, a.duration, static_cast<unsigned long long>(a.seed));
  std::fflush(stdout);
  int failures = 0;
  std::uint64_t kills = 0, kills_in_lock = 0, kills_in_publish = 0, restarts = 0, hangs = 0, bad_exits = 0;
  std::string socket_path;
  int fds_before = 0, fds_after = 0;
  Stats final{};
  std::int64_t final_sum = 0, final_counter = 0;
  bool final_lock_ok = false;
  {
    auto seg = shmkit::Segment::create(name, 8 << 20, opts);
    if (const auto* memfd = seg.handle<shmkit::MemfdHandle>()) socket_path = memfd->socket_path();
    Stats& st = seg.construct<Stats>("chaos.stats");
    Guarded& g = seg.construct<Guarded>("chaos.guard");
    Map& m = seg.construct<Map>("chaos.map");
    for (std::uint32_t k = 0; k < kKeys; ++k) m.emplace(k, 0);  // no allocation during the chaos
    { auto w = shmkit::BroadcastWriter::create(seg, kChannel, {.slots = 64, .max_frame = kMaxFrame, .max_readers = 16}); }
    fds_before = count_fds();

    const int n = 1 + a.readers;
    std::vector<Child> kids(static_cast<std::size_t>(n));
    auto start = [&](int id) {
      st.child[id].phase.store(starting);
      kids[static_cast<std::size_t>(id)].pid = spawn(a, name, id);
      kids[static_cast<std::size_t>(id)].progress_at = Clock::now();
      kids[static_cast<std::size_t>(id)].last_progress = st.child[id].progress.load();
    };
    start(0);
    if (!wait_for([&] { return st.child[0].phase.load() != starting; }, 20s)) {
      std::fprintf(stderr, "chaos: the writer did not start\n");
      ++failures;
    }
    for (int id = 1; id < n; ++id) start(id);

    const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.duration));
    auto last_report = Clock::now();
    while (Clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 60));  // the next kill's moment
      const auto now = Clock::now();
      for (int id = 0; id < n; ++id) {
        Child& c = kids[static_cast<std::size_t>(id)];
        int status = 0;
        if (::waitpid(c.pid, &status, WNOHANG) == c.pid) {  // it ended on its own: never expected
          ++bad_exits;
          std::fprintf(stderr, "chaos: child %d (pid %d) exited by itself (status %d)\n", id, c.pid, status);
          start(id);
          continue;
        }
        const std::uint64_t p = st.child[id].progress.load();
        if (p != c.last_progress) {
          c.last_progress = p;
          c.progress_at = now;
        } else if (now - c.progress_at > 15s) {
          ++hangs;
          std::fprintf(stderr, "chaos: child %d (pid %d) made no progress for 15 s (phase %u)\n", id, c.pid,
                       st.child[id].phase.load());
          ::kill(c.pid, SIGKILL);
          ::waitpid(c.pid, nullptr, 0);
          start(id);
        }
      }
      const int id = static_cast<int>(rng() % static_cast<std::uint64_t>(n));
      Child& c = kids[static_cast<std::size_t>(id)];
      const std::uint32_t phase = st.child[id].phase.load();
      if (phase == starting) continue;  // still attaching / looking up: see the file comment
      ::kill(c.pid, SIGKILL);
      ::waitpid(c.pid, nullptr, 0);
      ++kills;
      if (phase == in_lock) ++kills_in_lock;
      if (phase == in_publish) ++kills_in_publish;
      start(id);
      ++restarts;
      if (now - last_report > 10s) {
        last_report = now;
        std::printf("  %llu kills, %llu frames verified, %llu repairs\n", static_cast<unsigned long long>(kills),
                    static_cast<unsigned long long>(st.frames_verified.load()),
                    static_cast<unsigned long long>(st.repairs.load()));
        std::fflush(stdout);
      }
    }
    // Orderly end: every child must see `stop` and exit 0 within a bounded time.
    st.stop.store(1);
    for (int id = 0; id < n; ++id) {
      Child& c = kids[static_cast<std::size_t>(id)];
      int status = -1;
      const bool exited = wait_for([&] { return ::waitpid(c.pid, &status, WNOHANG) == c.pid; }, 20s);
      if (!exited) {
        ++hangs;
        std::fprintf(stderr, "chaos: child %d (pid %d) did not stop within 20 s\n", id, c.pid);
        ::kill(c.pid, SIGKILL);
        ::waitpid(c.pid, nullptr, 0);
      } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ++bad_exits;
        std::fprintf(stderr, "chaos: child %d (pid %d) ended with status %d\n", id, c.pid, status);
      }
    }
    {
      shmkit::RobustLock lock(g.mutex, 5s);
      final_lock_ok = static_cast<bool>(lock);
      if (lock && lock.owner_died()) {  // cannot happen after an orderly end, but repair anyway
        g.counter = map_sum(m);
        lock.mark_consistent();
      }
      final_sum = map_sum(m);
      final_counter = g.counter;
    }
    // The server notices each dead client's hang-up: wait (bounded) until every one is gone.
    if (auto* server = seg.handle<shmkit::MemfdHandle>() ? seg.handle<shmkit::MemfdHandle>()->server() : nullptr)
      (void)wait_for([&] { return server->clients().empty() && count_fds() == fds_before; }, 10s);
    fds_after = count_fds();
    final.frames_published.store(st.frames_published.load());
    final.frames_verified.store(st.frames_verified.load());
    final.frames_lost.store(st.frames_lost.load());
    final.torn_frames.store(st.torn_frames.load());
    final.map_ops.store(st.map_ops.load());
    final.repairs.store(st.repairs.load());
    final.repairs_needed.store(st.repairs_needed.load());
    final.invariant_violations.store(st.invariant_violations.load());
    final.lock_timeouts.store(st.lock_timeouts.load());
    final.unexpected_errors.store(st.unexpected_errors.load());
    final.fd_leaks.store(st.fd_leaks.load());
  }
  if (opts.backend == shmkit::Backend::named) shmkit::Segment::remove(name, shmkit::Backend::named);
  const bool shm_left = std::filesystem::exists("/dev/shm/" + name);
  const bool socket_left = !socket_path.empty() && socket_path[0] != '@' && std::filesystem::exists(socket_path);

  auto check = [&](bool ok, const char* what) {
    if (!ok) {
      ++failures;
      std::fprintf(stderr, "chaos: FAILED: %s\n", what);
    }
  };
  check(final_lock_ok, "the map's mutex could not be taken at the end");
  check(final_sum == final_counter, "the map's invariant does not hold at the end");
  check(final.torn_frames.load() == 0, "torn frames were delivered");
  check(final.invariant_violations.load() == 0, "the invariant was broken under a consistent lock");
  check(final.lock_timeouts.load() == 0 && hangs == 0, "a process hung (lock timeout or no progress)");
  check(bad_exits == 0, "a child exited on its own or failed at the end");
  check(final.unexpected_errors.load() == 0, "a read failed unexpectedly");
  check(final.fd_leaks.load() == 0, "a reader's fd count grew");
  check(fds_after == fds_before, "the creator's fd count did not return to where it was");
  check(!shm_left && !socket_left, "a segment or socket file was left behind");
  check(final.frames_verified.load() > 0 && kills > 0, "nothing was verified or killed");

  std::printf(
      "shmkit-chaos: %s after %.0f s: kills %llu (in lock %llu, mid-publish %llu), restarts %llu, frames published "
      "%llu, verified %llu, lost (overrun) %llu, torn %llu, map ops %llu, repairs %llu (invariant actually broken "
      "%llu), final sum %lld == counter %lld, creator fds %d -> %d, hangs %llu\n",
      failures == 0 ? "PASSED" : "FAILED", a.duration, static_cast<unsigned long long>(kills),
      static_cast<unsigned long long>(kills_in_lock), static_cast<unsigned long long>(kills_in_publish),
      static_cast<unsigned long long>(restarts), static_cast<unsigned long long>(final.frames_published.load()),
      static_cast<unsigned long long>(final.frames_verified.load()),
      static_cast<unsigned long long>(final.frames_lost.load()), static_cast<unsigned long long>(final.torn_frames.load()),
      static_cast<unsigned long long>(final.map_ops.load()), static_cast<unsigned long long>(final.repairs.load()),
      static_cast<unsigned long long>(final.repairs_needed.load()), static_cast<long long>(final_sum),
      static_cast<long long>(final_counter), fds_before, fds_after, static_cast<unsigned long long>(hangs));
  return failures == 0 ? 0 : 1;
}

// Starts `argv` with stdout on `out_fd` (stderr too when `out_fd` is a file), stdin closed.
pid_t start_program(const std::vector<std::string>& argv, int out_fd) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    std::vector<char*> args;
    for (const std::string& s : argv) args.push_back(const_cast<char*>(s.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for `pid` up to `limit`; false (and the process killed) if it did not end.
bool reap_within(pid_t pid, std::chrono::milliseconds limit, int* status) {
  const auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (::waitpid(pid, status, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(5ms);  // polling a child's exit
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, status, 0);
  return false;
}

// The demo apps as untrusted peers: a shmkit-writer at 1 kHz beside readers stalled on full
// stdout pipes, a reader stopped (SIGSTOP) at a random moment, and --set readers killed at
// random moments all along. The writer must publish at least 90 % of its paced frames, end on
// SIGTERM, and a last --set must be applied.
int supervise_demo(const Args& a) {
  const std::string dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  const std::string writer_bin = dir + "/shmkit-writer", reader_bin = dir + "/shmkit-reader";
  const std::string name = "shmkit-chaos-demo-" + std::to_string(::getpid());
  const std::string out_path = "/tmp/" + name + ".out";
  std::mt19937_64 rng(a.seed);
  std::printf("shmkit-chaos: demo apps on %s, %.0f s, seed %llu\n", a.backend.c_str(), a.duration,
              static_cast<unsigned long long>(a.seed));
  std::fflush(stdout);
  const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (out < 0 || devnull < 0) throw std::runtime_error("cannot open " + out_path);
  const std::vector<std::string> common{"--name", name, "--backend", a.backend};
  auto with = [&](std::string bin, std::vector<std::string> more) {
    std::vector<std::string> v{std::move(bin)};
    v.insert(v.end(), common.begin(), common.end());
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };
  const auto t0 = Clock::now();
  const pid_t writer = start_program(with(writer_bin, {"--rate", "1000"}), out);
  // Stalled readers: stdout is a pipe nobody reads, one page big.
  std::vector<int> pipes;
  std::vector<pid_t> stalled;
  for (int i = 0; i < 2; ++i) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    ::fcntl(p[1], F_SETPIPE_SZ, 4096);
    stalled.push_back(start_program(with(reader_bin, {"--json", "--interval", "10ms", "--wait-for-writer", "10s"}), p[1]));
    ::close(p[1]);
    pipes.push_back(p[0]);
  }
  const pid_t stopped = start_program(with(reader_bin, {"--wait-for-writer", "10s", "--interval", "10ms"}), devnull);
  std::uint64_t kills = 0, sets = 0;
  bool stop_sent = false;
  const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.duration));
  while (Clock::now() < end) {
    if (!stop_sent && Clock::now() - t0 > std::chrono::milliseconds(200 + rng() % 800)) {
      ::kill(stopped, SIGSTOP);  // stopped wherever it was: mid-read, mid-print
      stop_sent = true;
    }
    const pid_t setter = start_program(
        with(reader_bin, {"--set", "gain=" + std::to_string(1 + rng() % 100), "--count", "3", "--wait-for-writer", "10s"}),
        devnull);
    ++sets;
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 5000));  // a random kill point
    if (::kill(setter, SIGKILL) == 0) ++kills;
    int status = 0;
    ::waitpid(setter, &status, 0);
  }
  // A last --set is applied: no slot is lost to the killed ones.
  int status = 0;
  const pid_t last = start_program(with(reader_bin, {"--set", "gain=42", "--count", "1"}), devnull);
  const bool last_done = reap_within(last, 10s, &status);
  const bool last_ok = last_done && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const double ran_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ::kill(writer, SIGTERM);
  const bool writer_ended = reap_within(writer, 5s, &status);
  const bool writer_clean = writer_ended && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  for (pid_t p : stalled) ::kill(p, SIGKILL), ::waitpid(p, nullptr, 0);
  ::kill(stopped, SIGKILL);
  ::waitpid(stopped, nullptr, 0);
  for (int p : pipes) ::close(p);
  ::close(out);
  ::close(devnull);
  std::string text;
  {
    std::FILE* f = std::fopen(out_path.c_str(), "r");
    char buf[4096];
    std::size_t n = 0;
    while (f != nullptr && (n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    if (f != nullptr) std::fclose(f);
  }
  ::unlink(out_path.c_str());
  unsigned long long published = 0;
  if (const auto at = text.rfind("closed after "); at != std::string::npos)
    published = std::strtoull(text.c_str() + at + 13, nullptr, 10);
  // The writer started before the first reader; its ticks before serving are part of the run.
  const double expected = ran_s * 1000 * 3;
  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    if (!ok) {
      ++failures;
      std::fprintf(stderr, "shmkit-chaos: FAILED: %s\n", what);
    }
  };
  check(writer_clean, "the writer did not end cleanly on SIGTERM within 5 s");
  check(static_cast<double>(published) >= 0.9 * expected, "the writer published less than 90 % of its paced frames");
  check(last_ok, "a --set after the chaos was not applied");
  check(text.find("gain 42") != std::string::npos, "the writer did not report the last configuration");
  check(kills > 0 && stop_sent, "nothing was killed or stopped");
  std::printf("shmkit-chaos: demo %s after %.1f s: %llu --set readers started, %llu killed, 2 stalled on full pipes, "
              "1 stopped; writer published %llu frames of %.0f paced (%.1f %%)\n",
              failures == 0 ? "PASSED" : "FAILED", ran_s, static_cast<unsigned long long>(sets),
              static_cast<unsigned long long>(kills), published, expected, 100.0 * static_cast<double>(published) / expected);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    if (a.role == "writer") return run_writer(a);
    if (a.role == "reader") return run_reader(a);
    if (a.demo) return supervise_demo(a);
    return supervise(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmkit-chaos%s%s: %s\n", a.role.empty() ? "" : " ", a.role.c_str(), e.what());
    return 1;
  }
}
