// Floors: what the hardware allows before any IPC mechanism adds its cost.
//  - one cache line bounced between two processes by busy-spinning (the latency floor for any
//    shared-memory handoff: a frame cannot arrive faster than its cache line);
//  - single-thread memcpy at each frame size (the bandwidth floor for copy-in/copy-out).
#include <cstring>
#include <vector>

#include "cases.hpp"

namespace shmkit::bench {

namespace {

constexpr std::uint64_t kStopLine = ~std::uint64_t{0};

// Child: waits for an odd value, answers with the next even one.
int line_echo(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  auto& line = ctl->line;
  ctl->ready.fetch_add(1);
  std::uint64_t expect = 1;
  for (;;) {
    std::uint64_t v;
    // Plain spin: no pause instruction, as the fastest possible hand-written handoff.
    while ((v = line.load(std::memory_order_acquire)) < expect) {
    }
    if (v == kStopLine) return 0;
    line.store(v + 1, std::memory_order_release);
    expect = v + 2;
  }
}

void cacheline_latency(const Settings& s, Results& out) {
  Result r{.id = "latency/floor/cacheline", .group = "floor", .metric = Metric::latency,
           .label = "cache line ping-pong (busy spin)", .size = 8};
  if (!selected(s, r.id)) return;
  ControlMap ctl = ControlMap::create(s);
  Child child = spawn(s, "line-echo", {{"ctl", ctl.name()}, {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}});
  await_ready(*ctl, 1, {&child});
  auto& line = ctl->line;
  std::uint64_t next = 1;
  r.latency = sample_round_trips(s, [&] {
    line.store(next, std::memory_order_release);
    while (line.load(std::memory_order_acquire) != next + 1) {
    }
    next += 2;
  });
  line.store(kStopLine, std::memory_order_release);
  child.join();
  out.add(r);
}

void memcpy_bandwidth(const Settings& s, Results& out) {
  for (std::uint64_t size : kFrameSizes) {
    Result r{.id = "throughput/floor/memcpy/" + size_name(size), .group = "floor", .metric = Metric::throughput,
             .label = "memcpy, one thread", .size = size};
    if (!selected(s, r.id)) continue;
    std::vector<std::byte> src(size, std::byte{0x5a}), dst(size);
    std::vector<Repeat> reps;
    for (int rep = 0; rep < s.repeats; ++rep) {
      const std::int64_t t0 = now_ns();
      const std::int64_t end = t0 + static_cast<std::int64_t>(s.repeat_seconds * 1e9 / 2);
      std::uint64_t n = 0;
      std::int64_t t = t0;
      while (t < end) {
        for (int i = 0; i < 64; ++i) {
          std::memcpy(dst.data(), src.data(), size);
          // Keep the copy: the compiler must assume dst is read.
          asm volatile("" : : "r"(dst.data()) : "memory");
        }
        n += 64;
        t = now_ns();
      }
      reps.push_back({n, 0, static_cast<double>(t - t0) / 1e9});
    }
    fill_throughput(r, reps);
    out.add(r);
  }
}

}  // namespace

void register_floor_roles() { register_role("line-echo", line_echo); }

void run_floor(const Settings& s, Results& out) {
  cacheline_latency(s, out);
  memcpy_bandwidth(s, out);
}

}  // namespace shmkit::bench
