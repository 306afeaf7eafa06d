// Control channel client: HELLO out, ACCEPT (+ fds) or REFUSE in, then map the segment memfd.
#include "control_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <chrono>
#include <thread>
#include <string_view>
#include <variant>

#include "control_protocol.hpp"
#include "segment_header.hpp"
#include "shmkit/error.hpp"
#include "unique_fd.hpp"

namespace shmkit::detail {
namespace {

namespace ctl = control;

// How long a client looks for the server's reply before it sleeps in poll().
constexpr DeadlineNs kReplySpinNs = 50'000;

// Milliseconds left until `deadline` for poll(), rounded up so a wait never ends early; -1 = none.
int poll_timeout(DeadlineNs deadline) noexcept {
  if (deadline == kNoDeadline) return -1;
  const DeadlineNs left = deadline - steady_now_ns();
  if (left <= 0) return 0;
  const DeadlineNs ms = (left + 999'999) / 1'000'000;
  return static_cast<int>(std::min<DeadlineNs>(ms, INT_MAX));
}

[[noreturn]] void throw_timeout(const std::string& path, const char* stage) {
  throw Error(Errc::timeout, "control server at '" + path + "' did not " + stage + " before the deadline");
}

// Connects a non-blocking socket. AF_UNIX connects at once or, when the server's listen backlog
// is full, fails with EAGAIN (it cannot be polled for): then retry in short naps until `deadline`.
void connect_until(int sock, const ctl::SocketAddress& address, const std::string& path, DeadlineNs deadline) {
  std::chrono::microseconds nap{50};
  for (;;) {
    if (::connect(sock, reinterpret_cast<const sockaddr*>(&address.address), address.length) == 0) return;
    const int e = errno;
    switch (e) {
      case EINTR: continue;  // nothing was queued: connecting again starts afresh
      case EISCONN: return;
      case EAGAIN:
        if (steady_now_ns() >= deadline) throw_timeout(path, "accept the connection (its backlog is full)");
        std::this_thread::sleep_for(nap);
        nap = std::min(nap * 2, std::chrono::microseconds{2000});
        continue;
      case ENOENT:
        throw Error(Errc::not_found, "no control server at '" + path + "': no such socket", e);
      case ECONNREFUSED:
        throw Error(Errc::not_found, "no control server is listening on '" + path +
                                        "' (a stale socket left by a server that exited?)", e);
      case EACCES:
      case EPERM:
        throw Error(Errc::permission_denied, "no permission to connect to control socket '" + path + "'", e);
      case EPROTOTYPE:
        throw Error(Errc::protocol_error, "'" + path + "' is a socket of another type, not a shmkit control socket", e);
      case EINPROGRESS:
      case ETIMEDOUT: throw_timeout(path, "accept the connection (its backlog is full)");
      default: throw_os_error("cannot connect to control socket '" + path + "'", e);
    }
  }
}

// Waits for `events` on the socket; returns the revents (never 0), or throws timeout.
short wait_for(int sock, short events, const std::string& path, DeadlineNs deadline, const char* stage) {
  for (;;) {
    pollfd p{sock, events, 0};
    const int r = ::poll(&p, 1, poll_timeout(deadline));
    if (r > 0) return p.revents;
    if (r == 0) throw_timeout(path, stage);
    if (errno != EINTR) throw_os_error("poll on control socket '" + path + "'", errno);
  }
}

[[noreturn]] void throw_refused(const std::string& path, const ctl::Refuse& r) {
  std::string msg = "control server at '" + path + "' refused this client (" + ctl::to_string(r.code) + "): " + r.reason;
  if (r.code == ctl::RefuseCode::unsupported_version)
    msg += " [server speaks protocol versions " + std::to_string(r.min_version) + " to " +
           std::to_string(r.max_version) + ", this client " + std::to_string(ctl::kProtocolVersion) + "]";
  switch (r.code) {
    case ctl::RefuseCode::access_denied: throw Error(Errc::permission_denied, msg);
    case ctl::RefuseCode::incompatible_format: throw Error(Errc::incompatible_format, msg);
    case ctl::RefuseCode::unsupported_access:
      throw Error(Errc::unsupported, msg + " [the server predates read-only views: open read-write, or upgrade it]");
    default: throw Error(Errc::refused, msg);
  }
}

[[noreturn]] void bad_reply(const std::string& path, const std::string& what) {
  throw Error(Errc::protocol_error, "control server at '" + path + "' broke the protocol: " + what);
}

// True if this process cannot open one more fd (EMFILE): as it is, or nearly, at RLIMIT_NOFILE.
bool at_fd_limit(int any_fd) {
  const UniqueFd probe(::fcntl(any_fd, F_DUPFD_CLOEXEC, 0));
  return !probe && errno == EMFILE;
}

std::string fd_limit_text() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return "unknown";
  return std::to_string(lim.rlim_cur) + " files";
}

}  // namespace

// The server's uid (SO_PEERCRED of our connected socket) must be one we trust: a socket path of
// another user's making, or an abstract name anyone can bind, must not hand us their segment.
void check_server_uid(int sock, const std::string& path, const std::vector<std::uint32_t>& trusted) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    throw_os_error("cannot read the credentials of the control server at '" + path + "'", errno);
  const bool ok = trusted.empty() ? (cred.uid == ::geteuid() || cred.uid == 0)
                                  : std::find(trusted.begin(), trusted.end(), cred.uid) != trusted.end();
  if (!ok)
    throw Error(Errc::permission_denied, "control socket '" + path + "' is served by uid " + std::to_string(cred.uid) +
                                             (trusted.empty() ? ", neither ours nor root's" : ", not a trusted uid") +
                                             ": if that server is meant, list its uid in SegmentOptions::trusted_server_uids");
}

AttachedMemfd attach_memfd(const std::string& socket_path, DeadlineNs deadline, bool read_only, bool check_directory,
                           const std::vector<std::uint32_t>& trusted_server_uids) {
  const ctl::SocketAddress address = ctl::socket_address(socket_path);
  UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock && errno == EMFILE)
    throw Error(Errc::resource_limit, "cannot create a control socket: this process has too many open files (its "
                                      "RLIMIT_NOFILE, " + fd_limit_text() +
                                          ", is reached); close files it does not need or raise the limit (ulimit -n)");
  if (!sock) throw_os_error("cannot create a control socket", errno);
  connect_until(sock.get(), address, socket_path, deadline);
  // Checked after connect() rather than before: these system calls then overlap the server's
  // wake-up. A connection alone tells a stranger's socket nothing, and a refused directory ends
  // it before our HELLO. A directory swapped between check and connect is the same race either way.
  if (check_directory) check_client_socket_directory(socket_path);
  check_server_uid(sock.get(), socket_path, trusted_server_uids);

  ctl::Hello hello;
  hello.format_version = kFormatVersion;
  if (read_only) hello.access = ctl::Access::read_only;
  const auto hello_bytes = ctl::encode_hello(hello);
  // The connection is fresh, so the packet goes at once (a full queue waits for POLLOUT). A server
  // may refuse (busy) and close before reading our HELLO: then the send fails, but its REFUSE is
  // waiting in our queue, so the answer is still read below.
  for (;;) {
    try {
      ctl::send_packet(sock.get(), hello_bytes);
      break;
    } catch (const Error& e) {
      if (e.errc() == Errc::peer_gone) break;
      if (e.errc() != Errc::resource_limit) throw;
    }
    if ((wait_for(sock.get(), POLLOUT, socket_path, deadline, "take our HELLO") & POLLOUT) == 0) break;
  }

  std::array<std::byte, ctl::kReceiveBufferSize> buffer{};
  ctl::ReceivedPacket packet;
  bool reset_seen = false;
  // The server answers within microseconds of its wake-up: look for the reply without sleeping
  // for a while first, which saves our own wake-up (costly on a VM) on a fast attach.
  const DeadlineNs spin_until = steady_now_ns() + kReplySpinNs;
  for (;;) {
    ctl::ReceiveStatus status = ctl::ReceiveStatus::would_block;
    try {
      status = ctl::receive_packet(sock.get(), buffer, packet);
    } catch (const Error& e) {
      // ECONNRESET (the server closed with our HELLO unread) is reported before packets still
      // queued for us; reading it clears it, so look once more for the server's REFUSE.
      if (e.errc() != Errc::peer_gone || reset_seen) throw;
      reset_seen = true;
      continue;
    }
    if (status == ctl::ReceiveStatus::packet) break;
    if (status == ctl::ReceiveStatus::hung_up)
      throw Error(Errc::peer_gone, "control server at '" + socket_path + "' hung up without answering");
    if (steady_now_ns() < std::min(spin_until, deadline)) continue;
    const short in = wait_for(sock.get(), POLLIN, socket_path, deadline, "answer our HELLO");
    if ((in & (POLLIN | POLLHUP | POLLERR)) == 0)
      throw Error(Errc::peer_gone, "control server at '" + socket_path + "' hung up without answering");
  }
  // From here every fd that arrived is owned by `packet` and closed by any throw below.
  if (packet.truncated) bad_reply(socket_path, "its reply is longer than any valid message");
  if (packet.control_truncated) {
    // The kernel also cuts the fds it cannot install in a process at its fd limit: then the
    // fault is ours, not the server's.
    if (at_fd_limit(sock.get()))
      throw Error(Errc::resource_limit,
                  "cannot receive the segment from the control server at '" + socket_path +
                      "': this process has too many open files (its RLIMIT_NOFILE, " + fd_limit_text() +
                      ", is reached); close files it does not need or raise the limit (ulimit -n)");
    bad_reply(socket_path, "it passed more than " + std::to_string(ctl::kMaxFds) + " fds or oversized control data");
  }
  if (packet.fds.size() > ctl::kMaxFds)
    bad_reply(socket_path, "it passed " + std::to_string(packet.fds.size()) + " fds, more than " +
                               std::to_string(ctl::kMaxFds) + " allowed");

  const auto reply = ctl::decode_reply(std::span(buffer.data(), packet.size));
  if (const auto* refuse = std::get_if<ctl::Refuse>(&reply)) {
    if (!packet.fds.empty()) bad_reply(socket_path, "its REFUSE carried " + std::to_string(packet.fds.size()) + " fds");
    throw_refused(socket_path, *refuse);
  }
  const auto& accept = std::get<ctl::Accept>(reply);
  if (packet.fds.size() != accept.fd_count)
    bad_reply(socket_path, "ACCEPT lists " + std::to_string(accept.fd_count) + " fds but " +
                               std::to_string(packet.fds.size()) + " arrived");
  if (accept.format_version != hello.format_version)
    bad_reply(socket_path, "it accepted with segment format " + std::to_string(accept.format_version) +
                               " though we asked for " + std::to_string(hello.format_version));
  // decode_reply checked there is exactly one segment memfd; eventfds (reserved) are not used
  // by this version and are closed with `packet`.
  const auto memfd_at = static_cast<std::size_t>(
      std::find(accept.roles.begin(), accept.roles.end(), ctl::FdRole::segment_memfd) - accept.roles.begin());

  AttachedMemfd attached;
  attached.mapping = map_received_memfd(std::move(packet.fds[memfd_at]), static_cast<std::size_t>(accept.segment_size),
                                        !read_only && (accept.segment_flags & ctl::kSegmentWritable) != 0);
  attached.control_socket = std::move(sock);
  attached.format_version = accept.format_version;
  attached.flags = accept.segment_flags;
  return attached;
}

namespace {

// An fd claimed to be an eventfd: the kernel names its anonymous inode so.
bool is_eventfd(int fd) {
  char target[64] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
  return n > 0 && std::string_view(target, static_cast<std::size_t>(n)) == "anon_inode:[eventfd]";
}

}  // namespace

EventFdGrant request_event_fd(const std::string& socket_path, const std::string& channel, DeadlineNs deadline,
                              const std::vector<std::uint32_t>& trusted_server_uids) {
  if (channel.empty() || channel.size() > ctl::kMaxChannelNameBytes || !ctl::valid_reason_text(channel))
    throw Error(Errc::invalid_argument, "channel name '" + channel + "' cannot be sent in an FD_REQUEST (1 to " +
                                            std::to_string(ctl::kMaxChannelNameBytes) + " bytes of printable UTF-8)");
  const ctl::SocketAddress address = ctl::socket_address(socket_path);
  UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock) throw_os_error("cannot create a control socket", errno);
  connect_until(sock.get(), address, socket_path, deadline);
  check_server_uid(sock.get(), socket_path, trusted_server_uids);
  try {
    ctl::send_packet(sock.get(), ctl::encode_fd_request(channel));
  } catch (const Error& e) {
    if (e.errc() != Errc::peer_gone) throw;  // a REFUSE may still be queued for us: read it below
  }
  std::array<std::byte, ctl::kReceiveBufferSize> buffer{};
  ctl::ReceivedPacket packet;
  for (;;) {
    const ctl::ReceiveStatus status = ctl::receive_packet(sock.get(), buffer, packet);
    if (status == ctl::ReceiveStatus::packet) break;
    if (status == ctl::ReceiveStatus::hung_up)
      throw Error(Errc::peer_gone, "control server at '" + socket_path + "' hung up without answering FD_REQUEST");
    const short in = wait_for(sock.get(), POLLIN, socket_path, deadline, "answer our FD_REQUEST");
    if ((in & (POLLIN | POLLHUP | POLLERR)) == 0)
      throw Error(Errc::peer_gone, "control server at '" + socket_path + "' hung up without answering FD_REQUEST");
  }
  if (packet.truncated) bad_reply(socket_path, "its reply is longer than any valid message");
  if (packet.control_truncated) bad_reply(socket_path, "its reply's fds or control data were cut");
  const auto reply = ctl::decode_event_reply(std::span(buffer.data(), packet.size));
  if (const auto* refuse = std::get_if<ctl::Refuse>(&reply)) {
    if (!packet.fds.empty()) bad_reply(socket_path, "its REFUSE carried " + std::to_string(packet.fds.size()) + " fds");
    throw_refused(socket_path, *refuse);
  }
  if (packet.fds.size() != 1)
    bad_reply(socket_path, "EVENT_FD carried " + std::to_string(packet.fds.size()) + " fds, not one");
  if (!is_eventfd(packet.fds[0].get())) bad_reply(socket_path, "the fd EVENT_FD passed is not an eventfd");
  // Reads that clear it must never block, whatever the server made.
  const int fl = ::fcntl(packet.fds[0].get(), F_GETFL);
  if (fl < 0 || ((fl & O_NONBLOCK) == 0 && ::fcntl(packet.fds[0].get(), F_SETFL, fl | O_NONBLOCK) != 0))
    throw_os_error("cannot make channel '" + channel + "''s eventfd non-blocking", errno);
  EventFdGrant grant;
  grant.slot = std::get<ctl::EventFdReply>(reply).slot;
  grant.event_fd = packet.fds[0].release();
  grant.connection = sock.release();
  return grant;
}

bool control_peer_gone(int control_socket) noexcept {
  pollfd p{control_socket, POLLRDHUP, 0};
  int r = 0;
  do {
    r = ::poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return true;  // the socket itself is unusable: treat as gone
  return (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace shmkit::detail
