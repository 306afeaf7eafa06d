// Channel readers in event loops (docs/channels.md, "Event loops"):
//  - latency: ping-pong between two processes whose readers sleep in epoll_wait on
//    notification_fd(), each channel served by its writer's process (memfd): one-way latency
//    through the writer's own eventfd; the same over named segments, where the fd is signalled
//    by the reader's notification thread (the bridge). The baseline is latency/ipc/eventfd, a
//    raw eventfd ping-pong between two processes.
//  - publish cost with 0, 1 and 4 subscribers holding the writer's eventfd, asleep in epoll or
//    awake (busy elsewhere, not armed): ns per publish and write() calls per frame, and with
//    strace -c the writer thread's system calls per frame when no subscriber sleeps.
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "cases.hpp"
#include "shmkit/channel.hpp"
#include "shmkit/memfd_handle.hpp"
#include "shmkit/segment.hpp"

namespace shmkit::bench {

namespace {

constexpr std::uint32_t kFrame = 64;

// A segment of ours: memfd served on `socket` (abstract), or named.
Segment make_segment(const std::string& name, bool memfd) {
  SegmentOptions o;
  o.backend = memfd ? Backend::memfd : Backend::named;
  if (memfd) o.socket_path = "@" + name;
  else Segment::remove(name, Backend::named);
  return Segment::create(name, 2u << 20, o);
}
Segment open_segment(const std::string& name, bool memfd) {
  return memfd ? attach_memfd("@" + name) : Segment::open(name, {.backend = Backend::named});
}

// An epoll set on a reader's notification fd (and its writer_hangup_fd, when it has one).
class Loop {
 public:
  explicit Loop(BroadcastReader& r) : reader_(r), ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, r.notification_fd(), &ev);
    if (r.writer_hangup_fd() >= 0) {
      ev.events = EPOLLRDHUP;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, r.writer_hangup_fd(), &ev);
    }
  }
  ~Loop() { ::close(ep_); }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  // The next frame: drains, then sleeps in epoll_wait when there is none.
  ReadResult next(std::span<std::byte> buf) {
    for (;;) {
      ReadResult r = reader_.try_read(buf);
      if (r.status != Errc::timeout) return r;
      epoll_event got[2];
      if (::epoll_wait(ep_, got, 2, 10'000) <= 0) throw std::runtime_error("no wake-up within 10 s");
      reader_.clear_notification();
    }
  }

 private:
  BroadcastReader& reader_;
  int ep_;
};

// Child: echoes every "ping" frame on its own "pong" channel, in a segment it serves.
int evl_echo(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  const bool memfd = arg(a, "backend") == "memfd";
  Segment pong_seg = make_segment(arg(a, "pong"), memfd);
  BroadcastWriter pong = BroadcastWriter::create(pong_seg, "pong", {.slots = 64, .max_frame = kFrame});
  Segment ping_seg = open_segment(arg(a, "ping"), memfd);
  BroadcastReader ping(ping_seg, "ping", {.start = StartAt::oldest});
  Loop loop(ping);
  if (memfd && ping.notification_uses_thread()) return 3;  // would not measure what it says
  ctl->ready.fetch_add(1);
  std::vector<std::byte> buf(kFrame);
  for (;;) {
    ReadResult r = loop.next(buf);
    if (!r) return 1;
    pong.publish(r.data);
    if (r.data[0] == std::byte{1}) {
      ctl->stop.store(1);
      // Our segment serves the parent's pong reader until it has read the last frame.
      return spin_until([&] { return ctl->stop.load() == 2; }, 10) ? 0 : 1;
    }
  }
}

void epoll_latency_batch(const Settings& s, std::vector<double>& samples, bool memfd) {
  const std::string ping_name = s.tag + "-evping", pong_name = s.tag + "-evpong";
  {
    Segment seg = make_segment(ping_name, memfd);
    BroadcastWriter ping = BroadcastWriter::create(seg, "ping", {.slots = 64, .max_frame = kFrame});
    ControlMap ctl = ControlMap::create(s);
    Child child = spawn(s, "evl-echo", {{"ctl", ctl.name()}, {"backend", memfd ? "memfd" : "named"},
                                        {"ping", ping_name}, {"pong", pong_name}, {"cpu", "1"},
                                        {"cpus", std::to_string(s.cpus)}});
    await_ready(*ctl, 1, {&child});
    Segment pong_seg = open_segment(pong_name, memfd);
    BroadcastReader pong(pong_seg, "pong", {.start = StartAt::oldest});
    Loop loop(pong);
    if (memfd && pong.notification_uses_thread()) throw std::runtime_error("no writer eventfd for the pong reader");
    std::vector<std::byte> msg(kFrame, std::byte{0}), back(kFrame);
    sample_batch(s, samples, [&] {
      ping.publish(msg);
      if (!loop.next(back)) throw std::runtime_error("no pong");
    });
    msg[0] = std::byte{1};
    ping.publish(msg);
    (void)loop.next(back);
    ctl->stop.store(2);
    child.join();
  }
  if (!memfd) {
    Segment::remove(ping_name, Backend::named);
    Segment::remove(pong_name, Backend::named);
  }
}

// Child: a subscriber of "data" holding the writer's eventfd. asleep: an epoll loop that
// drains and sleeps again until the stop frame; awake: never sleeps on it (waits for `stop`
// on a futex of the control block: busy elsewhere, as far as the writer can tell).
int fd_subscriber(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  Segment seg = attach_memfd(arg(a, "socket"));
  BroadcastReader r(seg, "data", {.start = StartAt::next});
  (void)r.notification_fd();
  if (r.notification_uses_thread()) return 3;
  std::vector<std::byte> buf(kFrame);
  if (arg(a, "mode") == "asleep") {
    Loop loop(r);
    ctl->ready.fetch_add(1);
    for (;;) {
      ReadResult res = loop.next(buf);
      if (!res) return res.status == Errc::closed ? 0 : 1;
    }
  }
  // One empty read disarmed nothing (notification_fd armed us): the first frame's wake-up is
  // the only write this subscriber costs. Then it stays out of the way.
  ctl->ready.fetch_add(1);
  while (ctl->stop.load() == 0) futex_wait_change(ctl->futex_ping, 0);
  return 0;
}

struct PublishRun {
  double ns_per_frame = 0;
  std::uint64_t frames = 0, writes = 0;
};

// A writer serving a memfd segment publishes `frames` 64 B frames with `subscribers` children
// holding its eventfd, asleep or awake.
PublishRun publish_with_subscribers(const Settings& s, int subscribers, bool asleep, std::uint64_t frames) {
  const std::string name = s.tag + "-evpub";
  PublishRun out;
  Segment seg = make_segment(name, true);
  auto w = BroadcastWriter::create(seg, "data", {.slots = 1024, .max_frame = kFrame});
  ControlMap ctl = ControlMap::create(s);
  std::vector<Child> kids;
  for (int i = 0; i < subscribers; ++i)
    kids.push_back(spawn(s, "fd-subscriber", {{"ctl", ctl.name()}, {"socket", "@" + name},
                                              {"mode", asleep ? "asleep" : "awake"},
                                              {"cpu", std::to_string(1 + i)}, {"cpus", std::to_string(s.cpus)}}));
  std::vector<Child*> ptrs;
  for (auto& k : kids) ptrs.push_back(&k);
  await_ready(*ctl, static_cast<std::uint32_t>(subscribers), ptrs);
  const std::vector<std::byte> frame(kFrame, std::byte{7});
  const std::int64_t t0 = now_ns();
  for (std::uint64_t i = 0; i < frames; ++i) w.publish(frame);
  out.ns_per_frame = static_cast<double>(now_ns() - t0) / static_cast<double>(frames);
  out.frames = w.stats().published;
  out.writes = w.stats().wake_calls;
  w.close();
  ctl->stop.store(1);
  futex_store_wake_all(ctl->futex_ping, 1);
  for (auto& k : kids) k.join();
  return out;
}

// Child under strace -c (no -f: only this, the publishing thread): publishes with `subscribers`
// awake subscribers (exec'd, so not traced).
int publish_fd_only(const Args& a) {
  Settings s;
  s.tag = arg(a, "tag");
  s.self = arg(a, "self");
  s.cpus = static_cast<int>(arg_u64(a, "cpus", 1));
  const PublishRun r = publish_with_subscribers(s, static_cast<int>(arg_u64(a, "subscribers")), false,
                                                arg_u64(a, "count"));
  return r.frames == arg_u64(a, "count") && r.writes <= static_cast<std::uint64_t>(arg_u64(a, "subscribers")) ? 0 : 1;
}

long strace_calls(const Settings& s, int subscribers, std::uint64_t frames) {
  const std::string out = "/tmp/" + s.tag + "-strace-fd.txt";
  // The set-up's polling (waiting for the subscribers to get ready and to exit) sleeps, reaps and
  // meets the server thread for as long as scheduling takes, in both runs: those calls are left
  // out. The writer's own count of wake calls (futex wakes included) is checked by the child.
  std::vector<std::string> words{"strace", "-c", "-e", "trace=!clock_nanosleep,nanosleep,restart_syscall,wait4,futex", "-o", out, s.self, "--child", "publish-fd-only",
                                 "count=" + std::to_string(frames), "subscribers=" + std::to_string(subscribers),
                                 "tag=" + s.tag + "-st", "self=" + s.self, "cpus=" + std::to_string(s.cpus)};
  return run_strace(std::move(words), out);
}

}  // namespace

void register_eventfd_roles() {
  register_role("evl-echo", evl_echo);
  register_role("fd-subscriber", fd_subscriber);
  register_role("publish-fd-only", publish_fd_only);
}

void add_eventfd_cases(const Settings& s, Cases& out) {
  if (!backend_available(Backend::memfd)) return;
  for (bool memfd : {true, false}) {
    Result r{.id = std::string("latency/channel/broadcast/epoll-") + (memfd ? "eventfd" : "thread") + "/64",
             .group = "channel", .metric = Metric::latency,
             .label = memfd ? "shmkit broadcast, epoll on the writer's eventfd" : "shmkit broadcast, epoll on the notification thread's fd",
             .size = 64, .readers = 1};
    if (!selected(s, r.id)) continue;
    out.latency.push_back({r, [memfd](const Settings& st, Result&, std::vector<double>& v) {
                             epoll_latency_batch(st, v, memfd);
                           }});
  }
}

void run_eventfd_publish(const Settings& s, Results& out) {
  if (!backend_available(Backend::memfd)) return;
  const std::uint64_t frames = s.quick ? 50'000 : 500'000;
  for (int k : {0, 1, 4}) {
    for (bool asleep : {false, true}) {
      if (k == 0 && asleep) continue;
      Result r{.id = "publish/fd-subscribers/" + std::to_string(k) + (k == 0 ? "" : asleep ? "/asleep" : "/awake"),
               .group = "syscalls", .metric = Metric::time,
               .label = "publish 64 B, " + std::to_string(k) + " eventfd subscribers" +
                        (k == 0 ? "" : asleep ? " asleep in epoll" : " awake"),
               .size = 64, .readers = k};
      if (!selected(s, r.id)) continue;
      std::vector<double> ns;
      std::uint64_t writes = 0, published = 0;
      for (int i = 0; i < s.repeats; ++i) {
        const PublishRun run = publish_with_subscribers(s, k, asleep, frames);
        ns.push_back(run.ns_per_frame);
        writes += run.writes;
        published += run.frames;
      }
      r.latency = summarize(ns);
      r.extra["writes_per_frame"] = static_cast<double>(writes) / static_cast<double>(published);
      r.note = "ns per publish, median of " + std::to_string(ns.size()) + " runs of " + std::to_string(frames) +
               "; " + std::to_string(writes) + " eventfd writes in " + std::to_string(published) + " frames";
      out.add(r);
    }
  }
  for (int k : {0, 1, 4}) {
    Result r{.id = "syscalls/publish/fd-subscribers/" + std::to_string(k) + "/awake", .group = "syscalls",
             .metric = Metric::time,
             .label = "syscalls per publish, " + std::to_string(k) + " eventfd subscribers awake (strace -c)", .size = 64,
             .readers = k};
    if (!selected(s, r.id)) continue;
    const std::uint64_t small = 1000, large = s.quick ? 101'000 : 1'001'000;
    const long a = strace_calls(s, k, small), b = strace_calls(s, k, large);
    if (a < 0 || b < 0) {
      r.skipped = true;
      r.note = "strace not available or not permitted here; see publish/fd-subscribers writes_per_frame";
    } else {
      r.extra["syscalls_per_frame"] = static_cast<double>(b - a) / static_cast<double>(large - small);
      r.note = std::to_string(b - a) + " more syscalls for " + std::to_string(large - small) +
               " more frames (the publishing thread only; nanosleep, restart_syscall, wait4 and futex of the set-up left out, the writer's wake_calls checked instead)";
    }
    out.add(r);
  }
}

}  // namespace shmkit::bench
