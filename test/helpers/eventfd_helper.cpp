// Child process for the writer-owned eventfd tests (memfd segments). Usage:
//   shmkit-test-eventfd-helper writer <socket> <segment> <frames> <close|idle>
//   shmkit-test-eventfd-helper epoll <socket> <q|b> <index> <et|lt> [stall-after] [nomb]
//   shmkit-test-eventfd-helper asio <socket> <index>
// The writer creates the segment (so its process serves it and owns the channels' eventfds), an
// EventFdTestControl "control", a queue "q" and a broadcast channel "b", waits for `go`, and
// publishes <frames> frames on each. Readers attach over the socket, drive their loop by the
// writer's eventfd alone, and report through control.child[index]. Exit codes:
// channel_test_types.hpp (kExit*).
#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "eventfd_test_types.hpp"
#include "shmkit/memfd_handle.hpp"
#include "shmkit/shmkit.hpp"

using namespace shmkit;
using namespace shmkit::test;

namespace {

std::int64_t now_ns() { return detail::steady_now_ns(); }

// Threads of this process: the proof that no notification thread runs here.
std::uint32_t task_count() {
  std::uint32_t n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

// Polls a flag the test sets (a child has no other way to be told); bounded.
bool await_flag(const std::atomic<std::uint32_t>& flag, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (flag.load(std::memory_order_acquire) == 0) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

int writer(const std::vector<std::string>& a) {
  if (a.size() < 5) return kExitUsage;
  SegmentOptions o;
  o.backend = Backend::memfd;
  o.socket_path = a[1];
  Segment seg = Segment::create(a[2], 16 << 20, o);
  auto& control = seg.construct<EventFdTestControl>("control");
  const std::uint64_t frames = std::strtoull(a[3].c_str(), nullptr, 10);
  const bool idle = a[4] == "idle";
  ChannelConfig qc;
  qc.slots = 1024;
  qc.max_frame = kEventFdMaxFrame;
  auto q = QueueWriter::create(seg, "q", qc);
  ChannelConfig bc;
  bc.slots = 256;  // small: a reader that falls behind loses frames, and counts them
  bc.max_frame = kEventFdMaxFrame;
  auto b = BroadcastWriter::create(seg, "b", bc);
  control.created.store(1, std::memory_order_release);
  if (!await_flag(control.go)) return kExitUnexpected;
  std::vector<std::byte> buf(kEventFdMaxFrame);
  for (std::uint64_t i = 0; i < frames; ++i) {
    const std::size_t n = fill_payload(i, buf);
    if (!q.publish(std::span(buf.data(), n), std::chrono::seconds(30))) return kExitUnexpected;
    b.publish(std::span(buf.data(), n));
  }
  control.writer_wake_calls.store(q.stats().wake_calls + b.stats().wake_calls);
  control.writer_done_ns.store(now_ns());
  if (idle) {
    control.writer_done.store(1, std::memory_order_release);
    for (;;) {  // until killed: readers see the heartbeat, and then the hang-up
      q.heartbeat();
      b.heartbeat();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  q.close();
  b.close();
  control.writer_done.store(1, std::memory_order_release);
  // The segment (and the readers' control connections) stay until the test is done reading.
  return await_flag(control.stop, std::chrono::seconds(120)) ? kExitOk : kExitUnexpected;
}

// One reader's bookkeeping: every frame checked, sequences in order (gaps only as reported loss).
struct Tally {
  std::uint64_t next = 0, delivered = 0, lost = 0, mismatched = 0, out_of_order = 0;
  void frame(const ReadResult& r, std::size_t max_frame) {
    lost += r.lost;
    next += r.lost;
    if (r.frame.sequence != next) ++out_of_order;
    next = r.frame.sequence + 1;
    if (!payload_matches(r.frame.sequence, r.data, max_frame)) ++mismatched;
    ++delivered;
  }
  void report(ChildReport& c, Errc status, std::uint32_t threads) const {
    c.delivered.store(delivered);
    c.lost.store(lost);
    c.mismatched.store(mismatched);
    c.out_of_order.store(out_of_order);
    c.position.store(threads);
    c.status.store(static_cast<std::int32_t>(status));
    c.done.store(1, std::memory_order_release);
  }
};

// The event loop: epoll on the reader's notification fd and its writer_hangup_fd, nothing else.
template <class Reader>
int epoll_loop(Segment& seg, Reader& reader, EventFdTestControl& control, int index, bool edge, std::uint64_t stall_after) {
  ChildReport& r = control.child[index];
  const int fd = reader.notification_fd();
  const int hup = reader.writer_hangup_fd();
  if (reader.notification_uses_thread() || hup < 0) return kExitUnexpected;
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | (edge ? EPOLLET : 0u);
  ev.data.u32 = 0;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  ev.events = EPOLLRDHUP;
  ev.data.u32 = 1;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, hup, &ev);
  std::uint32_t threads = task_count();
  r.ready.store(1, std::memory_order_release);
  std::vector<std::byte> buf(reader.max_frame());
  Tally t;
  Errc status = Errc::timeout;
  std::uint64_t wakeups = 0, empty_wakeups = 0;
  for (;;) {
    epoll_event got[2];
    const int n = ::epoll_wait(ep, got, 2, 30'000);
    if (n <= 0) break;  // 30 s without an event: reported as timeout
    bool hung_up = false;
    for (int i = 0; i < n; ++i) hung_up |= got[i].data.u32 == 1;
    ++wakeups;
    reader.clear_notification();
    bool any = false;
    ReadResult res;
    while ((res = reader.try_read(buf))) {
      any = true;
      t.frame(res, reader.max_frame());
      if (stall_after != 0 && t.delivered == stall_after) {
        // Stop draining (the fd stays unarmed): the others and the writer must not notice.
        r.ready.store(2, std::memory_order_release);
        if (!await_flag(control.stop, std::chrono::seconds(120))) return kExitUnexpected;
        std::uint64_t pending = 0;  // writes the writer made to our fd meanwhile
        if (::read(fd, &pending, sizeof pending) != sizeof pending) pending = 0;
        r.sleeps.store(pending);
        t.report(r, Errc::ok, std::max(threads, task_count()));
        return kExitOk;
      }
    }
    empty_wakeups += any ? 0 : 1;
    if (res.status != Errc::timeout || hung_up) {
      // The hang-up, or an empty try_read that found the connection hung up and the writer dead.
      status = res.status != Errc::timeout ? res.status : Errc::peer_gone;
      if (status == Errc::peer_gone) r.event_ns.store(now_ns());
      break;
    }
    r.delivered.store(t.delivered, std::memory_order_relaxed);  // progress, for the test to wait on
    if (wakeups % 4096 == 0) threads = std::max(threads, task_count());
  }
  r.sleeps.store(wakeups);
  r.heavy_fences.store(empty_wakeups);
  // Once the writer closed, the reader may start a thread to follow a later writer.
  t.report(r, status, status == Errc::closed ? threads : std::max(threads, task_count()));
  ::close(ep);
  (void)seg;
  return t.mismatched == 0 && t.out_of_order == 0 ? kExitOk : kExitMismatch;
}

Segment attach(const std::string& socket) { return attach_memfd(socket); }

// A sandbox that refuses membarrier() with EPERM (as a container's seccomp profile may): this
// reader cannot issue the heavy fence a light-fenced writer relies on.
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

int epoll_reader(const std::vector<std::string>& a) {
  if (a.size() < 5) return kExitUsage;
  Segment seg = attach(a[1]);
  auto* control = seg.find<EventFdTestControl>("control");
  if (control == nullptr) return kExitUsage;
  const int index = std::atoi(a[3].c_str());
  const bool edge = a[4] == "et";
  const std::uint64_t stall_after = a.size() > 5 ? std::strtoull(a[5].c_str(), nullptr, 10) : 0;
  if (a.size() > 6 && a[6] == "nomb" && !forbid_membarrier()) return kExitError;
  if (a[2] == "q") {
    QueueReader reader(seg, "q");
    return epoll_loop(seg, reader, *control, index, edge, stall_after);
  }
  BroadcastReader reader(seg, "b", {.start = StartAt::oldest});
  return epoll_loop(seg, reader, *control, index, edge, stall_after);
}

// Boost.Asio: one io_context with the notification fd and the hang-up fd, no other thread.
int asio_reader(const std::vector<std::string>& a) {
  if (a.size() < 3) return kExitUsage;
  Segment seg = attach(a[1]);
  auto* control = seg.find<EventFdTestControl>("control");
  if (control == nullptr) return kExitUsage;
  const int index = std::atoi(a[2].c_str());
  ChildReport& r = control->child[index];
  BroadcastReader reader(seg, "b", {.start = StartAt::oldest});
  boost::asio::io_context io;
  boost::asio::posix::stream_descriptor events(io, reader.notification_fd());
  boost::asio::posix::stream_descriptor hangup(io, reader.writer_hangup_fd());
  if (reader.notification_uses_thread()) return kExitUnexpected;
  std::vector<std::byte> buf(reader.max_frame());
  Tally t;
  Errc status = Errc::timeout;
  std::uint32_t threads = task_count();
  std::uint64_t wakeups = 0;
  std::function<void(const boost::system::error_code&)> on_event = [&](const boost::system::error_code& ec) {
    if (ec) return;
    ++wakeups;
    reader.clear_notification();
    ReadResult res;
    while ((res = reader.try_read(buf))) t.frame(res, reader.max_frame());
    r.delivered.store(t.delivered, std::memory_order_relaxed);
    if (res.status != Errc::timeout) {
      status = res.status;
      if (status == Errc::peer_gone) r.event_ns.store(now_ns());
      io.stop();
      return;
    }
    events.async_wait(boost::asio::posix::stream_descriptor::wait_read, on_event);
  };
  events.async_wait(boost::asio::posix::stream_descriptor::wait_read, on_event);
  // The server sends nothing after EVENT_FD: the connection turns readable only at its EOF.
  hangup.async_wait(boost::asio::posix::stream_descriptor::wait_read, [&](const boost::system::error_code& ec) {
    if (ec) return;
    r.event_ns.store(now_ns());
    status = Errc::peer_gone;
    io.stop();
  });
  r.ready.store(1, std::memory_order_release);
  io.run();
  if (status != Errc::closed) threads = std::max(threads, task_count());  // after a close: see above
  r.sleeps.store(wakeups);
  (void)events.release();  // the reader owns its fds
  (void)hangup.release();
  t.report(r, status, threads);
  return t.mismatched == 0 && t.out_of_order == 0 ? kExitOk : kExitMismatch;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.empty()) return kExitUsage;
  try {
    if (a[0] == "writer") return writer(a);
    if (a[0] == "epoll") return epoll_reader(a);
    if (a[0] == "asio") return asio_reader(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eventfd helper %s: %s\n", a[0].c_str(), e.what());
    return kExitError;
  }
  return kExitUsage;
}
