// attach_memfd against a fake server (a raw socket in this test) that misbehaves in every way
// the client must catch: each is a typed Error, and no fd it was sent stays open.
#define BOOST_TEST_MODULE control_client
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "control_client.hpp"
#include "control_protocol.hpp"
#include "segment_header.hpp"
#include "shmkit/error.hpp"

using namespace shmkit;
using namespace shmkit::test;
using detail::UniqueFd;
namespace ctl = shmkit::detail::control;

namespace {

constexpr std::size_t kSize = 64 * 1024;
constexpr int kGoodSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
constexpr std::uint64_t kMarker = 0x5348'4B43'5445'5354ULL;

UniqueFd sealed_memfd(std::size_t size, int seals = kGoodSeals) {
  UniqueFd fd(::memfd_create("shmkit-fake-server", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd || ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) throw std::runtime_error("memfd setup");
  if (seals != 0 && ::fcntl(fd.get(), F_ADD_SEALS, seals) != 0) throw std::runtime_error("seal setup");
  return fd;
}

std::vector<std::byte> accept_bytes(std::uint32_t fd_count = 1, std::uint64_t size = kSize) {
  ctl::Accept a;
  a.segment_size = size;
  a.format_version = detail::kFormatVersion;
  a.segment_flags = ctl::kSegmentWritable;
  a.fd_count = fd_count;
  a.roles[0] = ctl::FdRole::segment_memfd;
  for (std::uint32_t i = 1; i < fd_count; ++i) a.roles[i] = ctl::FdRole::eventfd;
  const auto b = ctl::encode_accept(a);
  return {b.begin(), b.end()};
}

std::vector<std::byte> refuse_bytes(ctl::RefuseCode code, const std::string& reason) {
  ctl::Refuse r;
  r.code = code;
  r.reason = reason;
  return ctl::encode_refuse(r);
}

// Raw sendmsg with any number of fds (send_packet caps at 8, the fake must be able to exceed it).
void raw_send(int sock, const std::vector<std::byte>& bytes, const std::vector<int>& fds) {
  std::vector<char> control(CMSG_SPACE(sizeof(int) * std::max<std::size_t>(fds.size(), 1)));
  iovec iov{const_cast<std::byte*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  if (::sendmsg(sock, &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size()))
    throw std::runtime_error(std::string("fake server sendmsg: ") + std::strerror(errno));
}

// Listens on a fresh path; its thread accepts one client, checks the HELLO, runs `reply`, then
// waits for the client to hang up (the client's close is the event; 10 s guards a stuck test).
class FakeServer {
 public:
  using Reply = std::function<void(int client)>;
  explicit FakeServer(Reply reply) : path_("/tmp/" + unique_name("shmkit-fake") + ".sock") {
    listener_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    const auto address = ctl::socket_address(path_);
    if (!listener_ || ::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address.address), address.length) != 0 ||
        ::listen(listener_.get(), 4) != 0)
      throw std::runtime_error("fake server setup");
    thread_ = std::thread([this, reply = std::move(reply)] {
      try {
        serve(reply);
      } catch (const std::exception& e) {
        fail(e.what());
      }
    });
  }
  ~FakeServer() {
    if (thread_.joinable()) thread_.join();
    ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // Waits for the server thread (it ends once the client hung up) and returns the problems it
  // saw: Boost.Test assertions belong to the main thread.
  std::vector<std::string> finish() {
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    return problems_;
  }

 private:
  void fail(const std::string& what) {
    std::lock_guard lock(mutex_);
    problems_.push_back(what);
  }
  void serve(const Reply& reply) {
    pollfd pl{listener_.get(), POLLIN, 0};
    if (::poll(&pl, 1, 10'000) != 1) return fail("no client connected");
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) return fail("accept failed");
    std::byte hello[64];
    const ssize_t n = ::recv(client.get(), hello, sizeof hello, 0);
    if (n <= 0) return fail("no HELLO");
    auto decoded = ctl::decode_hello(std::span<const std::byte>(hello, static_cast<std::size_t>(n)));
    if (!std::holds_alternative<ctl::Hello>(decoded)) return fail("client sent an invalid HELLO");
    if (std::get<ctl::Hello>(decoded).format_version != detail::kFormatVersion) fail("HELLO format version");
    reply(client.get());
    pollfd pc{client.get(), POLLRDHUP, 0};
    if (::poll(&pc, 1, 10'000) != 1) fail("client did not hang up");
  }

  std::string path_;
  UniqueFd listener_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> problems_;
};

detail::DeadlineNs soon() { return detail::deadline_after(std::chrono::seconds(5)); }

// Runs attach_memfd against a fake server answering with `reply`; expects Error(code) whose
// message contains `text`, and this process's fd count unchanged once both sides are done.
void expect_attach_error(const FakeServer::Reply& reply, Errc code, const std::string& text,
                         std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
  const int before = open_fd_count();
  {
    FakeServer server(reply);
    BOOST_CHECK_EXCEPTION(detail::attach_memfd(server.path(), detail::deadline_after(deadline)), Error,
                          [&](const Error& e) {
                            BOOST_TEST_MESSAGE(to_string(e.errc()) << ": " << e.what());
                            return e.errc() == code && std::string(e.what()).find(text) != std::string::npos;
                          });
    for (const auto& p : server.finish()) BOOST_ERROR("fake server: " << p);
    // ~FakeServer closes the listener before the count below.
  }
  BOOST_TEST(open_fd_count() == before);
}

bool is(const Error& e, Errc code) { return e.errc() == code; }

}  // namespace

BOOST_AUTO_TEST_CASE(good_accept_maps_the_servers_memory) {
  const int before = open_fd_count();
  {
    UniqueFd memfd = sealed_memfd(kSize);
    void* p = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
    BOOST_REQUIRE(p != MAP_FAILED);
    *static_cast<std::uint64_t*>(p) = kMarker;
    FakeServer server([&](int c) { raw_send(c, accept_bytes(), {memfd.get()}); });
    {
      auto a = detail::attach_memfd(server.path(), soon());
      BOOST_TEST(*reinterpret_cast<std::uint64_t*>(a.mapping->data()) == kMarker);
      BOOST_TEST(a.mapping->size() == kSize);
      BOOST_TEST(a.mapping->writable());
      BOOST_TEST(a.format_version == detail::kFormatVersion);
      BOOST_TEST(a.flags == ctl::kSegmentWritable);
      reinterpret_cast<std::uint64_t*>(a.mapping->data())[1] = 7;
      BOOST_TEST(static_cast<std::uint64_t*>(p)[1] == 7u);
      BOOST_TEST(!detail::control_peer_gone(a.control_socket.get()));
    }
    ::munmap(p, kSize);
    for (const auto& problem : server.finish()) BOOST_ERROR(problem);
  }
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(reserved_eventfd_role_is_closed_unused) {
  const int before = open_fd_count();
  {
    UniqueFd memfd = sealed_memfd(kSize);
    UniqueFd efd(::memfd_create("stand-in-eventfd", MFD_CLOEXEC));
    FakeServer server([&](int c) { raw_send(c, accept_bytes(2), {memfd.get(), efd.get()}); });
    auto a = detail::attach_memfd(server.path(), soon());
    BOOST_TEST(a.mapping->size() == kSize);
    // Only the memfd and the control socket stayed: the eventfd-role fd was closed.
    BOOST_TEST(open_fd_count() == before + 2 /*memfd, efd*/ + 1 /*listener*/ + 2 /*ours*/ + 1 /*server's client*/);
  }
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(wrong_version_is_refused) {
  expect_attach_error(
      [](int c) {
        auto b = accept_bytes();
        b[4] = std::byte{2};
        UniqueFd memfd = sealed_memfd(kSize);
        raw_send(c, b, {memfd.get()});
      },
      Errc::protocol_error, "ACCEPT is protocol version 2");
}

BOOST_AUTO_TEST_CASE(truncated_message_is_refused) {
  expect_attach_error(
      [](int c) {
        auto b = accept_bytes();
        b.resize(40);
        UniqueFd memfd = sealed_memfd(kSize);
        raw_send(c, b, {memfd.get()});
      },
      Errc::protocol_error, "ACCEPT has 40 bytes");
}

BOOST_AUTO_TEST_CASE(oversized_message_is_refused) {
  expect_attach_error(
      [](int c) {
        auto b = accept_bytes();
        b.resize(4000);
        raw_send(c, b, {});
      },
      Errc::protocol_error, "longer than any valid message");
}

BOOST_AUTO_TEST_CASE(garbage_is_refused) {
  expect_attach_error([](int c) { raw_send(c, std::vector<std::byte>(64, std::byte{0x5A}), {}); },
                      Errc::protocol_error, "magic");
}

BOOST_AUTO_TEST_CASE(accept_without_fd_is_refused) {
  expect_attach_error([](int c) { raw_send(c, accept_bytes(), {}); }, Errc::protocol_error,
                      "lists 1 fds but 0 arrived");
}

BOOST_AUTO_TEST_CASE(two_fds_for_one_listed_are_refused_and_both_closed) {
  expect_attach_error(
      [](int c) {
        UniqueFd a = sealed_memfd(kSize), b = sealed_memfd(kSize);
        raw_send(c, accept_bytes(1), {a.get(), b.get()});
      },
      Errc::protocol_error, "lists 1 fds but 2 arrived");
}

BOOST_AUTO_TEST_CASE(two_segment_memfds_are_refused) {
  expect_attach_error(
      [](int c) {
        auto bytes = accept_bytes(2);
        bytes[36] = std::byte{1};  // roles[1] = segment memfd as well
        UniqueFd a = sealed_memfd(kSize), b = sealed_memfd(kSize);
        raw_send(c, bytes, {a.get(), b.get()});
      },
      Errc::protocol_error, "exactly one segment memfd");
}

BOOST_AUTO_TEST_CASE(more_than_eight_fds_are_refused_and_none_leak) {
  // 12 fit the client's control buffer (all arrive); 40 do not (the kernel drops the rest).
  for (const int count : {12, 40}) {
    BOOST_TEST_CONTEXT(count << " fds") {
      expect_attach_error(
          [count](int c) {
            std::vector<UniqueFd> owned;
            std::vector<int> fds;
            for (int i = 0; i < count; ++i) {
              owned.push_back(sealed_memfd(kSize));
              fds.push_back(owned.back().get());
            }
            raw_send(c, accept_bytes(1), fds);
          },
          Errc::protocol_error, "more than 8");
    }
  }
}

BOOST_AUTO_TEST_CASE(regular_file_fd_is_refused) {
  expect_attach_error(
      [](int c) {
        char path[] = "/tmp/shmkit-fake-file-XXXXXX";
        UniqueFd f(::mkostemp(path, O_CLOEXEC));
        ::unlink(path);
        if (!f || ::ftruncate(f.get(), kSize) != 0) throw std::runtime_error("temp file");
        raw_send(c, accept_bytes(), {f.get()});
      },
      Errc::protocol_error, "regular file, not a memfd");
}

BOOST_AUTO_TEST_CASE(pipe_fd_is_refused) {
  expect_attach_error(
      [](int c) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
        UniqueFd r(p[0]), w(p[1]);
        raw_send(c, accept_bytes(), {r.get()});
      },
      Errc::protocol_error, "a pipe");
}

BOOST_AUTO_TEST_CASE(unsealed_memfd_is_refused) {
  expect_attach_error(
      [](int c) {
        UniqueFd m = sealed_memfd(kSize, 0);
        raw_send(c, accept_bytes(), {m.get()});
      },
      Errc::protocol_error, "could resize it");
}

BOOST_AUTO_TEST_CASE(size_that_disagrees_with_fstat_is_refused) {
  expect_attach_error(
      [](int c) {
        UniqueFd m = sealed_memfd(kSize);
        raw_send(c, accept_bytes(1, 2 * kSize), {m.get()});
      },
      Errc::too_small, "the server announced 131072");
}

BOOST_AUTO_TEST_CASE(refusals_carry_the_servers_reason) {
  expect_attach_error([](int c) { raw_send(c, refuse_bytes(ctl::RefuseCode::access_denied, "go away uid 7"), {}); },
                      Errc::permission_denied, "go away uid 7");
  expect_attach_error(
      [](int c) {
        raw_send(c, refuse_bytes(ctl::RefuseCode::unsupported_version, "this server speaks versions 1 to 1"), {});
      },
      Errc::refused, "server speaks protocol versions 1 to 2");
  expect_attach_error([](int c) { raw_send(c, refuse_bytes(ctl::RefuseCode::server_busy, "full"), {}); },
                      Errc::refused, "server_busy");
  expect_attach_error(
      [](int c) { raw_send(c, refuse_bytes(ctl::RefuseCode::incompatible_format, "format 9 here"), {}); },
      Errc::incompatible_format, "format 9 here");
}

BOOST_AUTO_TEST_CASE(refuse_with_fds_or_bad_text_is_a_protocol_error) {
  expect_attach_error(
      [](int c) {
        UniqueFd m = sealed_memfd(kSize);
        raw_send(c, refuse_bytes(ctl::RefuseCode::access_denied, "no"), {m.get()});
      },
      Errc::protocol_error, "REFUSE carried 1 fds");
  expect_attach_error(
      [](int c) {
        auto b = refuse_bytes(ctl::RefuseCode::access_denied, "abc");
        b.back() = std::byte{0xFF};
        raw_send(c, b, {});
      },
      Errc::protocol_error, "not printable UTF-8");
}

BOOST_AUTO_TEST_CASE(server_hanging_up_or_silent) {
  expect_attach_error([](int c) { ::shutdown(c, SHUT_RDWR); }, Errc::peer_gone, "without answering");
  // Never answers: the deadline ends the wait (the fake waits for our hang-up).
  expect_attach_error([](int) {}, Errc::timeout, "did not answer our HELLO", std::chrono::milliseconds(300));
}

BOOST_AUTO_TEST_CASE(no_server_is_not_found) {
  const int before = open_fd_count();
  const std::string path = "/tmp/" + unique_name("shmkit-nobody") + ".sock";
  BOOST_CHECK_EXCEPTION(detail::attach_memfd(path, soon()), Error, [](const Error& e) { return is(e, Errc::not_found); });
  BOOST_CHECK_EXCEPTION(detail::attach_memfd("@" + unique_name("shmkit-nobody"), soon()), Error,
                        [](const Error& e) { return is(e, Errc::not_found); });
  {
    // A stale socket file: bound, never listening (as after its server crashed).
    UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    const auto address = ctl::socket_address(path);
    BOOST_REQUIRE(::bind(s.get(), reinterpret_cast<const sockaddr*>(&address.address), address.length) == 0);
  }
  BOOST_CHECK_EXCEPTION(detail::attach_memfd(path, soon()), Error, [](const Error& e) {
    return is(e, Errc::not_found) && std::string(e.what()).find("stale") != std::string::npos;
  });
  ::unlink(path.c_str());
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(liveness_sees_the_server_hang_up) {
  UniqueFd memfd = sealed_memfd(kSize);
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  FakeServer server([&](int c) {
    raw_send(c, accept_bytes(), {memfd.get()});
    // Stays connected until the test says so, then hangs up.
    std::unique_lock lock(m);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return release; });
    ::shutdown(c, SHUT_RDWR);
  });
  auto a = detail::attach_memfd(server.path(), soon());
  BOOST_TEST(!detail::control_peer_gone(a.control_socket.get()));
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  pollfd p{a.control_socket.get(), POLLRDHUP, 0};
  BOOST_TEST(::poll(&p, 1, 10'000) == 1);
  BOOST_TEST(detail::control_peer_gone(a.control_socket.get()));
  a.control_socket.reset();  // lets the fake server's thread finish
  for (const auto& problem : server.finish()) BOOST_ERROR(problem);
}

// receive_packet on a SEQPACKET pair: a peer's last packet comes before its hang-up, and an
// empty packet is a packet. Both read as 0 bytes on a first look: the empty packet always, the
// last packet when the peer's send and close land inside our recvmsg (the kernel then reports
// EOF with the packet queued; seen by the attach floor in shmkit-bench, about 1 in 1000 attaches,
// and too narrow a window to force here), so receive_packet looks again after a 0.
BOOST_AUTO_TEST_CASE(last_packet_before_hang_up_and_empty_packets) {
  int pair[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
  UniqueFd ours(pair[0]), peer(pair[1]);
  std::array<std::byte, ctl::kReceiveBufferSize> buffer{};
  ctl::ReceivedPacket packet;
  BOOST_TEST((ctl::receive_packet(ours.get(), buffer, packet) == ctl::ReceiveStatus::would_block));

  BOOST_REQUIRE(::send(peer.get(), "", 0, MSG_NOSIGNAL) == 0);
  BOOST_TEST((ctl::receive_packet(ours.get(), buffer, packet) == ctl::ReceiveStatus::packet));
  BOOST_TEST(packet.size == 0u);
  BOOST_TEST((ctl::receive_packet(ours.get(), buffer, packet) == ctl::ReceiveStatus::would_block));

  const auto refuse = refuse_bytes(ctl::RefuseCode::access_denied, "bye");
  raw_send(peer.get(), refuse, {});
  peer.reset();
  BOOST_TEST((ctl::receive_packet(ours.get(), buffer, packet) == ctl::ReceiveStatus::packet));
  BOOST_TEST(packet.size == refuse.size());
  BOOST_TEST((ctl::receive_packet(ours.get(), buffer, packet) == ctl::ReceiveStatus::hung_up));
  BOOST_TEST((ctl::receive_packet(ours.get(), buffer, packet) == ctl::ReceiveStatus::hung_up));
}
