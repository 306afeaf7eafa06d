// Hand-run latency/throughput self-check for channels (not a test; the benchmark tool is
// apps/bench). Prints: publish cost, busy-poll one-way latency next to a bare cache-line
// ping-pong between the same two processes, queue throughput, and the CRC candidates.
//
//   build-chan/test/shmkit-channel-selfcheck            # everything
//   build-chan/test/shmkit-channel-selfcheck crc        # only the CRC table
// Pin nothing, run on a quiet machine; numbers are medians of a few runs.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/crc.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#if SHMKIT_SELFCHECK_ZLIB
#include <zlib.h>
#endif

#include "channel_crc.hpp"
#include "shmkit/shmkit.hpp"

using namespace shmkit;
using Clock = std::chrono::steady_clock;

namespace {

double ns_since(Clock::time_point t0) { return std::chrono::duration<double, std::nano>(Clock::now() - t0).count(); }

template <class F>
double median_of(int runs, F f) {
  std::vector<double> v;
  for (int i = 0; i < runs; ++i) v.push_back(f());
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct alignas(64) PingLine {
  std::atomic<std::uint64_t> value{0};
};
struct Shared {
  PingLine ping;  // bare cache-line ping-pong
  alignas(64) std::atomic<std::uint32_t> ready{0};
};

constexpr std::uint64_t kRounds = 200'000;

// ---- child roles (exec'd, so the mapping lands at another address) ----
int child(const std::string& role, const std::string& seg_name) {
  Segment seg = Segment::open(seg_name);
  auto* sh = seg.find<Shared>("shared");
  if (role == "pingpong") {
    sh->ready.store(1);
    for (std::uint64_t i = 1; i <= kRounds; ++i) {
      while (sh->ping.value.load(std::memory_order_acquire) != 2 * i - 1) {
      }
      sh->ping.value.store(2 * i, std::memory_order_release);
    }
    return 0;
  }
  if (role == "echo") {  // reads channel "to", publishes the same bytes on "back"
    BroadcastReader in(seg, "to", {.wait = WaitStrategy::busy_poll(), .start = StartAt::oldest, .register_reader = false});
    auto out = BroadcastWriter::create(seg, "back", {.slots = 1024, .max_frame = 64});
    sh->ready.store(1);
    std::array<std::byte, 64> buf{};
    for (std::uint64_t i = 0; i < kRounds; ++i) {
      auto r = in.read(buf, std::chrono::seconds(10));
      if (!r) return 1;
      out.publish(r.data);
    }
    return 0;
  }
  if (role == "drain") {  // queue reader
    QueueReader in(seg, "q", {.wait = WaitStrategy::busy_poll()});
    sh->ready.store(1);
    std::array<std::byte, 64> buf{};
    while (in.read(buf, std::chrono::seconds(10))) {
    }
    return 0;
  }
  return 2;
}

pid_t spawn(const char* self, const char* role, const std::string& seg) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl(self, self, "--child", role, seg.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}
void reap(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) std::printf("  (child %s failed)\n", std::to_string(pid).c_str());
}

void bench_clock() {
  constexpr int kN = 5'000'000;
  volatile std::int64_t sink = 0;
  const double ns = median_of(5, [&] {
    const auto t0 = Clock::now();
    for (int i = 0; i < kN; ++i) sink = sink + detail::steady_now_ns();
    return ns_since(t0) / kN;
  });
  std::printf("steady_clock::now(): %.1f ns (each publish reads it once)\n", ns);
}

void bench_publish(Segment& seg) {
 {
  auto w = BroadcastWriter::create(seg, "pub", {.slots = 4096, .max_frame = 64});
  std::array<std::byte, 64> frame{};
  constexpr int kN = 5'000'000;
  const double ns = median_of(5, [&] {
    const auto t0 = Clock::now();
    for (int i = 0; i < kN; ++i) w.publish(frame);
    return ns_since(t0) / kN;
  });
  auto crc = BroadcastWriter::create(seg, "pubcrc", {.slots = 4096, .max_frame = 64, .checksum = Checksum::crc32c});
  const double ns_crc = median_of(5, [&] {
    const auto t0 = Clock::now();
    for (int i = 0; i < kN; ++i) crc.publish(frame);
    return ns_since(t0) / kN;
  });
  std::printf("publish 64 B, broadcast, no reader blocked: %.1f ns/frame (with CRC-32C: %.1f ns); wake calls %llu\n",
              ns, ns_crc, static_cast<unsigned long long>(w.stats().wake_calls));
 }  // handles gone before the channels are destroyed
  destroy_channel(seg, "pub");
  destroy_channel(seg, "pubcrc");
}

void bench_latency(Segment& seg, Shared* sh, const char* self) {
  // Baseline: two processes bouncing one cache line (odd: us -> them, even: them -> us).
  sh->ready.store(0);
  sh->ping.value.store(0);
  pid_t pid = spawn(self, "pingpong", seg.name());
  while (sh->ready.load() == 0) {
  }
  auto t0 = Clock::now();
  for (std::uint64_t i = 1; i <= kRounds; ++i) {
    sh->ping.value.store(2 * i - 1, std::memory_order_release);
    while (sh->ping.value.load(std::memory_order_acquire) != 2 * i) {
    }
  }
  const double line = ns_since(t0) / kRounds / 2;
  reap(pid);

  // Channels: 64-byte frames to an echo process and back, both busy-polling.
 {
  sh->ready.store(0);
  auto to = BroadcastWriter::create(seg, "to", {.slots = 1024, .max_frame = 64});
  pid = spawn(self, "echo", seg.name());
  while (sh->ready.load() == 0) {
  }
  BroadcastReader back(seg, "back", {.wait = WaitStrategy::busy_poll(), .start = StartAt::oldest, .register_reader = false});
  std::array<std::byte, 64> frame{}, buf{};
  t0 = Clock::now();
  for (std::uint64_t i = 0; i < kRounds; ++i) {
    std::memcpy(frame.data(), &i, 8);
    to.publish(frame);
    if (!back.read(buf, std::chrono::seconds(10))) {
      std::printf("  echo failed\n");
      break;
    }
  }
  const double chan = ns_since(t0) / kRounds / 2;
  reap(pid);
  std::printf("one-way latency, busy-poll, 2 processes: cache line %.0f ns, channel (64 B) %.0f ns = %.2fx\n", line,
              chan, chan / line);
 }  // handles gone before the channels are destroyed
  destroy_channel(seg, "to");
  destroy_channel(seg, "back");
}

void bench_queue(Segment& seg, Shared* sh, const char* self) {
 {
  sh->ready.store(0);
  auto q = QueueWriter::create(seg, "q", {.slots = 4096, .max_frame = 64}, {.wait = WaitStrategy::busy_poll()});
  const pid_t pid = spawn(self, "drain", seg.name());
  while (sh->ready.load() == 0) {
  }
  std::array<std::byte, 64> frame{};
  constexpr std::uint64_t kN = 20'000'000;
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < kN; ++i) {
    if (!q.publish(frame, std::chrono::seconds(10))) break;
  }
  const double ns = ns_since(t0) / kN;
  q.close();
  reap(pid);
  std::printf("queue 64 B to a busy-polling reader process: %.1f ns/frame (%.1f M frames/s), writer found it full %llu times\n",
              ns, 1e3 / ns, static_cast<unsigned long long>(q.stats().full_waits));
 }
  destroy_channel(seg, "q");
}

void bench_crc() {
  std::printf("\nCRC throughput, GB/s (median of 5; buffer in cache for 64 B and 4 KiB, 1 MiB from L2/L3):\n");
  std::printf("  %-40s %10s %10s %10s\n", "candidate", "64 B", "4 KiB", "1 MiB");
  std::vector<unsigned char> data(1 << 20);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 131 + 7);
  auto row = [&](const char* name, auto fn) {
    std::printf("  %-40s", name);
    for (std::size_t n : {std::size_t{64}, std::size_t{4096}, std::size_t{1} << 20}) {
      const std::size_t reps = std::max<std::size_t>(1, (64u << 20) / n);
      volatile std::uint32_t sink = 0;
      const double gbs = median_of(5, [&] {
        const auto t0 = Clock::now();
        for (std::size_t r = 0; r < reps; ++r) sink = sink + fn(data.data(), n);
        return static_cast<double>(reps * n) / ns_since(t0);
      });
      std::printf(" %10.2f", gbs);
    }
    std::printf("\n");
  };
  std::vector<unsigned char> dst(1 << 20);
  row("memcpy (reference)", [&](const unsigned char* p, std::size_t n) {
    std::memcpy(dst.data(), p, n);
    return static_cast<std::uint32_t>(dst[n - 1]);
  });
  row("Boost.CRC crc_32_type (CRC-32)", [](const unsigned char* p, std::size_t n) {
    boost::crc_32_type c;
    c.process_bytes(p, n);
    return c.checksum();
  });
  row("Boost.CRC crc_optimal CRC-32C", [](const unsigned char* p, std::size_t n) {
    boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> c;
    c.process_bytes(p, n);
    return c.checksum();
  });
#if SHMKIT_SELFCHECK_ZLIB
  row("zlib crc32 (CRC-32)", [](const unsigned char* p, std::size_t n) {
    return static_cast<std::uint32_t>(crc32(0L, p, static_cast<uInt>(n)));
  });
#else
  std::printf("  %-40s (zlib.h not found at build time)\n", "zlib crc32");
#endif
  row("shmkit slicing-by-8 CRC-32C (portable)",
      [](const unsigned char* p, std::size_t n) { return detail::crc32c_software(0, p, n); });
  if (detail::crc32c_hardware_available()) {
    row("SSE4.2 crc32 instruction, 1 stream",
        [](const unsigned char* p, std::size_t n) { return detail::crc32c_hardware_one_stream(0, p, n); });
    row("SSE4.2 crc32 instruction, 3 streams",
        [](const unsigned char* p, std::size_t n) { return detail::crc32c_hardware(0, p, n); });
    row("SSE4.2, 3 streams, fused with the copy", [&](const unsigned char* p, std::size_t n) {
      return detail::crc32c_copy(dst.data(), p, n);
    });
  } else {
    std::printf("  (this CPU has no SSE4.2 crc32 instruction)\n");
  }
}

void bench_big_frames(Segment& seg) {
  // The bar: checksumming must not halve throughput on 1 MiB frames.
  std::vector<std::byte> frame(1 << 20, std::byte{0x5A});
 {
  auto plain = BroadcastWriter::create(seg, "big", {.slots = 4, .max_frame = 1 << 20});
  auto crc = BroadcastWriter::create(seg, "bigcrc", {.slots = 4, .max_frame = 1 << 20, .checksum = Checksum::crc32c});
  auto run = [&](BroadcastWriter& w) {
    return median_of(5, [&] {
      const auto t0 = Clock::now();
      for (int i = 0; i < 200; ++i) w.publish(frame);
      return 200.0 * (1 << 20) / ns_since(t0);
    });
  };
  const double a = run(plain), b = run(crc);
  std::printf("publish 1 MiB frames: %.2f GB/s plain, %.2f GB/s with CRC-32C (%.0f%% of plain)\n", a, b, 100 * b / a);
 }
  destroy_channel(seg, "big");
  destroy_channel(seg, "bigcrc");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::string(argv[1]) == "--child") return child(argv[2], argv[3]);
    const bool crc_only = argc > 1 && std::string(argv[1]) == "crc";
    if (!crc_only) {
      const std::string name = "shmkit-selfcheck-" + std::to_string(getpid());
      Segment::remove(name);
      {
        Segment seg = Segment::create(name, 64 << 20);
        auto* sh = &seg.construct<Shared>("shared");
        bench_clock();
        bench_publish(seg);
        bench_latency(seg, sh, argv[0]);
        bench_queue(seg, sh, argv[0]);
        bench_big_frames(seg);
      }
      Segment::remove(name);
    }
    bench_crc();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "selfcheck: %s\n", e.what());
    return 1;
  }
}
