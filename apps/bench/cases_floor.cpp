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

void cacheline_batch(const Settings& s, Result&, std::vector<double>& samples) {
  ControlMap ctl = ControlMap::create(s);
  Child child = spawn(s, "line-echo", {{"ctl", ctl.name()}, {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}});
  await_ready(*ctl, 1, {&child});
  auto& line = ctl->line;
  std::uint64_t next = 1;
  sample_batch(s, samples, [&] {
    line.store(next, std::memory_order_release);
    while (line.load(std::memory_order_acquire) != next + 1) {
    }
    next += 2;
  });
  line.store(kStopLine, std::memory_order_release);
  child.join();
}

Repeat memcpy_repeat(const Settings& s, const Result& r) {
  const std::size_t size = r.size;
  std::vector<std::byte> src(size, std::byte{0x5a}), dst(size);
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
  return {n, 0, static_cast<double>(t - t0) / 1e9};
}

}  // namespace

void register_floor_roles() { register_role("line-echo", line_echo); }

void add_floor_cases(const Settings& s, Cases& out) {
  Result line{.id = "latency/floor/cacheline", .group = "floor", .metric = Metric::latency,
              .label = "cache line ping-pong (busy spin)", .size = 8};
  if (selected(s, line.id)) out.latency.push_back({line, cacheline_batch});
  for (std::uint64_t size : kFrameSizes) {
    Result r{.id = "throughput/floor/memcpy/" + size_name(size), .group = "floor", .metric = Metric::throughput,
             .label = "memcpy, one thread", .size = size};
    if (selected(s, r.id)) out.stream.push_back({r, memcpy_repeat});
  }
}

}  // namespace shmkit::bench
