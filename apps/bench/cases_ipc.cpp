// Classic IPC, the alternatives a user would reach for instead of shared memory:
//  - pipe, Unix SOCK_STREAM and SOCK_SEQPACKET socket pairs: one-way latency (ping-pong of a
//    64-byte message, half the round trip) and streaming throughput at each frame size;
//  - Boost.Interprocess message_queue: the same, over its shared-memory queue;
//  - futex and eventfd: the bare wake-up of a sleeping process (the floor for blocking waits).
#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "cases.hpp"

namespace shmkit::bench {

namespace bip = boost::interprocess;

namespace {

// ---- fd helpers ----

void write_all(int fd, const std::byte* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("write: ") + std::strerror(errno));
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Reads exactly n bytes (a stream may split a message); false at end of stream.
bool read_exact(int fd, std::byte* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("read: ") + std::strerror(errno));
    }
    if (r == 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

void close_listed(const std::string& list) {
  std::size_t pos = 0;
  while (pos < list.size()) {
    const std::size_t comma = list.find(',', pos);
    ::close(std::stoi(list.substr(pos, comma - pos)));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
}

// "eventfd" and "eventfd-epoll" carry a counter, not bytes of ours.
bool is_eventfd(const std::string& kind) { return kind == "eventfd" || kind == "eventfd-epoll"; }

// "eventfd-epoll": the eventfd ping-pong with each side asleep in epoll_wait (edge-triggered)
// before its read, as an event loop waits: the floor of a channel reader in epoll.
class EpollWait {
 public:
  EpollWait(int fd, bool on) : ep_(on ? ::epoll_create1(EPOLL_CLOEXEC) : -1) {
    if (!on) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    if (ep_ < 0 || ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) throw std::runtime_error("epoll");
  }
  ~EpollWait() {
    if (ep_ >= 0) ::close(ep_);
  }
  EpollWait(const EpollWait&) = delete;
  EpollWait& operator=(const EpollWait&) = delete;
  void wait() const {
    if (ep_ < 0) return;
    epoll_event got{};
    while (::epoll_wait(ep_, &got, 1, -1) < 0)
      if (errno != EINTR) throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
  }

 private:
  int ep_;
};

// Child: echoes `size`-byte messages (byte 0 == 1: the last one) or, as a sink, reads until
// end of stream and reports how many messages and when the last one arrived.
int fd_peer(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  close_listed(arg(a, "close"));
  const int rfd = static_cast<int>(arg_u64(a, "rfd"));
  const int wfd = static_cast<int>(arg_u64(a, "wfd"));
  const std::size_t size = arg_u64(a, "size");
  const bool packets = arg(a, "kind") == "seqpacket";  // one read = one message
  // An eventfd carries a counter, not bytes of ours: its last message is flagged in `stop`.
  const bool counter = is_eventfd(arg(a, "kind"));
  const EpollWait in_epoll(rfd, arg(a, "kind") == "eventfd-epoll");
  std::vector<std::byte> buf(std::max<std::size_t>(size, 8));
  ctl->ready.fetch_add(1);
  if (arg(a, "mode") == "echo") {
    for (;;) {
      in_epoll.wait();
      if (!read_exact(rfd, buf.data(), size)) return 1;
      write_all(wfd, buf.data(), size);
      if (counter ? ctl->stop.load() != 0 : buf[0] == std::byte{1}) return 0;
    }
  }
  std::uint64_t bytes = 0, messages = 0;
  for (;;) {
    const ssize_t r = ::read(rfd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (r == 0) break;
    bytes += static_cast<std::uint64_t>(r);
    ++messages;
  }
  ChildReport& rep = ctl->child[0];
  rep.end_ns.store(now_ns());
  rep.received.store(packets ? messages : bytes / size);
  rep.finished.store(1);
  return 0;
}

struct FdPair {
  int parent_r, parent_w, child_r, child_w;
  std::string child_close;  // the parent's ends, which the child must close (end of stream)
};

FdPair make_fds(const std::string& kind) {
  if (kind == "pipe") {
    int p2c[2], c2p[2];
    if (::pipe(p2c) != 0 || ::pipe(c2p) != 0) throw std::runtime_error("pipe");
    return {c2p[0], p2c[1], p2c[0], c2p[1], std::to_string(p2c[1]) + "," + std::to_string(c2p[0])};
  }
  if (is_eventfd(kind)) {
    const int ping = ::eventfd(0, 0), pong = ::eventfd(0, 0);
    if (ping < 0 || pong < 0) throw std::runtime_error("eventfd");
    return {pong, ping, ping, pong, ""};
  }
  int sv[2];
  const int type = kind == "stream" ? SOCK_STREAM : SOCK_SEQPACKET;
  if (::socketpair(AF_UNIX, type, 0, sv) != 0) throw std::runtime_error("socketpair");
  return {sv[0], sv[0], sv[1], sv[1], std::to_string(sv[0])};
}

void close_fds(const FdPair& f) {
  for (int fd : {f.parent_r, f.parent_w, f.child_r, f.child_w}) ::close(fd);  // dupes fail harmlessly
}

Child spawn_fd_peer(const Settings& s, const ControlMap& ctl, const FdPair& f, const std::string& kind,
                    const std::string& mode, std::uint64_t size) {
  Args a{{"ctl", ctl.name()}, {"rfd", std::to_string(f.child_r)}, {"wfd", std::to_string(f.child_w)},
         {"size", std::to_string(size)}, {"kind", kind}, {"mode", mode},
         {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}};
  if (!f.child_close.empty()) a["close"] = f.child_close;
  return spawn(s, "fd-peer", a);
}

const char* fd_label(const std::string& kind) {
  if (kind == "pipe") return "pipe";
  if (kind == "stream") return "unix SOCK_STREAM";
  if (kind == "seqpacket") return "unix SOCK_SEQPACKET";
  if (kind == "eventfd-epoll") return "eventfd (epoll_wait, then read)";
  return "eventfd (blocking read)";
}

void fd_latency_batch(const Settings& s, const std::string& kind, std::uint64_t size, std::vector<double>& samples) {
  ControlMap ctl = ControlMap::create(s);
  FdPair f = make_fds(kind);
  Child child = spawn_fd_peer(s, ctl, f, kind, "echo", size);
  await_ready(*ctl, 1, {&child});
  std::vector<std::byte> buf(size);
  const bool counter = is_eventfd(kind);
  if (counter) {
    // An eventfd message is a counter increment: the reader wakes and reads the sum.
    std::uint64_t one = 1;
    std::memcpy(buf.data(), &one, 8);
  }
  const EpollWait in_epoll(f.parent_r, kind == "eventfd-epoll");
  sample_batch(s, samples, [&] {
    write_all(f.parent_w, buf.data(), size);
    in_epoll.wait();
    if (!read_exact(f.parent_r, buf.data(), size)) throw std::runtime_error("peer closed");
  });
  // The last round trip tells the echo to stop.
  if (counter)
    ctl->stop.store(1);
  else
    buf[0] = std::byte{1};
  write_all(f.parent_w, buf.data(), size);
  (void)read_exact(f.parent_r, buf.data(), size);
  child.join();
  close_fds(f);
}

Repeat fd_repeat(const Settings& s, const std::string& kind, std::uint64_t size) {
  std::vector<std::byte> buf(size, std::byte{0x42});
  ControlMap ctl = ControlMap::create(s);
  FdPair f = make_fds(kind);
  Child child = spawn_fd_peer(s, ctl, f, kind, "sink", size);
  ::close(f.child_r);
  if (f.child_w != f.child_r) ::close(f.child_w);
  await_ready(*ctl, 1, {&child});
  const std::int64_t t0 = now_ns();
  const std::int64_t end = t0 + static_cast<std::int64_t>(s.repeat_seconds * 1e9);
  std::uint64_t sent = 0;
  do {
    write_all(f.parent_w, buf.data(), size);
    ++sent;
  } while ((sent & 15) != 0 || now_ns() < end);
  ::close(f.parent_w);
  if (f.parent_r != f.parent_w) ::close(f.parent_r);
  child.join();
  const auto& c = ctl->child[0];
  return {c.received.load(), sent - std::min(sent, c.received.load()), static_cast<double>(c.end_ns.load() - t0) / 1e9};
}

// ---- Boost.Interprocess message_queue ----

std::size_t mq_capacity(std::uint64_t size) {
  return static_cast<std::size_t>(std::clamp<std::uint64_t>(kRingBudget / size, 8, 1u << 17));
}

int mq_peer(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  const std::size_t size = arg_u64(a, "size");
  bip::message_queue in(bip::open_only, arg(a, "in").c_str());
  std::vector<std::byte> buf(size);
  std::size_t got = 0;
  unsigned prio = 0;
  ctl->ready.fetch_add(1);
  if (arg(a, "mode") == "echo") {
    bip::message_queue back(bip::open_only, arg(a, "out").c_str());
    for (;;) {
      in.receive(buf.data(), size, got, prio);
      back.send(buf.data(), got, 0);
      if (buf[0] == std::byte{1}) return 0;
    }
  }
  std::uint64_t n = 0;
  for (;;) {
    in.receive(buf.data(), size, got, prio);
    if (got == 0) break;  // the writer's end marker
    ++n;
  }
  ChildReport& rep = ctl->child[0];
  rep.end_ns.store(now_ns());
  rep.received.store(n);
  rep.finished.store(1);
  return 0;
}

void mq_latency_batch(const Settings& s, Result&, std::vector<double>& samples) {
  const std::string ping = s.tag + "-mq-ping", pong = s.tag + "-mq-pong";
  bip::message_queue::remove(ping.c_str());
  bip::message_queue::remove(pong.c_str());
  {
    bip::message_queue qping(bip::create_only, ping.c_str(), 16, 64);
    bip::message_queue qpong(bip::create_only, pong.c_str(), 16, 64);
    ControlMap ctl = ControlMap::create(s);
    Child child = spawn(s, "mq-peer", {{"ctl", ctl.name()}, {"in", ping}, {"out", pong}, {"size", "64"},
                                       {"mode", "echo"}, {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}});
    await_ready(*ctl, 1, {&child});
    std::vector<std::byte> buf(64);
    std::size_t got = 0;
    unsigned prio = 0;
    sample_batch(s, samples, [&] {
      qping.send(buf.data(), 64, 0);
      qpong.receive(buf.data(), 64, got, prio);
    });
    buf[0] = std::byte{1};
    qping.send(buf.data(), 64, 0);
    qpong.receive(buf.data(), 64, got, prio);
    child.join();
  }
  bip::message_queue::remove(ping.c_str());
  bip::message_queue::remove(pong.c_str());
}

Repeat mq_repeat(const Settings& s, const Result& r) {
  const std::uint64_t size = r.size;
  const std::string name = s.tag + "-mq";
  std::vector<std::byte> buf(size, std::byte{0x42});
  bip::message_queue::remove(name.c_str());
  Repeat out;
  {
    bip::message_queue q(bip::create_only, name.c_str(), mq_capacity(size), size);
    ControlMap ctl = ControlMap::create(s);
    Child child = spawn(s, "mq-peer", {{"ctl", ctl.name()}, {"in", name}, {"size", std::to_string(size)},
                                       {"mode", "sink"}, {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}});
    await_ready(*ctl, 1, {&child});
    const std::int64_t t0 = now_ns();
    const std::int64_t end = t0 + static_cast<std::int64_t>(s.repeat_seconds * 1e9);
    std::uint64_t sent = 0;
    do {
      q.send(buf.data(), size, 0);
      ++sent;
    } while ((sent & 15) != 0 || now_ns() < end);
    q.send(buf.data(), 0, 0);
    child.join();
    const auto& c = ctl->child[0];
    out = {c.received.load(), sent - std::min(sent, c.received.load()), static_cast<double>(c.end_ns.load() - t0) / 1e9};
  }
  bip::message_queue::remove(name.c_str());
  return out;
}

// ---- futex ----

// Child: sleeps on futex_ping; when it changes, copies the value to futex_pong and wakes.
int futex_peer(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  std::uint32_t seen = 0;
  ctl->ready.fetch_add(1);
  for (;;) {
    futex_wait_change(ctl->futex_ping, seen);
    seen = ctl->futex_ping.load(std::memory_order_acquire);
    ctl->futex_pong.store(seen, std::memory_order_release);
    futex(ctl->futex_pong, FUTEX_WAKE, 1);
    if (seen == ~std::uint32_t{0}) return 0;
  }
}

void futex_batch(const Settings& s, Result&, std::vector<double>& samples) {
  ControlMap ctl = ControlMap::create(s);
  Child child = spawn(s, "futex-peer", {{"ctl", ctl.name()}, {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}});
  await_ready(*ctl, 1, {&child});
  std::uint32_t v = 0;
  sample_batch(s, samples, [&] {
    const std::uint32_t prev = v++;
    ctl->futex_ping.store(v, std::memory_order_release);
    futex(ctl->futex_ping, FUTEX_WAKE, 1);
    futex_wait_change(ctl->futex_pong, prev);
  });
  ctl->futex_ping.store(~std::uint32_t{0});
  futex(ctl->futex_ping, FUTEX_WAKE, 1);
  child.join();
}

}  // namespace

void register_ipc_roles() {
  register_role("fd-peer", fd_peer);
  register_role("mq-peer", mq_peer);
  register_role("futex-peer", futex_peer);
}

void add_ipc_cases(const Settings& s, Cases& out) {
  Result futex_r{.id = "latency/ipc/futex", .group = "ipc", .metric = Metric::latency,
                 .label = "futex wake-up (sleeping peer)", .size = 4};
  if (selected(s, futex_r.id)) out.latency.push_back({futex_r, futex_batch});
  for (std::string kind : {"eventfd", "eventfd-epoll", "pipe", "stream", "seqpacket"}) {
    const std::uint64_t size = is_eventfd(kind) ? 8 : 64;
    Result r{.id = "latency/ipc/" + kind, .group = "ipc", .metric = Metric::latency, .label = fd_label(kind),
             .size = size};
    if (selected(s, r.id))
      out.latency.push_back({r, [kind, size](const Settings& st, Result&, std::vector<double>& v) {
                               fd_latency_batch(st, kind, size, v);
                             }});
  }
  Result mq{.id = "latency/ipc/mq", .group = "ipc", .metric = Metric::latency, .label = "Boost message_queue",
            .size = 64};
  if (selected(s, mq.id)) out.latency.push_back({mq, mq_latency_batch});

  for (std::uint64_t size : kFrameSizes) {
    for (std::string kind : {"pipe", "stream", "seqpacket"}) {
      Result r{.id = "throughput/ipc/" + kind + "/" + size_name(size), .group = "ipc", .metric = Metric::throughput,
               .label = fd_label(kind), .size = size, .readers = 1, .lossless = true};
      if (!selected(s, r.id)) continue;
      if (kind == "seqpacket" && size > 65536) {
        // A SEQPACKET message must fit the socket buffer (net.core.wmem_max, ~200 KiB by default).
        r.skipped = true;
        r.note = "message larger than the socket buffer";
        out.skipped.push_back(r);
        continue;
      }
      out.stream.push_back({r, [kind, size](const Settings& st, Result&) { return fd_repeat(st, kind, size); }});
    }
    Result r{.id = "throughput/ipc/mq/" + size_name(size), .group = "ipc", .metric = Metric::throughput,
             .label = "Boost message_queue", .size = size, .readers = 1, .lossless = true};
    if (selected(s, r.id)) out.stream.push_back({r, mq_repeat});
  }
}

}  // namespace shmkit::bench
