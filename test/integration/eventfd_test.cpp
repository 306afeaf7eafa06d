// Writer-owned eventfds (memfd segments): readers in other processes get the channel writer's
// eventfd over the control socket and drive epoll / Boost.Asio loops with no thread of their own;
// the writer's kill -9 reaches them as a hang-up of their control connection; a reader that stops
// draining costs nobody anything; hostile FD_REQUESTs are refused and change nothing; fork.
#define BOOST_TEST_MODULE eventfd
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../helpers/eventfd_test_types.hpp"
#include "child_process.hpp"
#include "control_client.hpp"
#include "control_protocol.hpp"
#include "asymmetric_fence.hpp"
#include "segment_header.hpp"
#include "shmkit/detail/channel_layout.hpp"
#include "shmkit/memfd_handle.hpp"
#include "shmkit/shmkit.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace ctl = shmkit::detail::control;
using shmkit::detail::UniqueFd;

namespace {

constexpr std::uint64_t kMillion = 1'000'000;

// Waits for a flag a child stores in shared memory, sleeping between looks: children need the
// two cores more than this process does. The timeout only guards against a hang.
template <class Pred>
bool await_slow(Pred pred, std::chrono::milliseconds timeout = 120s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::string helper() { return helper_path("shmkit-test-eventfd-helper"); }

// The writer's process and our own attachment to its segment (to read the control block).
struct WriterRun {
  std::string socket = "@" + unique_name("shmkit-evt");
  std::string name = unique_name("shmkit-evt");
  ChildProcess writer;
  std::optional<Segment> seg;
  EventFdTestControl* control = nullptr;

  WriterRun(std::uint64_t frames, const char* end) : writer(helper(), {"writer", socket, name, std::to_string(frames), end}) {
    BOOST_REQUIRE(await_slow([&] {
      try {
        seg.emplace(attach_memfd(socket));
        return true;
      } catch (const Error&) {
        return false;
      }
    }));
    BOOST_REQUIRE(await_slow([&] {
      control = seg->find<EventFdTestControl>("control");
      return control != nullptr && control->created.load() == 1;
    }));
  }
  ChildProcess reader(std::vector<std::string> args) {
    args.insert(args.begin() + 1, socket);
    return ChildProcess(helper(), args);
  }
  ChildReport& report(int i) { return control->child[i]; }
};

std::int64_t now_ns() { return detail::steady_now_ns(); }

}  // namespace

BOOST_AUTO_TEST_CASE(a_million_frames_to_epoll_and_asio_readers_with_no_thread) {
  WriterRun run(kMillion, "close");
  std::vector<ChildProcess> readers;
  readers.push_back(run.reader({"epoll", "q", "0", "et"}));      // the queue: nothing may be missed
  readers.push_back(run.reader({"epoll", "b", "1", "lt"}));      // broadcast, level-triggered
  readers.push_back(run.reader({"epoll", "b", "2", "et"}));      // broadcast, EPOLLET
  readers.push_back(run.reader({"asio", "3"}));                  // broadcast, Boost.Asio
  readers.push_back(run.reader({"epoll", "b", "4", "lt", "10"}));  // stops draining after 10 frames
  BOOST_REQUIRE(await_slow([&] {
    for (int i = 0; i < 5; ++i)
      if (run.report(i).ready.load() == 0) return false;
    return true;
  }));
#ifdef SHMKIT_ASIO_EXAMPLE
  // examples/asio_reader.cpp as one more reader: it reports on stdout. It reads from the oldest
  // frame in the ring, so it may start before `go` without missing the first frames uncounted.
  const std::string example_out = "/tmp/" + unique_name("shmkit-evt-asio") + ".out";
  ChildProcess example(SHMKIT_ASIO_EXAMPLE, {run.socket, "b"}, example_out);
  // It says when it holds the writer's eventfd and is about to run its io_context.
  BOOST_REQUIRE(await_slow([&] {
    std::ifstream in(example_out);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.find("reading channel") != std::string::npos;
  }));
#endif
  const std::int64_t t0 = now_ns();
  run.control->go.store(1);
  BOOST_REQUIRE(await_slow([&] { return run.control->writer_done.load() == 1; }));
  BOOST_TEST_MESSAGE("writer published 1,000,000 frames on each channel in "
                     << (run.control->writer_done_ns.load() - t0) / 1'000'000 << " ms with "
                     << run.control->writer_wake_calls.load() << " wake calls");
  for (int i = 0; i < 4; ++i) {
    const auto st = readers[static_cast<std::size_t>(i)].wait(120s);
    BOOST_TEST(st.ok(), "reader " << i << ": " << st.describe());
    ChildReport& r = run.report(i);
    BOOST_TEST(r.status.load() == static_cast<int>(Errc::closed), "reader " << i);
    BOOST_TEST(r.mismatched.load() == 0u, "reader " << i);
    BOOST_TEST(r.out_of_order.load() == 0u, "reader " << i);
    BOOST_TEST(r.position.load() == 1u, "reader " << i << " had " << r.position.load() << " threads");
    BOOST_TEST(r.delivered.load() + r.lost.load() == kMillion, "reader " << i);
    BOOST_TEST_MESSAGE("reader " << i << ": delivered " << r.delivered.load() << ", lost " << r.lost.load() << ", "
                                 << r.sleeps.load() << " wake-ups (" << r.heavy_fences.load() << " empty)");
  }
  BOOST_TEST(run.report(0).delivered.load() == kMillion);  // the queue
  BOOST_TEST(run.report(0).lost.load() == 0u);
  // The stalled reader: stuck after its 10 frames, never re-armed, so the writer wrote its fd
  // at most once (a wake-up already on its way when it stopped) in a million frames.
  BOOST_REQUIRE(run.report(4).ready.load() == 2u);
  run.control->stop.store(1);
  const auto stalled = readers[4].wait(60s);
  BOOST_TEST(stalled.ok(), stalled.describe());
  BOOST_TEST(run.report(4).delivered.load() == 10u);
  BOOST_TEST(run.report(4).sleeps.load() <= 1u);
  BOOST_TEST(run.report(4).position.load() == 1u);
  const auto w = run.writer.wait(60s);
  BOOST_TEST(w.ok(), w.describe());
#ifdef SHMKIT_ASIO_EXAMPLE
  const auto ex = example.wait(60s);
  BOOST_TEST(ex.ok(), ex.describe());
  std::ifstream in(example_out);
  const std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(example_out.c_str());
  BOOST_TEST_MESSAGE("examples/asio_reader: " << line);
  BOOST_TEST(line.find("writer closed the channel") != std::string::npos, line);
  BOOST_TEST(line.find("threads 1,") != std::string::npos, line);
  BOOST_TEST(line.find("notification writer's eventfd") != std::string::npos, line);
  unsigned long long delivered = 0, lost = 0;
  const auto at = line.find("delivered ");
  BOOST_REQUIRE(at != std::string::npos);
  BOOST_REQUIRE(std::sscanf(line.c_str() + at, "delivered %llu, lost %llu", &delivered, &lost) == 2);
  BOOST_TEST(delivered + lost == kMillion);
#endif
}

BOOST_AUTO_TEST_CASE(killed_writer_is_seen_by_every_reader_within_a_second) {
  WriterRun run(100, "idle");
  std::vector<ChildProcess> readers;
  readers.push_back(run.reader({"epoll", "q", "0", "et"}));
  readers.push_back(run.reader({"epoll", "b", "1", "lt"}));
  readers.push_back(run.reader({"epoll", "b", "2", "et"}));
  readers.push_back(run.reader({"asio", "3"}));
  BOOST_REQUIRE(await_slow([&] {
    for (int i = 0; i < 4; ++i)
      if (run.report(i).ready.load() == 0) return false;
    return true;
  }));
  run.control->go.store(1);
  // Every reader drained the 100 frames and sleeps in its loop.
  BOOST_REQUIRE(await_slow([&] {
    for (int i = 0; i < 4; ++i)
      if (run.report(i).delivered.load() != 100) return false;
    return run.control->writer_done.load() == 1;
  }));
  // Our own mapping outlives the writer (memory lives until the last unmap): reports stay readable.
  const std::int64_t t0 = now_ns();
  run.writer.kill(SIGKILL);
  BOOST_REQUIRE_EQUAL(run.writer.wait().signal, SIGKILL);
  for (int i = 0; i < 4; ++i) {
    const auto st = readers[static_cast<std::size_t>(i)].wait(30s);
    BOOST_TEST(st.ok(), "reader " << i << ": " << st.describe());
    ChildReport& r = run.report(i);
    BOOST_TEST(r.status.load() == static_cast<int>(Errc::peer_gone), "reader " << i);
    BOOST_TEST(r.position.load() == 1u, "reader " << i << " had " << r.position.load() << " threads");
    const std::int64_t after = r.event_ns.load() - t0;
    BOOST_TEST(after < 1'000'000'000, "reader " << i << " noticed after " << after / 1000 << " us");
    BOOST_TEST_MESSAGE("reader " << i << " saw the writer's hang-up " << after / 1000 << " us after kill -9");
  }
}

BOOST_AUTO_TEST_CASE(readers_that_cannot_issue_the_heavy_fence_turn_the_writer_to_full_fences_and_miss_nothing) {
  WriterRun run(200'000, "close");
  std::vector<ChildProcess> readers;
  readers.push_back(run.reader({"epoll", "q", "0", "et", "0", "nomb"}));
  readers.push_back(run.reader({"epoll", "b", "1", "lt", "0", "nomb"}));
  BOOST_REQUIRE(await_slow([&] { return run.report(0).ready.load() != 0 && run.report(1).ready.load() != 0; }));
  run.control->go.store(1);
  for (int i = 0; i < 2; ++i) {
    const auto st = readers[static_cast<std::size_t>(i)].wait(120s);
    BOOST_TEST(st.ok(), "reader " << i << ": " << st.describe());
    ChildReport& r = run.report(i);
    BOOST_TEST(r.status.load() == static_cast<int>(Errc::closed), "reader " << i);
    BOOST_TEST(r.mismatched.load() == 0u);
    BOOST_TEST(r.out_of_order.load() == 0u);
    BOOST_TEST(r.delivered.load() + r.lost.load() == 200'000u, "reader " << i);
  }
  BOOST_TEST(run.report(0).delivered.load() == 200'000u);
  // A reader that could not fence demanded full fences for good (when the writer used light ones).
  auto* h = static_cast<detail::ChannelHeader*>(static_cast<void*>(run.seg->find_array<detail::QueueStorage>("q").first));
  if (detail::enable_light_fences()) BOOST_TEST(h->wait.full_fences.load() == detail::kFencesRequired);
  run.control->stop.store(1);
  const auto w = run.writer.wait(60s);
  BOOST_TEST(w.ok(), w.describe());
}

namespace {

// A segment this process serves (so it is the writer's process), with broadcast channel "b".
struct Served {
  std::string socket = "@" + unique_name("shmkit-evs");
  Segment seg;
  BroadcastWriter writer;
  Served()
      : seg(Segment::create(unique_name("shmkit-evs"), 1 << 20, [this] {
          SegmentOptions o;
          o.backend = Backend::memfd;
          o.socket_path = socket;
          return o;
        }())),
        writer(BroadcastWriter::create(seg, "b", [] {
          ChannelConfig c;
          c.slots = 16;
          c.max_frame = 64;
          return c;
        }())) {}
  detail::EventFdGrant request(const std::string& channel = "b") {
    return detail::request_event_fd(socket, channel, detail::deadline_after(5s));
  }
  std::atomic<std::uint32_t>& subscribers() {
    auto* h = static_cast<detail::ChannelHeader*>(static_cast<void*>(seg.find_array<detail::BroadcastStorage>("b").first));
    return h->wait.fd_subscribers;
  }
  void publish() {
    const std::array<std::byte, 8> f{};
    writer.publish(f);
  }
};

struct Grant {
  UniqueFd event_fd, connection;
  std::uint32_t slot;
  explicit Grant(detail::EventFdGrant g) : event_fd(g.event_fd), connection(g.connection), slot(g.slot) {}
};

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}
void drain(int fd) {
  std::uint64_t v;
  (void)::read(fd, &v, sizeof v);
}

UniqueFd raw_connect(const std::string& path) {
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  const auto a = ctl::socket_address(path);
  BOOST_REQUIRE(::connect(s.get(), reinterpret_cast<const sockaddr*>(&a.address), a.length) == 0);
  return s;
}

// Sends `bytes` (with `fds`) as a first packet and returns the REFUSE it gets.
ctl::Refuse refused(const std::string& path, const std::vector<std::byte>& bytes, std::span<const int> fds = {}) {
  UniqueFd c = raw_connect(path);
  ctl::send_packet(c.get(), bytes, fds);
  std::array<std::byte, ctl::kReceiveBufferSize> buf{};
  ctl::ReceivedPacket p;
  pollfd pf{c.get(), POLLIN, 0};
  BOOST_REQUIRE(::poll(&pf, 1, 5000) == 1);
  BOOST_REQUIRE(ctl::receive_packet(c.get(), buf, p) == ctl::ReceiveStatus::packet);
  BOOST_REQUIRE(p.fds.empty());
  const auto d = ctl::decode_event_reply(std::span(buf.data(), p.size));
  BOOST_REQUIRE(std::holds_alternative<ctl::Refuse>(d));
  return std::get<ctl::Refuse>(d);
}

}  // namespace

BOOST_AUTO_TEST_CASE(writer_writes_only_armed_subscribers_fds_once_per_wake_up) {
  Served s;
  Grant a(s.request()), b(s.request());
  BOOST_TEST(a.slot != b.slot);
  BOOST_TEST(!readable(a.event_fd.get()));
  s.publish();  // nobody armed: no write (0 system calls)
  BOOST_TEST(s.writer.stats().wake_calls == 0u);
  BOOST_TEST(!readable(a.event_fd.get()));
  s.subscribers().fetch_or(1u << a.slot);
  BOOST_TEST(channel_status(s.seg, "b").fd_sleepers == 1u);
  s.publish();
  BOOST_TEST(channel_status(s.seg, "b").fd_sleepers == 0u);
  s.publish();  // disarmed by the first: one write per wake-up, not per frame
  BOOST_TEST(s.writer.stats().wake_calls == 1u);
  BOOST_TEST(readable(a.event_fd.get()));
  BOOST_TEST(!readable(b.event_fd.get()));
  BOOST_TEST(s.subscribers().load() == 0u);
  drain(a.event_fd.get());
  // Closing wakes every subscriber, armed or not.
  s.writer.close();
  BOOST_TEST(readable(a.event_fd.get()));
  BOOST_TEST(readable(b.event_fd.get()));
}

BOOST_AUTO_TEST_CASE(hostile_fd_requests_are_refused_and_change_nothing_for_others) {
  Served s;
  Grant good(s.request());
  const auto request = ctl::encode_fd_request("b");
  auto bad = request;
  bad.pop_back();  // its length disagrees with its name length
  BOOST_TEST((refused(s.socket, bad).code == ctl::RefuseCode::malformed));
  bad = request;
  bad[12] = std::byte{7};  // reserved bytes
  BOOST_TEST((refused(s.socket, bad).code == ctl::RefuseCode::malformed));
  BOOST_TEST((refused(s.socket, ctl::encode_fd_request("b", 1)).code == ctl::RefuseCode::malformed));
  BOOST_TEST((refused(s.socket, ctl::encode_fd_request("b", 9)).code == ctl::RefuseCode::unsupported_version));
  BOOST_TEST((refused(s.socket, ctl::encode_fd_request("nope")).code == ctl::RefuseCode::no_such_channel));
  {  // passing fds of its own: refused, and ours are closed by the server
    UniqueFd mine(::eventfd(0, EFD_CLOEXEC));
    const int fds[2] = {mine.get(), good.event_fd.get()};
    BOOST_TEST((refused(s.socket, request, fds).code == ctl::RefuseCode::malformed));
  }
  // The well-behaved subscriber still gets its wake-ups, on its own slot.
  s.subscribers().fetch_or(1u << good.slot);
  s.publish();
  BOOST_TEST(readable(good.event_fd.get()));
  // Slots run out after 32 subscribers; the refusal says so and frees nothing.
  std::vector<Grant> more;
  for (std::uint32_t i = 1; i < ctl::kEventSlots; ++i) more.emplace_back(s.request());
  BOOST_TEST((refused(s.socket, request).code == ctl::RefuseCode::no_event_slot));
  BOOST_CHECK_THROW(s.request(), Error);
  // A subscriber that leaves frees its slot for the next.
  const std::uint32_t freed = more.back().slot;
  more.pop_back();
  BOOST_TEST(await_slow([&] {
    try {
      Grant g(s.request());
      return g.slot == freed;
    } catch (const Error&) {
      return false;
    }
  }, 10s));
}

BOOST_AUTO_TEST_CASE(a_forked_child_leaving_changes_nothing_for_its_parents_subscription) {
  Served s;
  Grant g(s.request());
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);  // closes its inherited copies of the eventfd and the connection
  int status = 0;
  BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
  // The server still counts our connection (the parent holds it): the slot stays ours.
  Grant other(s.request());
  BOOST_TEST(other.slot != g.slot);
  s.subscribers().fetch_or(1u << g.slot);
  s.publish();
  BOOST_TEST(readable(g.event_fd.get()));
}

BOOST_AUTO_TEST_CASE(version_2_hello_is_accepted_in_version_2_and_a_chatty_subscriber_loses_its_slot) {
  Served s;
  {  // HELLO and ACCEPT are the same in version 2: the ACCEPT carries the HELLO's version.
    UniqueFd c = raw_connect(s.socket);
    ctl::Hello h;
    h.version = 2;
    h.format_version = detail::kFormatVersion;
    ctl::send_packet(c.get(), ctl::encode_hello(h));
    std::array<std::byte, ctl::kReceiveBufferSize> buf{};
    ctl::ReceivedPacket p;
    pollfd pf{c.get(), POLLIN, 0};
    BOOST_REQUIRE(::poll(&pf, 1, 5000) == 1);
    BOOST_REQUIRE(ctl::receive_packet(c.get(), buf, p) == ctl::ReceiveStatus::packet);
    BOOST_TEST(p.size == ctl::kAcceptSize);
    BOOST_TEST(std::to_integer<int>(buf[4]) == 2);  // version
    BOOST_TEST(std::to_integer<int>(buf[6]) == 2);  // ACCEPT
    BOOST_TEST(p.fds.size() == 1u);
  }
  // A subscriber that says anything after EVENT_FD is dropped: its slot is handed out again.
  Grant chatty(s.request());
  const std::array<std::byte, 4> junk{};
  ctl::send_packet(chatty.connection.get(), junk);
  BOOST_TEST(await_slow([&] {
    pollfd p{chatty.connection.get(), POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1;
  }, 10s));
  Grant next(s.request());
  BOOST_TEST(next.slot == chatty.slot);
}

// A reader on the writer's eventfd outlives that writer: after the close it moves to a thread of
// its own, so a writer attaching later from a process that holds no subscriber fds still wakes
// its event loop (the reader is a forked child; the second writer another).
BOOST_AUTO_TEST_CASE(a_writer_attached_from_another_process_after_a_close_still_wakes_event_loop_readers) {
  constexpr int kFirst = 8, kSecond = 8;
  Served s;
  int ready[2];
  BOOST_REQUIRE(::pipe(ready) == 0);
  const pid_t reader = ::fork();
  BOOST_REQUIRE(reader >= 0);
  if (reader == 0) {
    int code = 10;
    try {
      Segment seg = attach_memfd(s.socket);
      BroadcastReader r(seg, "b", [] {
        ReaderOptions o;
        o.start = StartAt::next;
        return o;
      }());
      const int fd = r.notification_fd();
      code = r.notification_uses_thread() ? 11 : 12;
      if (!r.notification_uses_thread()) {
        const int ep = ::epoll_create1(EPOLL_CLOEXEC);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        (void)::write(ready[1], "r", 1);
        std::array<std::byte, 64> buf{};
        std::uint64_t next = 0;
        int closes = 0;
        code = 13;  // timed out waiting for a frame or close
        for (epoll_event got{}; ::epoll_wait(ep, &got, 1, 20'000) == 1;) {
          r.clear_notification();
          ReadResult res;
          while ((res = r.try_read(buf))) next = res.frame.sequence + 1;
          closes += res.status == Errc::closed;
          if (next == kFirst + kSecond && res.status == Errc::closed) {
            code = 0;
            break;
          }
        }
        if (code == 0 && closes < 2) code = 14;
      }
    } catch (...) {
      code = 15;
    }
    ::_exit(code);
  }
  char c = 0;
  BOOST_REQUIRE(::read(ready[0], &c, 1) == 1);  // subscribed to this process's eventfd
  for (int i = 0; i < kFirst; ++i) s.publish();
  {
    BroadcastWriter first = std::move(s.writer);  // closed and gone: another process may attach
    first.close();
  }
  const pid_t second = ::fork();
  BOOST_REQUIRE(second >= 0);
  if (second == 0) {
    int code = 20;
    try {
      Segment seg = attach_memfd(s.socket);
      BroadcastWriter w = BroadcastWriter::attach(seg, "b");
      const std::array<std::byte, 8> f{};
      for (int i = 0; i < kSecond; ++i) w.publish(f);
      w.close();
      code = 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "second writer: %s\n", e.what());
      code = 21;
    }
    ::_exit(code);
  }
  int st = 0;
  BOOST_REQUIRE(::waitpid(second, &st, 0) == second);
  BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0), "second writer: status " << st);
  BOOST_REQUIRE(::waitpid(reader, &st, 0) == reader);
  BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0), "reader: status " << st);
  ::close(ready[0]);
  ::close(ready[1]);
}
