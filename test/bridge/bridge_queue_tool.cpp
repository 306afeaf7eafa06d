// Test tool for the bridge tests: the two ends of a queue channel.
//   produce SEGMENT CHANNEL COUNT FRAME_BYTES [RATE] : creates the queue (CRC-32C) and publishes
//       COUNT frames (at most RATE a second when given), each: its index (u64), the steady clock
//       at publish (i64; one host, so the consumer can take the one-way latency), then bytes
//       derived from the index; exits 0.
//   consume SEGMENT CHANNEL COUNT TIMEOUT_S [faults] : reads until COUNT frames (+ lost) or the
//       writer ends or TIMEOUT_S passes; checks that each index follows the last (plus the gap
//       the bridge reports in ReadResult::lost) and the payload; prints one JSON line; exit 0
//       when every frame was received once, in order, intact, and (without `faults`) none lost.
//       With `faults` a dead writer (a killed importer) is waited out: another one attaches.
#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "shmkit/channel.hpp"
#include "shmkit/segment.hpp"

using namespace shmkit;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kHeader = 16;  // index, timestamp

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void fill(std::vector<std::byte>& frame, std::uint64_t index) {
  std::memcpy(frame.data(), &index, sizeof index);
  for (std::size_t i = kHeader; i < frame.size(); ++i) frame[i] = static_cast<std::byte>((index * 31 + i) & 0xFF);
}

bool intact(std::span<const std::byte> data, std::uint64_t index) {
  if (data.size() < kHeader) return false;
  for (std::size_t i = kHeader; i < data.size(); ++i)
    if (data[i] != static_cast<std::byte>((index * 31 + i) & 0xFF)) return false;
  return true;
}

int produce(const std::string& seg, const std::string& ch, std::uint64_t count, std::size_t bytes, double rate) {
  if (bytes < kHeader) throw std::invalid_argument("frames need at least 16 bytes");
  const auto t0 = std::chrono::steady_clock::now();
  SegmentOptions o;
  const std::uint32_t slots = bytes > 4096 ? 64 : 1024;
  auto segment = Segment::open_or_create(seg, slots * (bytes + 64) + (2u << 20), o);
  auto w = QueueWriter::create(segment, ch, {.slots = slots, .max_frame = static_cast<std::uint32_t>(bytes), .checksum = Checksum::crc32c, .max_readers = 0},
                               {.wait = WaitStrategy::spin_then_block()});
  std::vector<std::byte> frame(bytes);
  for (std::uint64_t i = 0; i < count; ++i) {
    fill(frame, i);
    if (rate > 0) std::this_thread::sleep_until(t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 * static_cast<double>(i) / rate)));
    const std::int64_t stamp = now_ns();
    std::memcpy(frame.data() + 8, &stamp, sizeof stamp);
    for (;;) {
      const Published p = w.publish(frame, 60s);
      if (p.status == Errc::ok) break;
      if (p.status != Errc::peer_gone && p.status != Errc::timeout) return 1;
      if (p.status == Errc::timeout) {
        std::fprintf(stderr, "produce: queue full for 60 s at frame %llu\n", static_cast<unsigned long long>(i));
        return 1;
      }
    }
  }
  w.close();
  std::printf("{\"produced\":%llu}\n", static_cast<unsigned long long>(count));
  return 0;
}

int consume(const std::string& seg, const std::string& ch, std::uint64_t count, long timeout_s, bool faults) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::optional<Segment> segment;
  std::optional<QueueReader> reader;
  while (!reader) {  // the importer creates both on its first sample
    try {
      segment.emplace(Segment::open(seg));
      reader.emplace(*segment, ch, ReaderOptions{.wait = WaitStrategy::spin_then_block(), .start = StartAt::oldest, .register_reader = false});
    } catch (const Error& e) {
      if (e.errc() != Errc::not_found || std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(20ms);
    }
  }
  std::vector<std::byte> buf(reader->max_frame());
  std::uint64_t frames = 0, lost = 0, out_of_order = 0, damaged = 0, next = 0;
  std::vector<std::int64_t> latency;
  latency.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(count, 1U << 22)));
  std::int64_t first_ns = 0, last_ns = 0;
  const char* end = "count";
  while (frames + lost < count) {
    if (std::chrono::steady_clock::now() > deadline) { end = "timeout"; break; }
    ReadResult r = reader->read(buf, 200ms);
    if (r.status == Errc::timeout) continue;
    if (r.status == Errc::peer_gone && faults) {
      std::this_thread::sleep_for(20ms);  // until the restarted importer publishes again
      continue;
    }
    if (r.status != Errc::ok) { end = to_string(r.status); break; }
    last_ns = now_ns();
    if (frames == 0) first_ns = last_ns;
    std::uint64_t index = 0;
    std::int64_t stamp = 0;
    std::memcpy(&index, r.data.data(), sizeof index);
    if (r.data.size() >= kHeader) std::memcpy(&stamp, r.data.data() + 8, sizeof stamp);
    // Not the first frames: they waited in the queue while DDS discovery matched the bridges.
    if (frames >= 500 && latency.size() < latency.capacity()) latency.push_back(last_ns - stamp);
    lost += r.lost;
    if (index != next + r.lost) ++out_of_order;
    if (!intact(r.data, index)) ++damaged;
    next = index + 1;
    ++frames;
  }
  std::sort(latency.begin(), latency.end());
  auto pct = [&](double p) { return latency.empty() ? 0.0 : static_cast<double>(latency[static_cast<std::size_t>(p * static_cast<double>(latency.size() - 1))]) / 1e3; };
  const double fps = frames > 1 && last_ns > first_ns ? static_cast<double>(frames - 1) * 1e9 / static_cast<double>(last_ns - first_ns) : 0.0;
  std::printf("{\"frames\":%llu,\"lost\":%llu,\"out_of_order\":%llu,\"damaged\":%llu,\"next\":%llu,\"end\":\"%s\","
              "\"frames_per_s\":%.0f,\"latency_p50_us\":%.1f,\"latency_p99_us\":%.1f}\n",
              static_cast<unsigned long long>(frames), static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(out_of_order), static_cast<unsigned long long>(damaged),
              static_cast<unsigned long long>(next), end, fps, pct(0.5), pct(0.99));
  return frames + lost == count && (faults || lost == 0) && out_of_order == 0 && damaged == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "produce" && (argc == 6 || argc == 7))
      return produce(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10), std::strtoull(argv[5], nullptr, 10),
                     argc == 7 ? std::strtod(argv[6], nullptr) : 0.0);
    if (mode == "consume" && (argc == 6 || argc == 7))
      return consume(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10), std::strtol(argv[5], nullptr, 10),
                     argc == 7 && std::string(argv[6]) == "faults");
    std::fprintf(stderr, "usage: %s produce SEG CH COUNT BYTES [RATE] | consume SEG CH COUNT TIMEOUT_S [faults]\n", argv[0]);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
}
