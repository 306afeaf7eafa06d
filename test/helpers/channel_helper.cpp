// Child process for the cross-process channel tests. Usage:
//   shmkit-test-channel-helper <command> <backend> <segment> <channel> <child-index> [args...]
// It finds the test's ChannelTestControl ("control") in the segment and reports through
// control.child[child-index]. Exit codes: channel_test_types.hpp (kExit*).
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "channel_test_types.hpp"
#include "shmkit/shmkit.hpp"

using namespace shmkit;
using namespace shmkit::test;

namespace {

WaitStrategy parse_strategy(const std::string& s) {
  if (s == "busy") return WaitStrategy::busy_poll();
  if (s == "block") return WaitStrategy::block();
  return WaitStrategy::spin_then_block(std::chrono::microseconds(50));
}

std::int64_t now_ns() { return detail::steady_now_ns(); }

// Deliberate slowness (not synchronization): burns `us` microseconds of CPU.
void burn(std::int64_t us) {
  const std::int64_t end = now_ns() + us * 1000;
  while (now_ns() < end) {
  }
}

struct Args {
  std::string command;
  Backend backend;
  std::string segment;
  std::string channel;
  int index;
  std::vector<std::string> rest;
  std::uint64_t num(std::size_t i, std::uint64_t fallback = 0) const {
    return i < rest.size() ? std::strtoull(rest[i].c_str(), nullptr, 10) : fallback;
  }
  std::string str(std::size_t i, const char* fallback = "") const { return i < rest.size() ? rest[i] : fallback; }
};

void finish_report(ChildReport& r, Errc status) {
  r.status.store(static_cast<std::int32_t>(status));
  r.event_ns.store(now_ns());
  r.done.store(1, std::memory_order_release);
}

// Broadcast reader that checks every frame: args <strategy> <slow-every> <slow-us> <copy|peek>
// <start: oldest|next> [lossy|lossless] [hang-after]. Reads until closed (or peer_gone / a 30 s
// silence). Lossless: being detached fails the reader (Error(peer_gone)), and it reports its
// progress (delivered) every 4096 frames while it reads. hang-after N (> 0): after N frames it
// reports N delivered and stops reading for good (waiting to be killed).
int bcast_verify(Segment& seg, const Args& a, ChildReport& r) {
  ReaderOptions o;
  o.wait = parse_strategy(a.str(0, "spin"));
  o.start = a.str(4, "oldest") == "next" ? StartAt::next : StartAt::oldest;
  const bool lossless = a.str(5, "lossy") == "lossless";
  if (lossless) {
    o.delivery = Delivery::lossless;
    o.on_detach = OnDetach::fail;
  }
  const std::uint64_t slow_every = a.num(1), slow_us = a.num(2);
  const bool peek = a.str(3, "copy") == "peek";
  const std::uint64_t hang_after = a.num(6);
  BroadcastReader reader(seg, a.channel, o);
  std::vector<std::byte> buf(reader.max_frame());
  std::uint64_t next = reader.position(), delivered = 0, lost = 0, mismatched = 0, out_of_order = 0, torn = 0;
  r.ready.store(1, std::memory_order_release);
  ReadResult res;
  for (;;) {
    res = peek ? reader.peek(std::chrono::seconds(30)) : reader.read(buf, std::chrono::seconds(30));
    lost += res.lost;
    if (!res) break;
    next += res.lost;
    const std::uint64_t seq = res.frame.sequence;
    if (seq != next) ++out_of_order;
    next = seq + 1;
    bool ok = payload_matches(seq, res.data, reader.max_frame());
    if (slow_every != 0 && seq % slow_every == 0) burn(static_cast<std::int64_t>(slow_us));
    if (peek) {
      if (!reader.finish()) {  // overwritten while we looked: not delivered; the reader counts
        ++torn;                // it in the next result's `lost`
        next = seq;
        continue;
      }
    }
    if (!ok) {
      if (mismatched < 5) std::fprintf(stderr, "reader %d: frame %llu differs\n", a.index, (unsigned long long)seq);
      ++mismatched;
    }
    ++delivered;
    if (lossless && delivered % 4096 == 0) r.delivered.store(delivered, std::memory_order_relaxed);
    if (hang_after != 0 && delivered == hang_after) {
      r.delivered.store(delivered, std::memory_order_release);
      for (;;) pause();
    }
  }
  r.delivered.store(delivered);
  r.lost.store(lost);
  r.mismatched.store(mismatched);
  r.out_of_order.store(out_of_order);
  r.torn_detected.store(torn);
  r.position.store(reader.position());
  finish_report(r, res.status);
  std::printf("reader %d (%s%s): delivered %llu, lost %llu, torn %llu, end %s\n", a.index, a.str(0).c_str(),
              peek ? ", peek" : "", (unsigned long long)delivered, (unsigned long long)lost, (unsigned long long)torn,
              to_string(res.status));
  return mismatched == 0 && out_of_order == 0 ? kExitOk : kExitMismatch;
}

// Broadcast reader that reads until the stream ends (or after `stop-after` frames): args
// <strategy> <stop-after (0: never)> [start: oldest|next]. Reports the status that ended it and when.
int bcast_read(Segment& seg, const Args& a, ChildReport& r) {
  ReaderOptions o;
  o.wait = parse_strategy(a.str(0, "block"));
  o.start = a.str(2, "oldest") == "next" ? StartAt::next : StartAt::oldest;
  const std::uint64_t stop_after = a.num(1);
  BroadcastReader reader(seg, a.channel, o);
  std::vector<std::byte> buf(reader.max_frame());
  std::uint64_t delivered = 0, mismatched = 0;
  r.ready.store(1, std::memory_order_release);
  ReadResult res;
  for (;;) {
    res = reader.read(buf, std::chrono::seconds(30));
    if (!res) break;
    if (!payload_matches(res.frame.sequence, res.data, reader.max_frame())) ++mismatched;
    r.sleeps.store(reader.stats().sleeps);
    r.heavy_fences.store(reader.stats().heavy_fences);
    r.delivered.store(++delivered);
    if (stop_after != 0 && delivered == stop_after) break;
  }
  r.mismatched.store(mismatched);
  r.lost.store(reader.lost());
  finish_report(r, res.status);
  return mismatched == 0 ? kExitOk : kExitMismatch;
}

// A sandbox that refuses membarrier() with EPERM, as a container's seccomp profile may: this
// process then cannot issue the heavy fence that a light-fenced writer relies on.
bool forbid_membarrier() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 &&
         ::syscall(SYS_membarrier, 0, 0U, 0) == -1 && errno == EPERM;
}

// Broadcast reader driven by poll() on notification_fd(): args <stop-after (0: never)>. Waits
// for readability, drains with try_read, until closed or peer_gone.
int bcast_poll(Segment& seg, const Args& a, ChildReport& r) {
  const std::uint64_t stop_after = a.num(0);
  BroadcastReader reader(seg, a.channel, {});
  std::vector<std::byte> buf(reader.max_frame());
  pollfd p{reader.notification_fd(), POLLIN, 0};
  std::uint64_t delivered = 0, mismatched = 0;
  r.ready.store(1, std::memory_order_release);
  ReadResult res;
  for (;;) {
    if (::poll(&p, 1, 30'000) != 1) return kExitUnexpected;  // 30 s without a notification
    reader.clear_notification();
    while ((res = reader.try_read(buf))) {
      if (!payload_matches(res.frame.sequence, res.data, reader.max_frame())) ++mismatched;
      r.delivered.store(++delivered);
    }
    if (res.status != Errc::timeout) break;
    if (stop_after != 0 && delivered >= stop_after) break;
  }
  r.mismatched.store(mismatched);
  r.lost.store(reader.lost());
  finish_report(r, res.status);
  return mismatched == 0 ? kExitOk : kExitMismatch;
}

// Creates a broadcast channel, publishes 100 frames, then heartbeats until killed:
// args <slots> <max-frame>.
int bcast_write_forever(Segment& seg, const Args& a, ChannelTestControl& c) {
  ChannelConfig cfg;
  cfg.slots = static_cast<std::uint32_t>(a.num(0, 64));
  cfg.max_frame = static_cast<std::uint32_t>(a.num(1, 256));
  auto writer = BroadcastWriter::create(seg, a.channel, cfg);
  std::vector<std::byte> buf(cfg.max_frame);
  for (std::uint64_t i = 0; i < 100; ++i) writer.publish(std::span(buf.data(), fill_payload(i, buf)));
  c.created.store(1, std::memory_order_release);
  for (;;) {
    writer.heartbeat();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // idle writer's heartbeat interval
  }
}

// Creates a queue, publishes 3 frames, then heartbeats until killed: args <slots> <max-frame>.
int queue_write_forever(Segment& seg, const Args& a, ChannelTestControl& c) {
  ChannelConfig cfg;
  cfg.slots = static_cast<std::uint32_t>(a.num(0, 64));
  cfg.max_frame = static_cast<std::uint32_t>(a.num(1, 256));
  auto writer = QueueWriter::create(seg, a.channel, cfg);
  std::vector<std::byte> buf(cfg.max_frame);
  for (std::uint64_t i = 0; i < 3; ++i) {
    if (!writer.try_publish(std::span(buf.data(), fill_payload(i, buf)))) return kExitUnexpected;
  }
  c.created.store(1, std::memory_order_release);
  for (;;) {
    writer.heartbeat();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Queue reader that checks exactly-once, in-order delivery: args <strategy> <slow-every>
// <slow-ms> <copy|peek>. Reads until closed.
int queue_verify(Segment& seg, const Args& a, ChildReport& r) {
  ReaderOptions o;
  o.wait = parse_strategy(a.str(0, "spin"));
  const std::uint64_t slow_every = a.num(1), slow_ms = a.num(2);
  const bool peek = a.str(3, "copy") == "peek";
  QueueReader reader(seg, a.channel, o);
  std::vector<std::byte> buf(reader.max_frame());
  std::uint64_t next = reader.position(), delivered = 0, mismatched = 0, out_of_order = 0;
  r.ready.store(1, std::memory_order_release);
  ReadResult res;
  for (;;) {
    res = peek ? reader.peek(std::chrono::seconds(30)) : reader.read(buf, std::chrono::seconds(30));
    if (!res) break;
    const std::uint64_t seq = res.frame.sequence;
    if (seq != next) ++out_of_order;
    next = seq + 1;
    if (!payload_matches(seq, res.data, reader.max_frame())) ++mismatched;
    if (peek) reader.finish();
    ++delivered;
    // Deliberately slow at times (sleeping here is the load, not synchronization): the writer
    // fills the ring and has to block.
    if (slow_every != 0 && seq % slow_every == slow_every - 1)
      std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
  }
  r.delivered.store(delivered);
  r.mismatched.store(mismatched);
  r.out_of_order.store(out_of_order);
  r.position.store(reader.position());
  finish_report(r, res.status);
  std::printf("queue reader: delivered %llu, mismatched %llu, out of order %llu, end %s\n",
              (unsigned long long)delivered, (unsigned long long)mismatched, (unsigned long long)out_of_order,
              to_string(res.status));
  return mismatched == 0 && out_of_order == 0 ? kExitOk : kExitMismatch;
}

// Queue reader that reads one frame, says ready, then hangs until killed.
int queue_read_then_hang(Segment& seg, const Args& a, ChildReport& r) {
  QueueReader reader(seg, a.channel);
  std::vector<std::byte> buf(reader.max_frame());
  if (!reader.read(buf, std::chrono::seconds(30))) return kExitUnexpected;
  r.delivered.store(1);
  r.ready.store(1, std::memory_order_release);
  for (;;) pause();
}

// Opens a reader of either kind and reads once: args <broadcast|queue>.
int open_and_read(Segment& seg, const Args& a, ChildReport& r) {
  std::vector<std::byte> buf(1 << 16);
  ReadResult res;
  if (a.str(0, "broadcast") == "queue") {
    QueueReader reader(seg, a.channel);
    res = reader.try_read(buf);
  } else {
    BroadcastReader reader(seg, a.channel, {});
    res = reader.try_read(buf);
  }
  finish_report(r, res.status);
  return kExitOk;
}

int run(const Args& a) {
  SegmentOptions so;
  so.backend = a.backend;
  Segment seg = Segment::open(a.segment, so);
  auto* control = seg.find<ChannelTestControl>("control");
  if (control == nullptr || a.index < 0 || a.index >= kMaxChildren) return kExitUsage;
  ChildReport& r = control->child[a.index];
  if (a.command == "bcast-verify") return bcast_verify(seg, a, r);
  if (a.command == "bcast-read") return bcast_read(seg, a, r);
  if (a.command == "bcast-read-no-membarrier") return forbid_membarrier() ? bcast_read(seg, a, r) : kExitError;
  if (a.command == "bcast-poll") return bcast_poll(seg, a, r);
  if (a.command == "bcast-write-forever") return bcast_write_forever(seg, a, *control);
  if (a.command == "queue-write-forever") return queue_write_forever(seg, a, *control);
  if (a.command == "queue-verify") return queue_verify(seg, a, r);
  if (a.command == "queue-read-then-hang") return queue_read_then_hang(seg, a, r);
  if (a.command == "open-and-read") return open_and_read(seg, a, r);
  std::fprintf(stderr, "unknown command %s\n", a.command.c_str());
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s <command> <backend> <segment> <channel> <child-index> [args...]\n", argv[0]);
    return kExitUsage;
  }
  // The backend as to_string() spells it (the registry's names): every backend of the build.
  const std::optional<Backend> backend = backend_from_string(argv[2]);
  if (!backend) {
    std::fprintf(stderr, "%s: unknown backend '%s'\n", argv[0], argv[2]);
    return kExitUsage;
  }
  Args a{argv[1], *backend, argv[3], argv[4], std::atoi(argv[5]), {}};
  for (int i = 6; i < argc; ++i) a.rest.emplace_back(argv[i]);
  try {
    return run(a);
  } catch (const Error& e) {
    std::fprintf(stderr, "helper %s: %s\n", a.command.c_str(), e.what());
    return e.errc() == Errc::corrupt ? kExitCorrupt : kExitError;
  }
}
