// The naive shared-memory SPSC byte ring: what a programmer writes in an afternoon, and the
// baseline shmkit's channels must beat. Length-prefixed records in a byte ring; the writer
// advances `head` and the reader `tail` after every record, and each re-reads the other's
// index every time (no batching, no cached copy): both index lines bounce per message.
//
// Beside it, the ceiling for one-line frames: 64-byte lines streamed through the same memory,
// each announcing itself with a sequence word in its first 8 bytes (so no index is polled),
// the reader's consumed count stored every 64 lines and cached by the writer. Each line crosses
// once each way and nothing else does: the least any shared-memory channel moves per frame.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "cases.hpp"
#include "read_in_place.hpp"

namespace shmkit::bench {

namespace {

constexpr std::uint64_t kRingBytes = kRingBudget;  // holds several 1 MiB records
constexpr std::uint64_t kStreamLine = 64;          // the line stream's frame: one cache line

struct RingHeader {
  alignas(64) std::atomic<std::uint64_t> head{0};  // bytes written (writer)
  alignas(64) std::atomic<std::uint64_t> tail{0};  // bytes consumed (reader)
  alignas(64) std::atomic<std::uint32_t> closed{0};
};

struct RingMap {
  RingHeader* h = nullptr;
  std::byte* data = nullptr;
  std::size_t bytes = 0;
  std::string name;
  bool owner = false;

  static constexpr std::size_t total() { return sizeof(RingHeader) + kRingBytes; }
  static RingMap map(const std::string& name, bool create) {
    if (create) ::shm_unlink(name.c_str());
    const int fd = ::shm_open(name.c_str(), create ? O_CREAT | O_EXCL | O_RDWR : O_RDWR, 0600);
    if (fd < 0) throw std::runtime_error("ring shm_open");
    if (create && ::ftruncate(fd, static_cast<off_t>(total())) != 0) throw std::runtime_error("ring ftruncate");
    void* p = ::mmap(nullptr, total(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) throw std::runtime_error("ring mmap");
    RingMap m;
    m.h = create ? ::new (p) RingHeader{} : static_cast<RingHeader*>(p);
    m.data = static_cast<std::byte*>(p) + sizeof(RingHeader);
    m.bytes = total();
    m.name = name;
    m.owner = create;
    return m;
  }
  void unmap() {
    if (h != nullptr) ::munmap(h, bytes);
    if (owner) ::shm_unlink(name.c_str());
    h = nullptr;
  }
};

// A sink's report: when it got its last record, and how many.
void report_received(Control& ctl, std::uint64_t n) {
  ChildReport& rep = ctl.child[0];
  rep.end_ns.store(now_ns());
  rep.received.store(n);
  rep.finished.store(1);
}

// Copies n bytes at ring position pos (wrapping).
void ring_put(std::byte* ring, std::uint64_t pos, const std::byte* src, std::size_t n) {
  const std::size_t at = pos % kRingBytes, first = std::min<std::size_t>(n, kRingBytes - at);
  std::memcpy(ring + at, src, first);
  std::memcpy(ring, src + first, n - first);
}
void ring_get(const std::byte* ring, std::uint64_t pos, std::byte* dst, std::size_t n) {
  const std::size_t at = pos % kRingBytes, first = std::min<std::size_t>(n, kRingBytes - at);
  std::memcpy(dst, ring + at, first);
  std::memcpy(dst + first, ring, n - first);
}
constexpr std::uint64_t record_bytes(std::uint64_t n) { return (8 + n + 7) / 8 * 8; }

// Child: reads records until the ring is closed and empty.
int ring_sink(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  RingMap ring = RingMap::map(arg(a, "ring"), false);
  std::vector<std::byte> buf(arg_u64(a, "size"));
  ctl->ready.fetch_add(1);
  std::uint64_t n = 0;
  for (;;) {
    const std::uint64_t tail = ring.h->tail.load(std::memory_order_relaxed);
    if (ring.h->head.load(std::memory_order_acquire) == tail) {
      if (ring.h->closed.load(std::memory_order_acquire) != 0 && ring.h->head.load(std::memory_order_acquire) == tail)
        break;
      continue;
    }
    std::uint64_t len = 0;
    ring_get(ring.data, tail, reinterpret_cast<std::byte*>(&len), 8);
    ring_get(ring.data, tail + 8, buf.data(), std::min<std::size_t>(len, buf.size()));
    ring.h->tail.store(tail + record_bytes(len), std::memory_order_release);
    ++n;
  }
  report_received(*ctl, n);
  ring.unmap();
  return 0;
}

// A line of the stream: its sequence + 1 (0: never written), stored last, then 56 bytes.
struct StreamLine {
  std::atomic<std::uint64_t> seq;
  std::byte payload[kStreamLine - 8];
};
static_assert(sizeof(StreamLine) == kStreamLine && std::atomic<std::uint64_t>::is_always_lock_free);
constexpr std::uint64_t kStreamLines = kRingBytes / kStreamLine;

StreamLine& stream_line(const RingMap& ring, std::uint64_t seq) {
  return reinterpret_cast<StreamLine*>(ring.data)[seq % kStreamLines];
}

// Child: reads lines until the stream is closed and the next line never came. `tail` counts
// the lines it consumed.
int stream_sink(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  RingMap ring = RingMap::map(arg(a, "ring"), false);
  alignas(64) std::byte buf[kStreamLine];
  ctl->ready.fetch_add(1);
  std::uint64_t pos = 0, released = 0;
  for (;;) {
    const StreamLine& line = stream_line(ring, pos);
    if (line.seq.load(std::memory_order_acquire) != pos + 1) {
      if (released != pos) ring.h->tail.store(released = pos, std::memory_order_release);
      // `closed` before the second look: the writer stores it after its last line.
      if (ring.h->closed.load(std::memory_order_acquire) != 0 && line.seq.load(std::memory_order_acquire) != pos + 1)
        break;
      continue;
    }
    std::memcpy(buf, &line, kStreamLine);
    asm volatile("" : : "r"(buf) : "memory");
    if (++pos - released >= 64) ring.h->tail.store(released = pos, std::memory_order_release);
  }
  report_received(*ctl, pos);
  ring.unmap();
  return 0;
}

// The zero-copy ceiling: frames of `size` bytes in a ring of whole frames, each filled in place
// by the writer and read in place by this reader (read_in_place), one index each way and
// nothing else: no slot header, no version, no checks. `head` counts frames filled.
int inplace_sink(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  RingMap ring = RingMap::map(arg(a, "ring"), false);
  const std::uint64_t size = arg_u64(a, "size"), frames = kRingBytes / size;
  ctl->ready.fetch_add(1);
  std::uint64_t pos = 0, sink = 0;
  for (;;) {
    const std::uint64_t head = ring.h->head.load(std::memory_order_acquire);
    if (head == pos) {
      // `closed` before the second look: the writer stores it after its last frame.
      if (ring.h->closed.load(std::memory_order_acquire) != 0 && ring.h->head.load(std::memory_order_acquire) == pos)
        break;
      continue;
    }
    for (; pos < head; ++pos) {
      sink ^= read_in_place(reinterpret_cast<const unsigned char*>(ring.data) + (pos % frames) * size, size);
      ring.h->tail.store(pos + 1, std::memory_order_release);
    }
  }
  asm volatile("" : : "r"(sink));
  report_received(*ctl, pos);
  ring.unmap();
  return 0;
}

}  // namespace

void register_ring_roles() {
  register_role("ring-sink", ring_sink);
  register_role("stream-sink", stream_sink);
  register_role("inplace-sink", inplace_sink);
}

namespace {

// One repeat of a writer against a sink process on CPU 1 over a fresh ring: `write_one(ring)`
// writes a frame and returns the frames written so far; the clock is read every 16 frames.
// Frames the sink did not get by the time it saw `closed` are the repeat's lost count.
template <class WriteOne>
Repeat repeat_against_sink(const Settings& s, const std::string& sink_role, const std::string& ring_suffix,
                           Args args, WriteOne&& write_one) {
  ControlMap ctl = ControlMap::create(s);
  RingMap ring = RingMap::map("/" + s.tag + "-" + ring_suffix, true);
  args.insert({{"ctl", ctl.name()}, {"ring", ring.name}, {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}});
  Child child = spawn(s, sink_role, args);
  await_ready(*ctl, 1, {&child});
  const std::int64_t t0 = now_ns();
  const std::int64_t end = t0 + static_cast<std::int64_t>(s.repeat_seconds * 1e9);
  std::uint64_t sent = 0;
  do {
    sent = write_one(ring);
  } while ((sent & 15) != 0 || now_ns() < end);
  ring.h->closed.store(1, std::memory_order_release);
  child.join();
  const auto& c = ctl->child[0];
  ring.unmap();
  return {c.received.load(), sent - std::min(sent, c.received.load()), static_cast<double>(c.end_ns.load() - t0) / 1e9};
}

Repeat ring_repeat(const Settings& s, const Result& r) {
  const std::uint64_t size = r.size;
  std::vector<std::byte> src(size, std::byte{0x42});
  const std::uint64_t rec = record_bytes(size);
  std::uint64_t sent = 0, head = 0;
  return repeat_against_sink(s, "ring-sink", "ring", {{"size", std::to_string(size)}}, [&](RingMap& ring) {
    while (head + rec - ring.h->tail.load(std::memory_order_acquire) > kRingBytes) {
    }
    ring_put(ring.data, head, reinterpret_cast<const std::byte*>(&size), 8);
    ring_put(ring.data, head + 8, src.data(), size);
    head += rec;
    ring.h->head.store(head, std::memory_order_release);
    return ++sent;
  });
}

Repeat stream_repeat(const Settings& s, const Result&) {
  alignas(64) std::byte src[kStreamLine - 8];
  std::memset(src, 0x42, sizeof src);
  std::uint64_t next = 0, tail = 0;
  return repeat_against_sink(s, "stream-sink", "stream", {}, [&](RingMap& ring) {
    while (next - tail == kStreamLines) tail = ring.h->tail.load(std::memory_order_acquire);
    StreamLine& line = stream_line(ring, next);
    std::memcpy(line.payload, src, sizeof src);
    line.seq.store(++next, std::memory_order_release);
    return next;
  });
}

Repeat inplace_repeat(const Settings& s, const Result& r) {
  const std::uint64_t size = r.size, frames = kRingBytes / size;
  std::uint64_t next = 0;
  return repeat_against_sink(s, "inplace-sink", "inplace", {{"size", std::to_string(size)}}, [&](RingMap& ring) {
    while (next - ring.h->tail.load(std::memory_order_acquire) >= frames) {
    }
    std::memset(ring.data + (next % frames) * size, static_cast<int>(next & 0xff), size);  // as the loan cases fill
    ring.h->head.store(++next, std::memory_order_release);
    return next;
  });
}

}  // namespace

void add_ring_cases(const Settings& s, Cases& out) {
  Result inplace{.id = "throughput/floor/in-place/1M", .group = "floor", .metric = Metric::throughput,
                 .label = "1 MiB filled and read in place, two indexes (zero-copy ceiling)", .size = 1u << 20,
                 .readers = 1, .lossless = true};
  if (selected(s, inplace.id)) out.stream.push_back({inplace, inplace_repeat});
  Result line{.id = "throughput/floor/stream/64", .group = "floor", .metric = Metric::throughput,
              .label = "64 B lines streamed, 8 B sequence (ceiling)", .size = kStreamLine, .readers = 1, .lossless = true};
  if (selected(s, line.id)) out.stream.push_back({line, stream_repeat});
  for (std::uint64_t size : kFrameSizes) {
    Result r{.id = "throughput/ring/" + size_name(size), .group = "ring", .metric = Metric::throughput,
             .label = "naive SPSC byte ring (busy)", .size = size, .readers = 1, .lossless = true};
    if (selected(s, r.id)) out.stream.push_back({r, ring_repeat});
  }
}

}  // namespace shmkit::bench
