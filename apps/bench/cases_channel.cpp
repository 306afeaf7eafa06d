// shmkit channels between real processes.
//  - Latency: ping-pong over two channels (parent -> child on "ping", child -> parent on
//    "pong"), one-way = half the round trip, for broadcast and queue, busy-poll at every frame
//    size, spin-then-block (frames arrive inside the spin window) and block at 64 B.
//  - Throughput: the parent publishes for a fixed time, 1/2/4 reader processes read until the
//    writer closes; frames/s and GB/s at the readers, copy-in/copy-out and zero-copy (loan +
//    read in place), checksum off and on; lossless broadcast (the writer waits for its
//    readers) beside two queues fed the same frames.
//  - Hand-over latency: one frame of 64 B .. 16 MiB from the parent to a child, loaned (the
//    reader touches its first line, or reads every byte) or copied in and out; the child
//    answers with a 64 B frame, one-way = half the round trip.
// The segment is a named one created by the parent; each child opens it by name (its own
// mapping, at its own address).
#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <vector>

#include "cases.hpp"
#include "channel_endpoints.hpp"
#include "read_in_place.hpp"

namespace shmkit::bench {

namespace {

// Every streaming case gets the same memory for its ring (kRingBudget, as the naive ring and
// about as much as the message queue): on a shared machine a reader is descheduled for
// milliseconds at a time, and a ring that holds less than that in time stalls its writer, so
// unequal rings would measure the buffer size, not the mechanism.
std::uint32_t slots_for(std::uint64_t size) {
  const std::uint64_t stride = size + 64;
  return static_cast<std::uint32_t>(std::bit_floor(std::clamp<std::uint64_t>(kRingBudget / stride, 8, 1u << 20)));
}

std::size_t segment_bytes(std::uint64_t size, int channels) {
  const std::uint64_t ring = std::uint64_t{slots_for(size)} * (size + 128) + (1u << 20);
  return static_cast<std::size_t>(ring * static_cast<std::uint64_t>(channels) + (2u << 20));
}

// Reads every word of a frame in place (what a consumer of a zero-copy frame would do).
std::uint64_t touch(std::span<const std::byte> d) {
  return read_in_place(reinterpret_cast<const unsigned char*>(d.data()), d.size());
}

// Child: "echo" answers each ping frame on pong (byte 0 == 1: the last); "sink" reads until the
// writer closes and reports what it got.
int chan_peer(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  Segment seg = Segment::open(arg(a, "segment"));
  const ChannelKind kind = parse_kind(arg(a, "kind"));
  const WaitStrategy wait = parse_wait(arg(a, "wait"));
  const std::uint64_t size = arg_u64(a, "size");
  std::vector<std::byte> buf(size);
  if (arg(a, "mode") == "echo") {
    AnyWriter pong(seg, "pong", kind, ChannelConfig{.slots = slots_for(size), .max_frame = static_cast<std::uint32_t>(size)}, wait);
    AnyReader ping(seg, "ping", kind, wait);
    ctl->ready.fetch_add(1);
    for (;;) {
      ReadResult r = ping.read(buf);
      if (!r) return 1;
      pong.publish(r.data);
      if (r.data[0] == std::byte{1}) return 0;
    }
  }
  const bool loan = arg(a, "copy") == "loan";
  ChildReport& rep = ctl->child[arg_u64(a, "index")];
  const bool lossless = arg(a, "lossless") == "1";
  AnyReader in(seg, arg(a, "chan", "data"), kind, wait, lossless);
  ctl->ready.fetch_add(1);
  std::uint64_t got = 0, lost = 0, errors = 0, next = 0, sink = 0;
  const bool queue = kind == ChannelKind::queue || lossless;  // every frame, in order
  for (;;) {
    ReadResult r = loan ? in.peek() : in.read(buf);
    lost += r.lost;
    if (r.status == Errc::closed) break;
    if (!r) return 1;  // timeout or writer gone: the parent sees the exit status
    // Payload check: copy mode publishes 0x42 everywhere, loan mode the sequence's low byte.
    const std::byte want = loan ? static_cast<std::byte>(r.frame.sequence & 0xff) : std::byte{0x42};
    bool ok = r.data.empty() || r.data[0] == want;
    if (loan) {
      sink ^= touch(r.data);
      if (!in.finish()) {
        ++lost;
        continue;
      }
    }
    if (queue && r.frame.sequence != next) ok = false;
    next = r.frame.sequence + 1;
    if (!ok) ++errors;
    ++got;
  }
  asm volatile("" : : "r"(sink));
  rep.end_ns.store(now_ns());
  rep.received.store(got);
  rep.lost.store(lost);
  rep.errors.store(errors);
  rep.finished.store(1);
  return 0;
}

std::string kind_name(ChannelKind k) { return k == ChannelKind::broadcast ? "broadcast" : "queue"; }

void channel_latency_batch(const Settings& s, Result& r, std::vector<double>& samples, ChannelKind kind,
                           const std::string& wait) {
  const std::uint64_t size = r.size;
  const std::string seg_name = s.tag + "-chan";
  Segment::remove(seg_name);
  {
    Segment seg = Segment::create(seg_name, segment_bytes(size, 2));
    const WaitStrategy ws = parse_wait(wait);
    AnyWriter ping(seg, "ping", kind, ChannelConfig{.slots = slots_for(size), .max_frame = static_cast<std::uint32_t>(size)}, ws);
    ControlMap ctl = ControlMap::create(s);
    Child child = spawn(s, "chan-peer", {{"ctl", ctl.name()}, {"segment", seg_name}, {"kind", kind_name(kind)},
                                         {"wait", wait}, {"size", std::to_string(size)}, {"mode", "echo"},
                                         {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}});
    await_ready(*ctl, 1, {&child});
    AnyReader pong(seg, "pong", kind, ws);
    std::vector<std::byte> msg(size, std::byte{0}), back(size);
    sample_batch(s, samples, [&] {
      ping.publish(msg);
      if (!pong.read(back)) throw std::runtime_error("no pong within the timeout");
    });
    msg[0] = std::byte{1};
    ping.publish(msg);
    (void)pong.read(back);
    child.join();
    r.extra["wake_calls"] += static_cast<double>(ping.stats().wake_calls);
    r.extra["published"] += static_cast<double>(ping.stats().published);
    r.extra["wake_calls_per_frame"] = r.extra["wake_calls"] / r.extra["published"];
  }
  Segment::remove(seg_name);
}

struct Stream {
  ChannelKind kind;
  std::uint64_t size;
  int readers;
  bool loan;
  bool checksum;
  std::uint32_t batch = 1;  // frames per publish_batch call (copy mode); 1: publish()
  bool lossless = false;    // broadcast: lossless readers (the writer waits for the slowest)
  bool fan_out = false;     // queue: one queue per reader, every frame published into each
};

// Busy-poll while every process has a CPU of its own; otherwise readers would spin on CPUs
// the writer needs, so they spin briefly and then sleep.
std::string reader_wait(const Settings& s, int readers) { return readers + 1 <= s.cpus ? "busy" : "spin"; }

Repeat channel_repeat(const Settings& s, Result& r, const Stream& c) {
  const std::string seg_name = s.tag + "-chan";
  std::vector<std::byte> src(c.size, std::byte{0x42});
  const std::vector<std::span<const std::byte>> batch(c.batch, std::span<const std::byte>(src));
  Segment::remove(seg_name);
  Repeat worst;
  {
    const int channels = c.fan_out ? c.readers : 1;
    Segment seg = Segment::create(seg_name, segment_bytes(c.size, channels));
    ChannelConfig cfg{.slots = slots_for(c.size), .max_frame = static_cast<std::uint32_t>(c.size),
                      .checksum = c.checksum ? Checksum::crc32c : Checksum::none};
    // Fan-out: "data0", "data1", ...: reader i reads its own queue.
    std::vector<AnyWriter> writers;
    writers.reserve(static_cast<std::size_t>(channels));
    for (int i = 0; i < channels; ++i)
      writers.emplace_back(seg, c.fan_out ? "data" + std::to_string(i) : std::string("data"), c.kind, cfg,
                           parse_wait(s.cpus >= 2 ? "busy" : "spin"));
    AnyWriter& w = writers[0];
    ControlMap ctl = ControlMap::create(s);
    std::vector<Child> kids;
    for (int i = 0; i < c.readers; ++i)
      kids.push_back(spawn(s, "chan-peer", {{"ctl", ctl.name()}, {"segment", seg_name}, {"kind", kind_name(c.kind)},
                                            {"wait", reader_wait(s, c.readers)}, {"size", std::to_string(c.size)},
                                            {"mode", "sink"}, {"copy", c.loan ? "loan" : "copy"},
                                            {"lossless", c.lossless ? "1" : "0"},
                                            {"chan", c.fan_out ? "data" + std::to_string(i) : std::string("data")},
                                            {"index", std::to_string(i)}, {"cpu", std::to_string(cpu_for(1 + i, s.cpus))},
                                            {"cpus", std::to_string(s.cpus)}}));
    std::vector<Child*> kid_ptrs;
    for (auto& k : kids) kid_ptrs.push_back(&k);
    await_ready(*ctl, static_cast<std::uint32_t>(c.readers), kid_ptrs);
    const std::int64_t t0 = now_ns();
    const std::int64_t end = t0 + static_cast<std::int64_t>(s.repeat_seconds * 1e9);
    // Read the clock every frame at large sizes, every 64 at small ones (it costs ~25 ns).
    const std::uint64_t check_every = c.size >= 4096 ? 1 : 64;
    std::uint64_t sent = 0;
    do {
      if (c.loan) {
        FrameLoan l = w.loan();
        std::memset(l.data().data(), static_cast<int>(sent & 0xff), c.size);
        l.publish(c.size);
        ++sent;
      } else if (c.batch > 1) {
        for (auto& each : writers) each.publish_batch(batch);
        sent += c.batch;
      } else {
        for (auto& each : writers) each.publish(src);
        ++sent;
      }
    } while (sent % check_every != 0 || now_ns() < end);
    for (auto& each : writers) each.close();
    for (auto& k : kids) k.join();
    r.extra["wake_calls"] += static_cast<double>(w.stats().wake_calls);
    r.extra["published"] += static_cast<double>(w.stats().published);
    r.extra["wake_calls_per_frame"] = r.extra["wake_calls"] / r.extra["published"];
    // The slowest reader decides the figure (a broadcast's readers each get every frame).
    double worst_rate = -1;
    for (int i = 0; i < c.readers; ++i) {
      const ChildReport& cr = ctl->child[i];
      const Repeat one{cr.received.load(), cr.lost.load(), static_cast<double>(cr.end_ns.load() - t0) / 1e9};
      const double rate = static_cast<double>(one.frames) / one.seconds;
      r.extra["payload_errors"] += static_cast<double>(cr.errors.load());
      if (worst_rate < 0 || rate < worst_rate) {
        worst_rate = rate;
        worst = one;
      }
      if ((c.kind == ChannelKind::queue || c.lossless) && one.frames != sent)
        r.note = "lossless reader got " + std::to_string(one.frames) + " of " + std::to_string(sent);
    }
  }
  Segment::remove(seg_name);
  return worst;
}

// The writer's own ceiling: a broadcast writer publishing 64 B copies with no reader at all (a
// broadcast writer never waits). No transport can hand a reader more frames than this.
Repeat writer_alone_repeat(const Settings& s, const Result& r) {
  const std::string seg_name = s.tag + "-alone";
  Segment::remove(seg_name);
  Repeat rep;
  {
    Segment seg = Segment::create(seg_name, segment_bytes(r.size, 1));
    auto w = BroadcastWriter::create(seg, "data", {.slots = slots_for(r.size), .max_frame = static_cast<std::uint32_t>(r.size)});
    const std::vector<std::byte> src(r.size, std::byte{0x42});
    const std::int64_t t0 = now_ns();
    const std::int64_t end = t0 + static_cast<std::int64_t>(s.repeat_seconds * 1e9);
    std::int64_t t = t0;
    while (t < end) {
      for (int i = 0; i < 64; ++i) w.publish(src);
      rep.frames += 64;
      t = now_ns();
    }
    rep.seconds = static_cast<double>(t - t0) / 1e9;
  }
  Segment::remove(seg_name);
  return rep;
}

// ---- Hand-over latency ----
// How the frame travels: loaned, the reader touching its first line ("loan-touch") or reading
// every byte the writer filled ("loan-read"); or copied in and out ("copy").
enum class Handover { loan_touch, loan_read, copy };
const char* handover_name(Handover h) {
  return h == Handover::loan_touch ? "loan-touch" : h == Handover::loan_read ? "loan-read" : "copy";
}
Handover parse_handover(const std::string& h) {
  return h == "loan-touch" ? Handover::loan_touch : h == "loan-read" ? Handover::loan_read : Handover::copy;
}
// A few slots: one frame is in flight at a time, and 16 MiB frames must not take 128 MiB.
constexpr std::uint32_t kHandoverSlots = 4;
constexpr std::uint64_t kPongBytes = 64;

// Child: takes each "ping" frame as the mode says, answers with a 64 B frame on "pong"
// (byte 0 of the ping == 1: the last).
int handover_peer(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  Segment seg = Segment::open(arg(a, "segment"));
  const Handover mode = parse_handover(arg(a, "mode"));
  const std::uint64_t size = arg_u64(a, "size");
  const WaitStrategy busy = WaitStrategy::busy_poll();
  QueueWriter pong = QueueWriter::create(seg, "pong", {.slots = kHandoverSlots, .max_frame = kPongBytes}, {.wait = busy});
  QueueReader ping(seg, "ping", {.wait = busy});
  std::vector<std::byte> buf(mode == Handover::copy ? size : 0);
  std::array<std::byte, kPongBytes> answer{};
  std::uint64_t sink = 0;
  ctl->ready.fetch_add(1);
  for (;;) {
    ReadResult r = mode == Handover::copy ? ping.read(buf, kChannelTimeout) : ping.peek(kChannelTimeout);
    if (!r || r.data.empty()) return 1;
    const bool last = r.data[0] == std::byte{1};
    if (mode == Handover::loan_read) {
      sink ^= touch(r.data);
    } else {
      std::uint64_t first;  // the first line's first word (copy: already read by the copy-out)
      std::memcpy(&first, r.data.data(), sizeof first);
      sink ^= first;
    }
    if (mode != Handover::copy) ping.finish();
    if (!pong.publish(answer, kChannelTimeout)) return 1;
    if (last) break;
  }
  asm volatile("" : : "r"(sink));
  return 0;
}

void handover_latency_batch(const Settings& s, Result& r, std::vector<double>& samples, Handover mode) {
  const std::uint64_t size = r.size;
  const std::string seg_name = s.tag + "-hand";
  Segment::remove(seg_name);
  {
    Segment seg = Segment::create(seg_name, static_cast<std::size_t>(kHandoverSlots * (size + 128) + (4u << 20)));
    const WaitStrategy busy = WaitStrategy::busy_poll();
    QueueWriter ping = QueueWriter::create(
        seg, "ping", {.slots = kHandoverSlots, .max_frame = static_cast<std::uint32_t>(size)}, {.wait = busy});
    ControlMap ctl = ControlMap::create(s);
    Child child = spawn(s, "handover-peer", {{"ctl", ctl.name()}, {"segment", seg_name}, {"mode", handover_name(mode)},
                                             {"size", std::to_string(size)}, {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}});
    await_ready(*ctl, 1, {&child});
    QueueReader pong(seg, "pong", {.wait = busy});
    std::vector<std::byte> src(mode == Handover::copy ? size : 0, std::byte{0x42});
    std::array<std::byte, kPongBytes> back{};
    std::uint64_t n = 0;
    auto send = [&](bool last, bool fill_all) {
      const std::byte first = last ? std::byte{1} : std::byte{2};
      if (mode == Handover::copy) {
        src[0] = first;
        if (!ping.publish(src, kChannelTimeout)) throw std::runtime_error("hand-over: ping publish timed out");
      } else {
        FrameLoan l = ping.loan(kChannelTimeout);
        if (!l) throw std::runtime_error("hand-over: ping loan timed out");
        std::byte* d = l.data().data();
        // Only what the reader looks at: the first line, or every byte (a producer making the frame).
        std::memset(d, static_cast<int>(n & 0x7f) | 2, fill_all ? size : std::min<std::uint64_t>(size, 64));
        d[0] = first;
        l.publish(size);
      }
      ++n;
      if (!pong.read(back, kChannelTimeout)) throw std::runtime_error("hand-over: no answer within the timeout");
    };
    // Every slot's pages written once before sampling (first-touch faults are not the hand-over).
    for (std::uint32_t i = 0; i < 2 * kHandoverSlots; ++i) send(false, true);
    sample_batch(s, samples, [&] { send(false, mode == Handover::loan_read); });
    send(true, false);
    child.join();
  }
  Segment::remove(seg_name);
}

}  // namespace

void register_channel_roles() {
  register_role("chan-peer", chan_peer);
  register_role("handover-peer", handover_peer);
}

void add_channel_cases(const Settings& s, Cases& out) {
  {
    Result r{.id = "throughput/channel/broadcast/writer-alone/64", .group = "channel", .metric = Metric::throughput,
             .label = "shmkit broadcast writer, no reader (the writer's ceiling)", .size = 64};
    if (selected(s, r.id)) out.stream.push_back({r, writer_alone_repeat});
  }
  for (ChannelKind k : {ChannelKind::broadcast, ChannelKind::queue}) {
    const std::string kn = kind_name(k);
    auto lat = [&](const std::string& wait, std::uint64_t size) {
      Result r{.id = "latency/channel/" + kn + "/" + wait + "/" + size_name(size), .group = "channel",
               .metric = Metric::latency, .label = "shmkit " + kn + ", " + wait, .size = size, .readers = 1};
      if (!selected(s, r.id)) return;
      out.latency.push_back({r, [k, wait](const Settings& st, Result& res, std::vector<double>& v) {
                               channel_latency_batch(st, res, v, k, wait);
                             }});
    };
    for (std::uint64_t size : kFrameSizes) lat("busy", size);
    lat("spin", 64);
    lat("block", 64);
  }
  auto stream = [&](const Stream& c) {
    const std::string kn = c.lossless ? "lossless" : c.fan_out ? "queue-x" + std::to_string(c.readers) : kind_name(c.kind);
    const std::string variant = std::string(c.loan ? "loan" : "copy") + (c.checksum ? "+crc" : "") +
                                (c.batch > 1 ? "+batch" + std::to_string(c.batch) : "");
    Result r{.id = "throughput/channel/" + kn + "/" + variant + "/" + size_name(c.size) + "/r" + std::to_string(c.readers),
             .group = "channel", .metric = Metric::throughput,
             .label = "shmkit " + kn + ", " + variant + ", " + reader_wait(s, c.readers), .size = c.size,
             .readers = c.readers, .lossless = c.kind == ChannelKind::queue || c.lossless};
    if (!selected(s, r.id)) return;
    out.stream.push_back({r, [c](const Settings& st, Result& res) { return channel_repeat(st, res, c); }});
  };
  for (std::uint64_t size : {64ULL, 64ULL << 10, 1ULL << 20, 16ULL << 20}) {
    for (Handover h : {Handover::loan_touch, Handover::loan_read, Handover::copy}) {
      Result r{.id = std::string("latency/handover/") + handover_name(h) + "/" + size_name(size), .group = "channel",
               .metric = Metric::latency,
               .label = std::string("shmkit queue hand-over, ") +
                        (h == Handover::loan_touch  ? "loan, reader touches 1 line"
                         : h == Handover::loan_read ? "loan, writer fills, reader reads all"
                                                    : "copy in, copy out"),
               .size = size, .readers = 1, .lossless = true};
      if (!selected(s, r.id)) continue;
      out.latency.push_back(
          {r, [h](const Settings& st, Result& res, std::vector<double>& v) { handover_latency_batch(st, res, v, h); }});
    }
  }
  // Lossless broadcast at 64 B (one copy per frame for every reader), and what it replaces: one
  // queue per reader, the writer copying each frame into each.
  for (int readers : {1, 2}) {
    stream({ChannelKind::broadcast, 64, readers, false, false, 1, true});
    stream({ChannelKind::broadcast, 64, readers, false, false, 16, true});
  }
  stream({ChannelKind::queue, 64, 2, false, false, 1, false, true});
  stream({ChannelKind::queue, 64, 2, false, false, 16, false, true});
  for (ChannelKind k : {ChannelKind::queue, ChannelKind::broadcast}) {
    for (std::uint64_t size : kFrameSizes) {
      stream({k, size, 1, false, false});
      stream({k, size, 1, true, false});
      stream({k, size, 1, false, true});
      if (size == 64) stream({k, size, 1, false, false, 16});
      if (k == ChannelKind::broadcast) {
        stream({k, size, 2, false, false});
        stream({k, size, 4, false, false});
      }
    }
  }
}

}  // namespace shmkit::bench
