// ControlServer with real clients: helper processes (exec'd, own address space, other uids) and
// raw sockets in this process for clients that misbehave on purpose.
#define BOOST_TEST_MODULE control_server
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "control_client.hpp"
#include "control_protocol.hpp"
#include "memfd_mapping.hpp"
#include "scoped_env.hpp"
#include "segment_header.hpp"
#include "shmkit/control_server.hpp"
#include "shmkit/error.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
using detail::UniqueFd;
namespace ctl = shmkit::detail::control;

namespace {

constexpr std::size_t kSize = 1 << 20;
constexpr std::uint64_t kMarker = 0xC0DE'5EED'1234'5678ULL;
const std::string kHelper = "shmkit-test-control-helper";

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// What the server reported, for tests to wait on: its callbacks are the events.
struct Recorder {
  struct Event {
    ControlClientInfo info;
    bool attached;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Event> events;
  std::vector<std::string> logs;

  void on_client(const ControlClientInfo& info, bool attached) {
    {
      std::lock_guard lock(mutex);
      events.push_back({info, attached});
    }
    changed.notify_all();
  }
  void on_log(std::string_view line) {
    {
      std::lock_guard lock(mutex);
      logs.emplace_back(line);
    }
    changed.notify_all();
  }
  // Waits (bounded: a failure guard, not a synchronization delay) until pred() holds.
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return pred(); });
  }
  std::size_t count(bool attached) {  // callers hold no lock
    std::lock_guard lock(mutex);
    return count_locked(attached);
  }
  std::size_t count_locked(bool attached) const {
    std::size_t n = 0;
    for (const auto& e : events) n += e.attached == attached ? 1 : 0;
    return n;
  }
  bool has_event_locked(std::int32_t pid, bool attached) const {
    for (const auto& e : events)
      if (e.info.pid == pid && e.attached == attached) return true;
    return false;
  }
  bool logged_locked(const std::string& text) const {
    for (const auto& l : logs)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
  std::size_t count_logs_locked(const std::string& text) const {
    std::size_t n = 0;
    for (const auto& l : logs) n += l.find(text) != std::string::npos ? 1 : 0;
    return n;
  }
  bool logged(const std::string& text) {
    std::lock_guard lock(mutex);
    return logged_locked(text);
  }
};

// A memfd segment (marker at offset 0) and the options wired to a Recorder.
struct Served {
  std::unique_ptr<detail::MemfdMapping> memfd = detail::create_memfd_mapping("shmkit-control-test", kSize);
  Recorder recorder;
  Served() { *reinterpret_cast<std::uint64_t*>(memfd->data()) = kMarker; }
  ~Served() {
    // The server's diagnostics, shown only when the test failed (callbacks run on the server
    // thread, where Boost.Test must not be called).
    namespace utf = boost::unit_test;
    if (utf::results_collector.results(utf::framework::current_test_case().p_id).passed()) return;
    std::lock_guard lock(recorder.mutex);
    const std::size_t from = recorder.logs.size() > 40 ? recorder.logs.size() - 40 : 0;
    for (std::size_t i = from; i < recorder.logs.size(); ++i) BOOST_TEST_MESSAGE("server log: " << recorder.logs[i]);
  }
  ControlServerOptions options() {
    ControlServerOptions o;
    o.log = [this](std::string_view line) { recorder.on_log(line); };
    o.on_client = [this](const ControlClientInfo& info, bool attached) { recorder.on_client(info, attached); };
    return o;
  }
  std::uint64_t word(std::size_t i) const { return reinterpret_cast<const std::uint64_t*>(memfd->data())[i]; }
};

std::string temp_socket_path() { return "/tmp/" + unique_name("shmkit-ctl") + ".sock"; }

// A raw client socket, connected (for clients that misbehave on purpose).
UniqueFd raw_connect(const std::string& path) {
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  const auto a = ctl::socket_address(path);
  BOOST_REQUIRE(s);
  BOOST_REQUIRE(::connect(s.get(), reinterpret_cast<const sockaddr*>(&a.address), a.length) == 0);
  return s;
}

void raw_send(int s, std::span<const std::byte> bytes, int fd = -1) {
  const int fds[1] = {fd};
  ctl::send_packet(s, bytes, fd >= 0 ? std::span<const int>(fds) : std::span<const int>());
}

// Next packet from the server (waits up to 10 s for it); nullopt if it hung up instead.
std::optional<std::vector<std::byte>> raw_receive(int s, std::vector<UniqueFd>* fds = nullptr) {
  pollfd p{s, POLLIN, 0};
  if (::poll(&p, 1, 10'000) != 1) return std::nullopt;
  std::array<std::byte, ctl::kReceiveBufferSize> buffer{};
  ctl::ReceivedPacket packet;
  if (ctl::receive_packet(s, buffer, packet) != ctl::ReceiveStatus::packet) return std::nullopt;
  if (fds != nullptr) *fds = std::move(packet.fds);
  return std::vector<std::byte>(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(packet.size));
}

ctl::Refuse expect_refuse(int s, ctl::RefuseCode code) {
  auto packet = raw_receive(s);
  BOOST_REQUIRE_MESSAGE(packet, "server sent no answer");
  auto reply = ctl::decode_reply(*packet);
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<ctl::Refuse>(reply), "server did not refuse");
  const auto r = std::get<ctl::Refuse>(reply);
  BOOST_TEST(ctl::to_string(r.code) == ctl::to_string(code));
  // ...and then it closes the connection.
  pollfd p{s, POLLRDHUP, 0};
  BOOST_TEST(::poll(&p, 1, 10'000) == 1);
  BOOST_TEST(detail::control_peer_gone(s));
  return r;
}

std::vector<std::byte> hello_bytes(std::uint16_t version = ctl::kProtocolVersion,
                                   std::uint32_t format = detail::kFormatVersion,
                                   ctl::Access access = ctl::Access::read_write) {
  ctl::Hello h;
  h.version = version;
  h.format_version = format;
  h.access = access;
  const auto b = ctl::encode_hello(h);
  return {b.begin(), b.end()};
}

ChildProcess helper_attach(const std::string& socket, int slot) {
  return ChildProcess(helper_path(kHelper), {"attach", socket, hex(kMarker), std::to_string(slot)});
}

detail::DeadlineNs soon() { return detail::deadline_after(10s); }

// Every /proc/<pid>/fd link of a process.
std::vector<std::string> fd_links(pid_t pid) {
  std::vector<std::string> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    char buf[512] = {};
    const std::string link = dir + "/" + e->d_name;
    const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    if (n > 0) out.emplace_back(buf, static_cast<std::size_t>(n));
  }
  ::closedir(d);
  return out;
}

long long elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since).count();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool errc_is(const Error& e, Errc code, const std::string& text = {}) {
  BOOST_TEST_MESSAGE(to_string(e.errc()) << ": " << e.what());
  return e.errc() == code && std::string(e.what()).find(text) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(helper_process_attaches_writes_and_its_detach_is_reported_with_pid) {
  Served s;
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, temp_socket_path(), s.options());
  server.start_thread();
  ChildProcess child = helper_attach(server.socket_path(), 0);
  const pid_t pid = child.pid();
  const ExitStatus st = child.wait(30s);
  BOOST_TEST(st.ok(), st.describe());
  // The child wrote through its own mapping of the memfd.
  BOOST_TEST(s.word(8) == static_cast<std::uint64_t>(pid));
  BOOST_TEST(s.recorder.wait([&] { return s.recorder.has_event_locked(pid, false); }), "no detach event for the child");
  std::lock_guard lock(s.recorder.mutex);
  BOOST_TEST(s.recorder.has_event_locked(pid, true));
  BOOST_REQUIRE(!s.recorder.events.empty());
  BOOST_TEST(s.recorder.events.front().info.uid == ::geteuid());
  BOOST_TEST(server.clients().empty());
}

BOOST_AUTO_TEST_CASE(client_sees_server_gone_and_holds_a_memfd_never_in_dev_shm) {
  Served s;
  // No file in /dev/shm is the memfd (same inode): counting entries would race other tests.
  struct stat memfd_stat {};
  BOOST_REQUIRE(::fstat(s.memfd->fd(), &memfd_stat) == 0);
  auto in_dev_shm = [&] {
    bool found = false;
    if (DIR* d = ::opendir("/dev/shm")) {
      while (const dirent* e = ::readdir(d)) {
        struct stat st {};
        const std::string path = std::string("/dev/shm/") + e->d_name;
        if (::stat(path.c_str(), &st) == 0 && st.st_dev == memfd_stat.st_dev && st.st_ino == memfd_stat.st_ino)
          found = true;
      }
      ::closedir(d);
    }
    return found;
  };
  std::optional<ControlServer> server;
  server.emplace(s.memfd->fd(), kSize, detail::kFormatVersion, temp_socket_path(), s.options());
  server->start_thread();
  ChildProcess child(helper_path(kHelper), {"hold", server->socket_path(), hex(kMarker)});
  const pid_t pid = child.pid();
  BOOST_REQUIRE(s.recorder.wait([&] { return s.recorder.has_event_locked(pid, true); }));
  // The attach event fires when the fd is sent; the child's store says it has mapped it.
  const auto holding = std::chrono::steady_clock::now() + 30s;
  while (reinterpret_cast<std::atomic<std::uint64_t>*>(s.memfd->data() + 8)->load() != static_cast<std::uint64_t>(pid))
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < holding, "the child never mapped the segment");
  const auto clients = server->clients();
  BOOST_REQUIRE(clients.size() == 1u);
  BOOST_TEST(clients[0].pid == pid);
  // The child holds the segment as a memfd: "/memfd:<name> (deleted)", never a /dev/shm file.
  bool has_memfd = false;
  for (const auto& link : fd_links(pid)) {
    if (link.rfind("/memfd:shmkit-control-test", 0) == 0) has_memfd = true;
    BOOST_TEST(link.find("/dev/shm") == std::string::npos, link);
  }
  BOOST_TEST(has_memfd);
  BOOST_TEST(!in_dev_shm());
  // The server going away is what ends the child: it exits 0 only if it saw the hang-up.
  server.reset();
  const ExitStatus st = child.wait(30s);
  BOOST_TEST(st.ok(), st.describe());
}

BOOST_AUTO_TEST_CASE(garbage_and_wrong_versions_are_refused_and_the_server_keeps_serving) {
  Served s;
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, temp_socket_path(), s.options());
  server.start_thread();
  {
    auto c = raw_connect(server.socket_path());
    const std::vector<std::byte> garbage(32, std::byte{0x41});
    raw_send(c.get(), garbage);
    expect_refuse(c.get(), ctl::RefuseCode::bad_magic);
  }
  {
    auto c = raw_connect(server.socket_path());
    raw_send(c.get(), hello_bytes(7));
    const auto r = expect_refuse(c.get(), ctl::RefuseCode::unsupported_version);
    BOOST_TEST(r.min_version == 1u);
    BOOST_TEST(r.max_version == 2u);
    BOOST_TEST(r.reason.find("versions 1 to 2") != std::string::npos, r.reason);
  }
  {
    auto c = raw_connect(server.socket_path());
    auto truncated = hello_bytes();
    truncated.resize(20);
    raw_send(c.get(), truncated);
    expect_refuse(c.get(), ctl::RefuseCode::malformed);
  }
  {
    // A client trying to pass us an fd: refused, and the fd is not kept by the server.
    auto c = raw_connect(server.socket_path());
    raw_send(c.get(), hello_bytes(), s.memfd->fd());
    expect_refuse(c.get(), ctl::RefuseCode::malformed);
  }
  {
    auto c = raw_connect(server.socket_path());
    raw_send(c.get(), hello_bytes(ctl::kProtocolVersion, detail::kFormatVersion + 1));
    expect_refuse(c.get(), ctl::RefuseCode::incompatible_format);
  }
  {
    auto c = raw_connect(server.socket_path());
    // Read-only access is granted (reliability_test); an unknown access value is malformed.
    raw_send(c.get(), hello_bytes(ctl::kProtocolVersion, detail::kFormatVersion, static_cast<ctl::Access>(3)));
    expect_refuse(c.get(), ctl::RefuseCode::malformed);
  }
  BOOST_TEST(s.recorder.wait([&] { return s.recorder.logged_locked("bad_magic"); }));
  BOOST_TEST(s.recorder.wait([&] { return s.recorder.logged_locked("unsupported_version"); }));
  BOOST_TEST(s.recorder.count(true) == 0u);
  // Still serving.
  ChildProcess child = helper_attach(server.socket_path(), 1);
  const ExitStatus st = child.wait(30s);
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(s.word(9) == static_cast<std::uint64_t>(child.pid()));
}

BOOST_AUTO_TEST_CASE(attached_client_sending_data_is_dropped) {
  Served s;
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, temp_socket_path(), s.options());
  server.start_thread();
  auto c = raw_connect(server.socket_path());
  raw_send(c.get(), hello_bytes());
  std::vector<UniqueFd> fds;
  auto reply = raw_receive(c.get(), &fds);
  BOOST_REQUIRE(reply);
  BOOST_TEST(std::holds_alternative<ctl::Accept>(ctl::decode_reply(*reply)));
  BOOST_TEST(fds.size() == 1u);
  BOOST_REQUIRE(s.recorder.wait([&] { return s.recorder.count_locked(true) == 1; }));
  raw_send(c.get(), hello_bytes());
  BOOST_TEST(s.recorder.wait([&] { return s.recorder.count_locked(false) == 1; }));
  pollfd p{c.get(), POLLRDHUP, 0};
  BOOST_TEST(::poll(&p, 1, 10'000) == 1);
  BOOST_TEST(s.recorder.wait([&] { return s.recorder.logged_locked("sent data after it was attached"); }));
}

BOOST_AUTO_TEST_CASE(silent_client_does_not_block_others) {
  Served s;
  auto options = s.options();
  options.handshake_timeout = 60s;  // longer than the test: only non-blocking I/O can let the good client in
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, temp_socket_path(), options);
  server.start_thread();
  auto silent = raw_connect(server.socket_path());
  const auto started = std::chrono::steady_clock::now();
  ChildProcess child = helper_attach(server.socket_path(), 2);
  const ExitStatus st = child.wait(30s);
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(elapsed_ms(started) < 20'000);
  BOOST_TEST(s.word(10) == static_cast<std::uint64_t>(child.pid()));
  // The silent client is still connected and unanswered.
  BOOST_TEST(!detail::control_peer_gone(silent.get()));
  pollfd p{silent.get(), POLLIN, 0};
  BOOST_TEST(::poll(&p, 1, 0) == 0);
}

BOOST_AUTO_TEST_CASE(silent_client_is_dropped_after_the_handshake_timeout) {
  Served s;
  auto options = s.options();
  options.handshake_timeout = 200ms;
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, temp_socket_path(), options);
  server.start_thread();
  const auto started = std::chrono::steady_clock::now();
  auto silent = raw_connect(server.socket_path());
  expect_refuse(silent.get(), ctl::RefuseCode::handshake_timeout);
  BOOST_TEST(elapsed_ms(started) >= 150);
  // The server logs the drop after closing the socket: the refusal can arrive first.
  BOOST_TEST(s.recorder.wait([&] { return s.recorder.logged_locked("handshake_timeout"); }));
}

BOOST_AUTO_TEST_CASE(peer_of_another_uid_is_refused_by_policy_not_by_file_permissions) {
  // A directory and socket that uid 65534 can reach: only the policy can refuse it.
  char dir_template[] = "/tmp/shmkit-ctl-uid-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  BOOST_REQUIRE(::chmod(dir.c_str(), 0755) == 0);
  const std::string path = dir + "/s.sock";
  auto as_nobody = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"--reuid=65534", "--regid=65534", "--clear-groups", helper_path(kHelper)};
    argv.insert(argv.end(), args.begin(), args.end());
    return ChildProcess("/usr/bin/setpriv", argv);
  };
  {
    Served s;
    auto options = s.options();
    options.permissions = 0666;
    options.policy = AccessPolicy::same_user().allow_uid(1234).allow_gid(4321);
    ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, path, options);
    server.start_thread();
    struct stat st {};
    BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0666u);
    ChildProcess child = as_nobody({"expect-error", path, "permission_denied", "not allowed by the server's access policy"});
    const ExitStatus status = child.wait(30s);
    BOOST_TEST(status.ok(), status.describe());
    BOOST_TEST(s.recorder.wait([&] { return s.recorder.logged_locked("uid 65534"); }));
    BOOST_TEST(s.recorder.wait([&] { return s.recorder.logged_locked("access_denied"); }));
    BOOST_TEST(s.recorder.count(true) == 0u);
  }
  for (auto policy : {AccessPolicy::same_user().allow_uid(65534), AccessPolicy::same_user().allow_gid(65534)}) {
    // Positive control: the same uid, allowed by uid or by gid, attaches through the same socket.
    Served s;
    auto options = s.options();
    options.permissions = 0666;
    options.policy = policy;
    ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, path, options);
    server.start_thread();
    ChildProcess child = as_nobody({"attach", path, hex(kMarker), "3"});
    const ExitStatus status = child.wait(30s);
    BOOST_TEST(status.ok(), status.describe());
    BOOST_TEST(s.word(11) == static_cast<std::uint64_t>(child.pid()));
    BOOST_TEST(s.recorder.wait([&] {
      return !s.recorder.events.empty() && s.recorder.events.front().info.uid == 65534u &&
             s.recorder.events.front().info.gid == 65534u;
    }));
  }
  ::rmdir(dir.c_str());
}

BOOST_AUTO_TEST_CASE(fifty_sequential_and_fifty_concurrent_attaches_keep_fd_use_flat) {
  Served s;
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, temp_socket_path(), s.options());
  server.start_thread();
  const int baseline = open_fd_count();
  for (int i = 0; i < 50; ++i) {
    auto a = detail::attach_memfd(server.socket_path(), soon());
    BOOST_REQUIRE(*reinterpret_cast<std::uint64_t*>(a.mapping->data()) == kMarker);
  }
  BOOST_REQUIRE(s.recorder.wait([&] { return s.recorder.count_locked(false) == 50; }));
  BOOST_TEST(open_fd_count() == baseline);

  std::vector<ChildProcess> children;
  for (int i = 0; i < 50; ++i) children.push_back(helper_attach(server.socket_path(), 20 + i));
  for (int i = 0; i < 50; ++i) {
    const ExitStatus st = children[static_cast<std::size_t>(i)].wait(60s);
    BOOST_TEST(st.ok(), "child " << i << ": " << st.describe());
    BOOST_TEST(s.word(static_cast<std::size_t>(28 + i)) == static_cast<std::uint64_t>(children[static_cast<std::size_t>(i)].pid()));
  }
  BOOST_REQUIRE(s.recorder.wait([&] { return s.recorder.count_locked(false) == 100; }, 30s));
  BOOST_TEST(s.recorder.count(true) == 100u);
  BOOST_TEST(server.clients().empty());
  BOOST_TEST(open_fd_count() == baseline);

  // Thousands of connections that come and go (half never speak) leave nothing behind.
  for (int i = 0; i < 2000; ++i) {
    auto c = raw_connect(server.socket_path());
    if (i % 2 == 0) raw_send(c.get(), std::vector<std::byte>(8, std::byte{0}));
  }
  // Each of them ends in exactly one log line: refused (bad magic) or hung up before its HELLO.
  BOOST_REQUIRE(s.recorder.wait(
      [&] {
        return s.recorder.count_logs_locked("(bad_magic)") + s.recorder.count_logs_locked("hung up before its HELLO") ==
               2000;
      },
      60s));
  BOOST_TEST(open_fd_count() == baseline);
}

BOOST_AUTO_TEST_CASE(stale_socket_is_replaced_live_one_is_busy) {
  Served s;
  const std::string path = temp_socket_path();
  {
    // Stale: bound, then its owner "crashed" without unlinking.
    UniqueFd stale(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    const auto a = ctl::socket_address(path);
    BOOST_REQUIRE(::bind(stale.get(), reinterpret_cast<const sockaddr*>(&a.address), a.length) == 0);
  }
  BOOST_REQUIRE(exists(path));
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, path, s.options());
  server.start_thread();
  BOOST_TEST(s.recorder.wait([&] { return s.recorder.logged_locked("replaced stale socket"); }));
  { auto a = detail::attach_memfd(path, soon()); }

  Served other;
  BOOST_CHECK_EXCEPTION(ControlServer(other.memfd->fd(), kSize, detail::kFormatVersion, path, other.options()), Error,
                        [](const Error& e) { return errc_is(e, Errc::busy, "another server is serving"); });
  // The live server's socket survived the attempt and still serves.
  BOOST_TEST(exists(path));
  { auto a = detail::attach_memfd(path, soon()); }
  BOOST_TEST(s.recorder.wait([&] { return s.recorder.count_locked(true) == 2; }));

  // Something that is not a socket is never replaced.
  const std::string file = temp_socket_path();
  { UniqueFd f(::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)); }
  BOOST_CHECK_EXCEPTION(ControlServer(other.memfd->fd(), kSize, detail::kFormatVersion, file, other.options()), Error,
                        [](const Error& e) { return errc_is(e, Errc::already_exists, "not a socket"); });
  BOOST_TEST(exists(file));
  ::unlink(file.c_str());
}

BOOST_AUTO_TEST_CASE(socket_file_mode_and_removal) {
  Served s;
  const std::string path = temp_socket_path();
  {
    ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, path, s.options());
    struct stat st {};
    BOOST_REQUIRE(::lstat(path.c_str(), &st) == 0);
    BOOST_TEST(S_ISSOCK(st.st_mode));
    BOOST_TEST((st.st_mode & 0777) == 0600u);
  }
  BOOST_TEST(!exists(path));  // the destructor unlinked it
  auto options = s.options();
  options.permissions = 0660;
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, path, options);
  struct stat st {};
  BOOST_REQUIRE(::lstat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0660u);
}

BOOST_AUTO_TEST_CASE(abstract_namespace_has_no_file) {
  Served s;
  auto options = s.options();
  options.abstract_namespace = true;
  const std::string name = unique_name("shmkit-abstract");
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, name, options);
  server.start_thread();
  BOOST_TEST(server.socket_path() == "@" + name);
  BOOST_TEST(!exists(name));
  {
    auto a = detail::attach_memfd(server.socket_path(), soon());
    BOOST_TEST(*reinterpret_cast<std::uint64_t*>(a.mapping->data()) == kMarker);
  }
  BOOST_CHECK_EXCEPTION(ControlServer(s.memfd->fd(), kSize, detail::kFormatVersion, name, options), Error,
                        [](const Error& e) { return errc_is(e, Errc::busy); });
  // '@' without the option is a mistake, not a file name.
  BOOST_CHECK_EXCEPTION(ControlServer(s.memfd->fd(), kSize, detail::kFormatVersion, "@" + name, s.options()), Error,
                        [](const Error& e) { return errc_is(e, Errc::invalid_argument); });
}

BOOST_AUTO_TEST_CASE(caller_event_loop_drives_the_server) {
  Served s;
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, temp_socket_path(), s.options());
  ChildProcess child = helper_attach(server.socket_path(), 4);
  const pid_t pid = child.pid();
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  // The caller's loop: poll the server's fd, then let it handle what is ready.
  while (std::chrono::steady_clock::now() < give_up) {
    {
      std::lock_guard lock(s.recorder.mutex);
      if (s.recorder.has_event_locked(pid, false)) break;
    }
    pollfd p{server.fd(), POLLIN, 0};
    if (::poll(&p, 1, 1000) == 1) server.handle_events();
  }
  const ExitStatus st = child.wait(10s);
  BOOST_TEST(st.ok(), st.describe());
  std::lock_guard lock(s.recorder.mutex);
  BOOST_TEST(s.recorder.has_event_locked(pid, true));
  BOOST_TEST(s.recorder.has_event_locked(pid, false));
}

BOOST_AUTO_TEST_CASE(thread_stops_promptly_and_handle_events_is_refused_meanwhile) {
  Served s;
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, temp_socket_path(), s.options());
  server.start_thread();
  BOOST_CHECK_EXCEPTION(server.handle_events(), Error, [](const Error& e) { return errc_is(e, Errc::busy); });
  const auto t0 = std::chrono::steady_clock::now();
  server.stop();
  BOOST_TEST(elapsed_ms(t0) < 2000);
  server.start_thread();  // restartable
  { auto a = detail::attach_memfd(server.socket_path(), soon()); }
  server.stop();
  BOOST_CHECK_NO_THROW(server.handle_events());
}

// Idle connections of a uid the policy refuses are answered and closed at accept: they never
// hold one of the server's places, so an allowed client still attaches at once.
BOOST_AUTO_TEST_CASE(refused_uid_is_refused_at_accept_and_holds_no_place) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("needs root to run a child as uid 65534: skipped");
    return;
  }
  Served s;
  auto options = s.options();
  options.max_clients = 4;
  options.handshake_timeout = 60s;  // without the accept-time refusal these would hold places for 60 s
  options.abstract_namespace = true;
  const std::string path = "@" + unique_name("shmkit-refuse-at-accept");  // abstract: only the policy guards it
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, path, options);
  server.start_thread();
  ChildProcess flood("/usr/bin/setpriv", {"--reuid=65534", "--regid=65534", "--clear-groups", helper_path(kHelper),
                                          "flood", path, "20", "20"});
  const ExitStatus st = flood.wait(60s);
  BOOST_TEST(st.ok(), st.describe());
  auto a = detail::attach_memfd(path, soon());
  BOOST_TEST(a.mapping->size() == kSize);
  BOOST_TEST(s.recorder.wait([&] { return s.recorder.logged_locked("at accept"); }));
}

// One uid other than the server's may hold only max_clients_per_uid places; the rest are
// refused as busy at once, and the server's own user still attaches.
BOOST_AUTO_TEST_CASE(one_uid_cannot_take_every_place) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("needs root to run a child as uid 65534: skipped");
    return;
  }
  Served s;
  auto options = s.options();
  options.max_clients = 4;
  options.max_clients_per_uid = 2;
  options.handshake_timeout = 60s;
  options.policy = AccessPolicy::same_user().allow_uid(65534);
  options.abstract_namespace = true;
  const std::string path = "@" + unique_name("shmkit-per-uid");
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, path, options);
  server.start_thread();
  ChildProcess flood("/usr/bin/setpriv", {"--reuid=65534", "--regid=65534", "--clear-groups", helper_path(kHelper),
                                          "flood", path, "6", "4"});
  const ExitStatus st = flood.wait(60s);
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(s.recorder.wait([&] { return s.recorder.logged_locked("holds 2 connections"); }));
  auto a = detail::attach_memfd(path, soon());
  BOOST_TEST(a.mapping->size() == kSize);
}

BOOST_AUTO_TEST_CASE(max_clients_refuses_the_next_client_as_busy) {
  Served s;
  auto options = s.options();
  options.max_clients = 1;
  options.handshake_timeout = 60s;
  ControlServer server(s.memfd->fd(), kSize, detail::kFormatVersion, temp_socket_path(), options);
  server.start_thread();
  std::optional<UniqueFd> silent = raw_connect(server.socket_path());
  BOOST_CHECK_EXCEPTION(detail::attach_memfd(server.socket_path(), soon()), Error,
                        [](const Error& e) { return errc_is(e, Errc::refused, "maximum of 1 clients"); });
  silent.reset();  // frees the slot once the server sees it hang up
  BOOST_REQUIRE(s.recorder.wait([&] { return s.recorder.logged_locked("hung up before its HELLO"); }));
  auto a = detail::attach_memfd(server.socket_path(), soon());
  BOOST_TEST(a.mapping->size() == kSize);
}

BOOST_AUTO_TEST_CASE(access_policy_decisions) {
  const auto me = static_cast<std::uint32_t>(::geteuid());
  BOOST_TEST(AccessPolicy::same_user().allows(me, 12345));
  BOOST_TEST(!AccessPolicy::same_user().allows(me + 1, 12345));
  BOOST_TEST(AccessPolicy::same_user().allow_uid(me + 1).allows(me + 1, 0));
  BOOST_TEST(AccessPolicy::same_user().allow_gid(77).allows(me + 1, 77));
  AccessPolicy only_others;
  only_others.allow_same_user = false;
  only_others.allow_uid(me + 1);
  BOOST_TEST(!only_others.allows(me, 0));
  BOOST_TEST(only_others.allows(me + 1, 0));
}

BOOST_AUTO_TEST_CASE(default_socket_path_uses_a_private_directory) {
  char dir_template[] = "/tmp/shmkit-xdg-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string xdg = dir_template;
  ScopedEnv env("XDG_RUNTIME_DIR", xdg);
  BOOST_TEST(ControlServer::default_socket_path("seg-1") == xdg + "/shmkit/seg-1.sock");
  struct stat st {};
  BOOST_REQUIRE(::lstat((xdg + "/shmkit").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0700u);
  BOOST_REQUIRE(::chmod((xdg + "/shmkit").c_str(), 0770) == 0);
  BOOST_CHECK_EXCEPTION(ControlServer::default_socket_path("seg-1"), Error,
                        [](const Error& e) { return errc_is(e, Errc::permission_denied, "writable by group"); });
  ::rmdir((xdg + "/shmkit").c_str());
  BOOST_REQUIRE(::symlink("/tmp", (xdg + "/shmkit").c_str()) == 0);
  BOOST_CHECK_EXCEPTION(ControlServer::default_socket_path("seg-1"), Error,
                        [](const Error& e) { return errc_is(e, Errc::permission_denied, "not a directory"); });
  ::unlink((xdg + "/shmkit").c_str());
  ::rmdir(xdg.c_str());

  env.unset();
  const std::string fallback = "/tmp/shmkit-" + std::to_string(::geteuid());
  BOOST_TEST(ControlServer::default_socket_path("seg-1") == fallback + "/seg-1.sock");
  BOOST_CHECK_EXCEPTION(ControlServer::default_socket_path("../x"), Error,
                        [](const Error& e) { return errc_is(e, Errc::invalid_argument); });
  BOOST_CHECK_EXCEPTION(ControlServer::default_socket_path(""), Error,
                        [](const Error& e) { return errc_is(e, Errc::invalid_argument); });
  BOOST_CHECK_EXCEPTION(ControlServer::default_socket_path(std::string(120, 'n')), Error,
                        [](const Error& e) { return errc_is(e, Errc::invalid_argument, "shorter segment name"); });
}
