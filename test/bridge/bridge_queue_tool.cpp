// Test tool for the bridge tests: the two ends of a queue channel.
//   produce SEGMENT CHANNEL COUNT FRAME_BYTES : creates the queue (CRC-32C) and publishes COUNT
//       frames, each starting with its index (u64) followed by bytes derived from it; exits 0.
//   consume SEGMENT CHANNEL COUNT TIMEOUT_S [faults] : reads until COUNT frames (+ lost) or the
//       writer ends or TIMEOUT_S passes; checks that each index follows the last (plus the gap
//       the bridge reports in ReadResult::lost) and the payload; prints one JSON line; exit 0
//       when every frame was received once, in order, intact, and (without `faults`) none lost.
//       With `faults` a dead writer (a killed importer) is waited out: another one attaches.
#include <chrono>
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

void fill(std::vector<std::byte>& frame, std::uint64_t index) {
  std::memcpy(frame.data(), &index, sizeof index);
  for (std::size_t i = sizeof index; i < frame.size(); ++i) frame[i] = static_cast<std::byte>((index * 31 + i) & 0xFF);
}

bool intact(std::span<const std::byte> data, std::uint64_t index) {
  if (data.size() < sizeof index) return false;
  for (std::size_t i = sizeof index; i < data.size(); ++i)
    if (data[i] != static_cast<std::byte>((index * 31 + i) & 0xFF)) return false;
  return true;
}

int produce(const std::string& seg, const std::string& ch, std::uint64_t count, std::size_t bytes) {
  SegmentOptions o;
  auto segment = Segment::open_or_create(seg, 8u << 20, o);
  auto w = QueueWriter::create(segment, ch, {.slots = 1024, .max_frame = static_cast<std::uint32_t>(bytes), .checksum = Checksum::crc32c, .max_readers = 0},
                               {.wait = WaitStrategy::spin_then_block()});
  std::vector<std::byte> frame(bytes);
  for (std::uint64_t i = 0; i < count; ++i) {
    fill(frame, i);
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
    std::uint64_t index = 0;
    std::memcpy(&index, r.data.data(), sizeof index);
    lost += r.lost;
    if (index != next + r.lost) ++out_of_order;
    if (!intact(r.data, index)) ++damaged;
    next = index + 1;
    ++frames;
  }
  std::printf("{\"frames\":%llu,\"lost\":%llu,\"out_of_order\":%llu,\"damaged\":%llu,\"next\":%llu,\"end\":\"%s\"}\n",
              static_cast<unsigned long long>(frames), static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(out_of_order), static_cast<unsigned long long>(damaged),
              static_cast<unsigned long long>(next), end);
  return frames + lost == count && (faults || lost == 0) && out_of_order == 0 && damaged == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "produce" && argc == 6) return produce(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10), std::strtoull(argv[5], nullptr, 10));
    if (mode == "consume" && (argc == 6 || argc == 7))
      return consume(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10), std::strtol(argv[5], nullptr, 10),
                     argc == 7 && std::string(argv[6]) == "faults");
    std::fprintf(stderr, "usage: %s produce SEG CH COUNT BYTES | consume SEG CH COUNT TIMEOUT_S [faults]\n", argv[0]);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
}
