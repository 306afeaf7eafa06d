// shmkit::Segment on the memfd backend: the segment API over the control socket, many clients
// coming and going while a writer works, the memfd's lifetime, and misbehaving peers. Helpers
// are exec'd processes (own address space; one runs under another uid).
#define BOOST_TEST_MODULE memfd_segment
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../helpers/memfd_test_types.hpp"
#include "backends.hpp"
#include "child_process.hpp"
#include "control_client.hpp"
#include "control_protocol.hpp"
#include "scoped_env.hpp"
#include "segment_header.hpp"
#include "shmkit/memfd_handle.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
using detail::UniqueFd;
namespace ctl = shmkit::detail::control;

namespace {

const std::string kHelper = "shmkit-test-memfd-helper";

// The server's callbacks, counted: they are the events tests wait on.
struct Events {
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t attached = 0;
  std::size_t detached = 0;
  std::vector<std::string> logs;

  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return pred(); });
  }
  std::size_t log_count() {
    std::lock_guard lock(mutex);
    return logs.size();
  }
  std::string last_log() {
    std::lock_guard lock(mutex);
    return logs.empty() ? std::string() : logs.back();
  }
  // Waits for a log line beyond the first `seen` and returns it (empty on timeout).
  std::string next_log(std::size_t seen) {
    wait([&] { return logs.size() > seen; });
    std::lock_guard lock(mutex);
    return logs.size() > seen ? logs[seen] : std::string();
  }
};

SegmentOptions served(Events& events, Backend backend = Backend::memfd) {
  SegmentOptions o;
  o.backend = backend;
  o.control.on_client = [&events](const ControlClientInfo&, bool attached) {
    {
      std::lock_guard lock(events.mutex);
      ++(attached ? events.attached : events.detached);
    }
    events.changed.notify_all();
  };
  o.control.log = [&events](std::string_view line) {
    {
      std::lock_guard lock(events.mutex);
      events.logs.emplace_back(line);
    }
    events.changed.notify_all();
  };
  return o;
}

SegmentOptions memfd() {
  SegmentOptions o;
  o.backend = Backend::memfd;
  return o;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Waits (bounded) for the server behind an opened segment to hang up: the pollable event.
bool server_hangs_up(const Segment& s, int timeout_ms = 10'000) {
  pollfd p{s.handle<MemfdHandle>()->control_fd(), POLLRDHUP, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && !s.handle<MemfdHandle>()->server_alive();
}

bool errc_is(const Error& e, Errc code, const std::string& text = {}) {
  BOOST_TEST_MESSAGE(to_string(e.errc()) << ": " << e.what());
  return e.errc() == code && std::string(e.what()).find(text) != std::string::npos;
}

// Every process that still holds the memfd labelled `label`, mapped or as an fd.
std::vector<std::string> holders_of(const std::string& label) {
  std::vector<std::string> out;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return out;
  while (const dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const std::string dir = std::string("/proc/") + e->d_name;
    std::ifstream maps(dir + "/maps");
    for (std::string line; std::getline(maps, line);)
      if (line.find(label) != std::string::npos) out.push_back(dir + " maps it");
    if (DIR* fds = ::opendir((dir + "/fd").c_str())) {
      while (const dirent* f = ::readdir(fds)) {
        char target[512] = {};
        const std::string link = dir + "/fd/" + f->d_name;
        if (::readlink(link.c_str(), target, sizeof target - 1) > 0 && std::string(target).find(label) != std::string::npos)
          out.push_back(link);
      }
      ::closedir(fds);
    }
  }
  ::closedir(proc);
  return out;
}

std::size_t heap_in_use() { return mallinfo2().uordblks; }

}  // namespace

BOOST_AUTO_TEST_CASE(automatic_is_memfd_and_every_accessor_tells_its_side) {
  Events events;
  const std::string name = unique_name("shmkit-memfd-api");
  std::optional<Segment> creator = Segment::create(name, 1 << 20, served(events, Backend::automatic));
  BOOST_TEST(creator->backend() == Backend::memfd);
  BOOST_TEST(creator->info().backend == Backend::memfd);
  BOOST_TEST(creator->handle<MemfdHandle>()->socket_path() == ControlServer::default_socket_path(name));
  BOOST_TEST(exists(creator->handle<MemfdHandle>()->socket_path()));
  BOOST_REQUIRE(creator->handle<MemfdHandle>()->server() != nullptr);
  BOOST_TEST(creator->handle<MemfdHandle>()->control_fd() == -1);
  BOOST_TEST(creator->handle<MemfdHandle>()->server_alive());
  auto& value = creator->construct<std::uint64_t>("value", 41u);

  std::optional<Segment> opener = Segment::open(name, memfd());
  BOOST_TEST(opener->backend() == Backend::memfd);
  BOOST_TEST(opener->name() == name);
  BOOST_TEST(opener->handle<MemfdHandle>()->server() == nullptr);
  BOOST_TEST(opener->handle<MemfdHandle>()->control_fd() >= 0);
  BOOST_TEST(opener->handle<MemfdHandle>()->server_alive());
  BOOST_TEST(opener->info().creator_pid == ::getpid());
  // Two mappings of one memfd in one process: different addresses, the same memory.
  auto* seen = opener->find<std::uint64_t>("value");
  BOOST_REQUIRE(seen != nullptr);
  BOOST_TEST(static_cast<void*>(seen) != static_cast<void*>(&value));
  *seen += 1;
  BOOST_TEST(value == 42u);
  BOOST_REQUIRE(events.wait([&] { return events.attached == 1; }));
  const auto clients = creator->handle<MemfdHandle>()->server()->clients();
  BOOST_REQUIRE(clients.size() == 1u);
  BOOST_TEST(clients[0].pid == ::getpid());
  BOOST_TEST(clients[0].uid == ::geteuid());

  // Attach by socket path alone: the name comes from the header.
  {
    Segment by_path = shmkit::attach_memfd(creator->handle<MemfdHandle>()->socket_path());
    BOOST_TEST(by_path.name() == name);
    BOOST_TEST(*by_path.find<std::uint64_t>("value") == 42u);
  }
  // open_or_create finds the live one; create refuses; remove leaves a live server alone.
  {
    Segment again = Segment::open_or_create(name, 1 << 20, memfd());
    BOOST_TEST(again.handle<MemfdHandle>()->server() == nullptr);
    BOOST_TEST(*again.find<std::uint64_t>("value") == 42u);
  }
  BOOST_CHECK_EXCEPTION(Segment::create(name, 1 << 20, memfd()), Error,
                        [](const Error& e) { return errc_is(e, Errc::already_exists, "live server"); });
  BOOST_TEST(!Segment::remove(name, Backend::memfd));
  BOOST_TEST(exists(creator->handle<MemfdHandle>()->socket_path()));
  BOOST_CHECK_EXCEPTION(Segment::open(unique_name("shmkit-memfd-none"), memfd()), Error,
                        [](const Error& e) { return errc_is(e, Errc::not_found); });
  // A socket that serves another segment than the one named is not that segment.
  {
    SegmentOptions wrong = memfd();
    wrong.socket_path = creator->handle<MemfdHandle>()->socket_path();
    BOOST_CHECK_EXCEPTION(Segment::open(name + "-other", wrong), Error,
                          [](const Error& e) { return errc_is(e, Errc::not_found, "serves segment"); });
  }

  // The creator leaves: the opener is told, keeps its memory, and nobody new can attach.
  const std::string path = creator->handle<MemfdHandle>()->socket_path();
  creator.reset();
  BOOST_TEST(server_hangs_up(*opener));
  BOOST_TEST(*opener->find<std::uint64_t>("value") == 42u);
  BOOST_TEST(!exists(path));
  BOOST_CHECK_EXCEPTION(Segment::open(name, memfd()), Error,
                        [](const Error& e) { return errc_is(e, Errc::not_found); });
  BOOST_TEST(!Segment::remove(name, Backend::memfd));
}

// A client checks the default socket directory (after connecting, before its HELLO): one that
// others may write could hold a stranger's socket, so the open fails and nothing is handed over.
BOOST_AUTO_TEST_CASE(a_client_refuses_a_socket_directory_others_can_write) {
  char dir_template[] = "/tmp/shmkit-memfd-xdg-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string xdg = dir_template;
  {
    ScopedEnv env("XDG_RUNTIME_DIR", xdg);
    Events events;
    const std::string name = unique_name("shmkit-memfd-dir");
    Segment creator = Segment::create(name, 1 << 20, served(events));
    creator.construct<std::uint64_t>("value", 7u);
    BOOST_REQUIRE(::chmod((xdg + "/shmkit").c_str(), 0770) == 0);
    BOOST_CHECK_EXCEPTION(Segment::open(name, memfd()), Error,
                          [](const Error& e) { return errc_is(e, Errc::permission_denied, "writable by group"); });
    BOOST_REQUIRE(::chmod((xdg + "/shmkit").c_str(), 0700) == 0);
    {
      Segment reader = Segment::open(name, memfd());
      BOOST_TEST(*reader.find<std::uint64_t>("value") == 7u);
    }
    BOOST_TEST(events.wait([&] { return events.detached >= 1; }));
    std::lock_guard lock(events.mutex);
    BOOST_TEST(events.attached == 1u);  // the refused open never got the segment
    BOOST_TEST(events.detached == 1u);
  }
  ::rmdir((xdg + "/shmkit").c_str());
  ::rmdir(xdg.c_str());
}

BOOST_AUTO_TEST_CASE(caller_event_loop_and_abstract_socket) {
  Events events;
  const std::string name = unique_name("shmkit-memfd-loop");
  SegmentOptions o = served(events);
  o.serve_on_thread = false;
  o.socket_path = "@" + name;
  Segment creator = Segment::create(name, 1 << 20, o);
  BOOST_TEST(creator.handle<MemfdHandle>()->socket_path() == "@" + name);
  creator.construct<std::uint64_t>("value", 7u);
  std::optional<std::uint64_t> got;
  std::string failure;
  std::thread opener([&] {
    try {
      SegmentOptions a = memfd();
      a.socket_path = "@" + name;
      Segment s = Segment::open(name, a);
      got = *s.find<std::uint64_t>("value");
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  // Nobody serves but this loop: the opener gets in only through handle_events().
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < give_up) {
    {
      std::lock_guard lock(events.mutex);
      if (events.detached == 1) break;
    }
    pollfd p{creator.handle<MemfdHandle>()->server()->fd(), POLLIN, 0};
    if (::poll(&p, 1, 1000) == 1) creator.handle<MemfdHandle>()->server()->handle_events();
  }
  opener.join();
  BOOST_TEST(failure.empty(), failure);
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(*got == 7u);
}

// The issue's load test: 50 client processes attach and detach again and again while a writer
// process rebuilds a map under the mutex; every read is a whole round, and the server (this
// process) ends with the fds and heap it started with.
BOOST_AUTO_TEST_CASE(fifty_clients_attach_and_detach_while_a_writer_rebuilds_the_map) {
  constexpr int kClients = 50;
  constexpr int kRounds = 20;
  Events events;
  const std::string name = unique_name("shmkit-memfd-load");
  Segment seg = Segment::create(name, 4 << 20, served(events));
  auto& board = seg.construct<Board>("board");
  seg.construct<BoardMap>("map");

  ChildProcess writer(helper_path(kHelper), {"write-map", name});
  const auto started = std::chrono::steady_clock::now();
  for (;;) {  // the writer's first round is the event; the loop only guards against a dead writer
    {
      std::lock_guard lock(board.mutex);
      if (board.round > 0) break;
    }
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() - started < 30s, "the writer never wrote");
    BOOST_REQUIRE(!writer.wait_for(0ms));
    std::this_thread::yield();
  }

  auto run_clients = [&](int rounds) {
    std::vector<ChildProcess> clients;
    for (int i = 0; i < kClients; ++i)
      clients.emplace_back(helper_path(kHelper), std::vector<std::string>{"check-map", name, std::to_string(rounds)});
    for (int i = 0; i < kClients; ++i) {
      const ExitStatus st = clients[static_cast<std::size_t>(i)].wait(240s);
      BOOST_TEST(st.ok(), "client " << i << ": " << st.describe());
    }
  };
  // Warm-up, the same load as the measured run: the server's tables reach their working size
  // before the baseline (a client's next attach can be served before its last hang-up, so more
  // than 50 can be on the books at once; their capacity is a high-water mark, not a leak).
  run_clients(kRounds);
  BOOST_REQUIRE(events.wait([&] { return events.detached == kClients * kRounds; }, 60s));
  const int fds_before = open_fd_count();
  const std::size_t heap_before = heap_in_use();
  const std::uint64_t round_before = [&] {
    std::lock_guard lock(board.mutex);
    return board.round;
  }();

  const auto t0 = std::chrono::steady_clock::now();
  run_clients(kRounds);
  const std::size_t total = kClients * kRounds * 2;
  BOOST_REQUIRE(events.wait([&] { return events.detached == total; }, 60s));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  BOOST_TEST(board.checks.load() == total);
  BOOST_TEST(events.attached == total + 1);  // and the writer, still attached
  BOOST_TEST(seg.handle<MemfdHandle>()->server()->clients().size() == 1u);
  BOOST_TEST(open_fd_count() == fds_before);
  const std::size_t heap_after = heap_in_use();
  BOOST_TEST_MESSAGE(kClients * kRounds << " attaches in " << ms.count() << " ms; server heap " << heap_before
                                        << " -> " << heap_after << " bytes");
  // A leak of even 16 bytes per attach would show as 16 KB here.
  BOOST_TEST(heap_after <= heap_before + 8192, "server heap grew from " << heap_before << " to " << heap_after);
  {
    std::lock_guard lock(board.mutex);
    BOOST_TEST(board.round > round_before, "the writer kept writing");
  }
  board.stop.store(1, std::memory_order_release);
  const ExitStatus w = writer.wait(30s);
  BOOST_TEST(w.ok(), "writer: " << w.describe());
  BOOST_TEST(events.wait([&] { return events.detached == total + 1; }));
}

// The memfd is in no file system, survives its creator while another process holds it, and is
// gone from every process once the last one lets go; the creator's kill -9 leaves a stale
// socket that remove() clears.
BOOST_AUTO_TEST_CASE(memfd_is_never_in_dev_shm_and_is_gone_after_the_last_process) {
  const std::string name = unique_name("shmkit-memfd-life");
  const std::string label = "/memfd:shmkit:" + name + " ";
  int ready[2];
  BOOST_REQUIRE(::pipe(ready) == 0);  // no O_CLOEXEC: the serving helper inherits the write end
  ChildProcess server(helper_path(kHelper), {"serve", name, std::to_string(16 << 20), std::to_string(ready[1])});
  ::close(ready[1]);
  UniqueFd ready_read(ready[0]);
  std::uint64_t server_pid = 0;
  pollfd p{ready_read.get(), POLLIN, 0};
  BOOST_REQUIRE_MESSAGE(::poll(&p, 1, 30'000) == 1, "the serving helper never got ready");
  BOOST_REQUIRE(::read(ready_read.get(), &server_pid, sizeof server_pid) == static_cast<ssize_t>(sizeof server_pid));
  BOOST_REQUIRE(server_pid == static_cast<std::uint64_t>(server.pid()));

  SegmentOptions automatic;
  automatic.backend = Backend::automatic;
  std::optional<Segment> seg = Segment::open(name, automatic);
  BOOST_TEST(seg->backend() == Backend::memfd);
  auto [words, count] = seg->find_array<std::uint64_t>("pattern");
  BOOST_REQUIRE(words != nullptr);
  BOOST_REQUIRE(count == kPatternWords);
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 0; i < count; ++i) wrong += words[i] != pattern(i) ? 1 : 0;
  BOOST_TEST(wrong == 0u);

  // Both processes hold it as a memfd, and nothing of it is under /dev/shm.
  const auto holders = holders_of(label);
  const auto held_by = [&](pid_t pid) {
    const std::string prefix = "/proc/" + std::to_string(pid) + "/";
    for (const auto& h : holders)
      if (h.rfind(prefix, 0) == 0) return true;
    return false;
  };
  BOOST_TEST(held_by(::getpid()));
  BOOST_TEST(held_by(server.pid()));
  if (DIR* d = ::opendir("/dev/shm")) {
    while (const dirent* e = ::readdir(d)) BOOST_TEST(std::string(e->d_name).find(name) == std::string::npos, e->d_name);
    ::closedir(d);
  }

  // kill -9 the creator: this process hears the hang-up and still has every byte.
  const std::string socket = seg->handle<MemfdHandle>()->socket_path();
  server.kill(SIGKILL);
  BOOST_TEST(server.wait(30s).signal == SIGKILL);
  BOOST_TEST(server_hangs_up(*seg));
  wrong = 0;
  for (std::uint64_t i = 0; i < count; ++i) wrong += words[i] != pattern(i) ? 1 : 0;
  BOOST_TEST(wrong == 0u);

  // Its socket file is stale: nobody answers, and remove() clears exactly that.
  BOOST_TEST(exists(socket));
  BOOST_CHECK_EXCEPTION(Segment::open(name, automatic), Error,
                        [](const Error& e) { return errc_is(e, Errc::not_found, "stale"); });
  BOOST_TEST(Segment::remove(name, Backend::automatic));
  BOOST_TEST(!exists(socket));
  BOOST_TEST(!Segment::remove(name, Backend::automatic));

  // The last holder lets go: no process maps it or has it open, so the kernel has freed it.
  seg.reset();
  const auto left = holders_of(label);
  BOOST_TEST(left.empty(), "still held: " << (left.empty() ? "" : left.front()));
}

// Peers that misbehave against a Segment's server: each is dropped, the server's fd count is
// back to its baseline after each, and a real client still gets in.
BOOST_AUTO_TEST_CASE(bad_peers_are_dropped_and_leave_the_server_fd_count_unchanged) {
  // A directory and socket that uid 65534 can reach: only the access policy refuses it.
  char dir_template[] = "/tmp/shmkit-memfd-uid-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  BOOST_REQUIRE(::chmod(dir.c_str(), 0755) == 0);
  Events events;
  const std::string name = unique_name("shmkit-memfd-bad");
  SegmentOptions o = served(events);
  o.socket_path = dir + "/s.sock";
  o.permissions = 0666;
  o.control.handshake_timeout = 300ms;
  std::optional<Segment> seg = Segment::create(name, 1 << 20, o);
  seg->construct<std::uint64_t>("value", 99u);
  const int baseline = open_fd_count();

  auto raw_connect = [&] {
    UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    const auto a = ctl::socket_address(o.socket_path);
    BOOST_REQUIRE(::connect(s.get(), reinterpret_cast<const sockaddr*>(&a.address), a.length) == 0);
    return s;
  };
  auto hello = [](std::uint16_t version) {
    ctl::Hello h;
    h.version = version;
    h.format_version = detail::kFormatVersion;
    const auto b = ctl::encode_hello(h);
    return std::vector<std::byte>(b.begin(), b.end());
  };
  // Holds a raw client open until the server has closed its end (bounded).
  auto await_hangup = [](const UniqueFd& c) {
    pollfd p{c.get(), POLLRDHUP, 0};
    BOOST_TEST(::poll(&p, 1, 10'000) == 1);
  };
  // Runs one bad peer; the server logs each drop after closing that client's fd, so the log
  // line is the event after which the server's fd count must be back at the baseline.
  auto expect_dropped = [&](const char* what, const std::string& logged, auto&& peer) {
    const std::size_t seen = events.log_count();
    peer();
    const std::string line = events.next_log(seen);
    BOOST_TEST(line.find(logged) != std::string::npos, what << ": server logged '" << line << "'");
    BOOST_TEST(open_fd_count() == baseline, what << ": fd count " << open_fd_count() << ", baseline " << baseline);
  };

  expect_dropped("garbage", "(bad_magic)", [&] {
    auto c = raw_connect();
    ctl::send_packet(c.get(), std::vector<std::byte>(32, std::byte{0x5A}));
    await_hangup(c);
  });
  expect_dropped("wrong protocol version", "(unsupported_version)", [&] {
    auto c = raw_connect();
    ctl::send_packet(c.get(), hello(9));
    await_hangup(c);
  });
  expect_dropped("client passing an fd", "(malformed)", [&] {
    auto c = raw_connect();
    UniqueFd junk(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    const int fds[1] = {junk.get()};
    ctl::send_packet(c.get(), hello(ctl::kProtocolVersion), fds);
    await_hangup(c);
  });
  expect_dropped("silent client", "(handshake_timeout)", [&] {
    auto c = raw_connect();  // says nothing; held open until the server gives up on it
    await_hangup(c);
  });
  expect_dropped("client hanging up before its HELLO", "hung up before its HELLO", [&] { raw_connect(); });
  expect_dropped("peer of another uid", "(access_denied)", [&] {
    ChildProcess nobody("/usr/bin/setpriv", {"--reuid=65534", "--regid=65534", "--clear-groups",
                                             helper_path(kHelper), "expect-attach-error", o.socket_path,
                                             "permission_denied"});
    const ExitStatus st = nobody.wait(30s);
    BOOST_TEST(st.ok(), "uid 65534 client: " << st.describe());
  });
  BOOST_TEST(events.attached == 0u);

  // Still serving, and a good client's attach and detach leave no fd behind either.
  {
    Segment good = Segment::open(name, [&] {
      SegmentOptions a = memfd();
      a.socket_path = o.socket_path;
      return a;
    }());
    BOOST_TEST(*good.find<std::uint64_t>("value") == 99u);
  }
  BOOST_REQUIRE(events.wait([&] { return events.detached == 1; }));
  BOOST_TEST(open_fd_count() == baseline);
  seg.reset();
  BOOST_TEST(!exists(o.socket_path));
  ::rmdir(dir.c_str());
}
