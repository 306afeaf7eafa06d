// shmkit::ControlServer (Linux): hands a memfd segment's fd to other processes over a Unix
// domain socket (SOCK_SEQPACKET, SCM_RIGHTS). docs/protocol.md describes the wire protocol.
//
// Clients stay connected after they are accepted, so each side sees the other hang up: the
// server reports attach/detach (on_client, clients()), a client can tell when the server died.
// Who may attach is decided by the peer's credentials (SO_PEERCRED) against an AccessPolicy,
// on top of the socket file's permissions.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace shmkit {

namespace detail {
struct ControlServerAccess;
}

// Which peers may attach: the server's own effective uid (unless allow_same_user is cleared),
// plus listed uids and gids. The gid is the peer's effective gid at connect time (SO_PEERCRED
// does not carry supplementary groups).
//
// Read-only peers (a monitoring client of another uid, say) are listed in read_only_uids /
// read_only_gids: they get a read-only fd (the memfd reopened O_RDONLY) and map the segment
// PROT_READ, so the kernel refuses any write by them; they must open a SegmentView
// (SegmentView::open, attach_memfd_read_only): a read-write request from them is refused
// (access_denied). Any allowed peer may ask for read-only access. docs/reliability.md.
struct AccessPolicy {
  bool allow_same_user = true;
  std::vector<std::uint32_t> uids = {};
  std::vector<std::uint32_t> gids = {};
  std::vector<std::uint32_t> read_only_uids = {};
  std::vector<std::uint32_t> read_only_gids = {};

  static AccessPolicy same_user() { return AccessPolicy{}; }
  AccessPolicy& allow_uid(std::uint32_t uid) {
    uids.push_back(uid);
    return *this;
  }
  AccessPolicy& allow_gid(std::uint32_t gid) {
    gids.push_back(gid);
    return *this;
  }
  AccessPolicy& allow_uid_read_only(std::uint32_t uid) {
    read_only_uids.push_back(uid);
    return *this;
  }
  AccessPolicy& allow_gid_read_only(std::uint32_t gid) {
    read_only_gids.push_back(gid);
    return *this;
  }
  // May this peer attach at all (read-write or read-only)?
  bool allows(std::uint32_t uid, std::uint32_t gid) const;
  // May it attach read-write?
  bool allows_read_write(std::uint32_t uid, std::uint32_t gid) const;
};

struct ControlClientInfo {
  std::uint64_t id = 0;  // unique per server, in connect order
  std::int32_t pid = 0;  // from SO_PEERCRED at connect time
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::chrono::system_clock::time_point connected;
};

struct ControlServerOptions {
  AccessPolicy policy = {};
  // Bind in the abstract namespace (no file; socket_path() then starts with '@'). Only the
  // policy guards an abstract socket: anyone in the network namespace can connect.
  bool abstract_namespace = false;
  unsigned permissions = 0600;  // mode of the socket file
  // A client must send its HELLO within this time of being accepted, or it is dropped.
  std::chrono::milliseconds handshake_timeout{1000};
  // Connected clients (handshaking + attached); more are refused with "server busy".
  std::size_t max_clients = 1024;
  // Connections one uid other than the server's own may hold at once, so that one user cannot
  // take every place from the others; more are refused with "server busy". 0: no such limit.
  std::size_t max_clients_per_uid = 64;
  // Diagnostics: garbage from a client, refusals, drops. Called on the serving thread; must not throw.
  std::function<void(std::string_view)> log = {};
  // attached = true once a client got the fd, false when it hung up or was dropped. Called on the
  // serving thread, not from the destructor; must not throw.
  std::function<void(const ControlClientInfo&, bool attached)> on_client = {};
};

class ControlServer {
 public:
  // Serves the memfd `memfd` (not owned; must outlive the server) of `size` bytes holding a
  // segment of `format_version`, on `socket_path`. A stale socket file (its server died) is
  // replaced; a live one is not: Error(busy). Error(already_exists) if the path is not a socket.
  ControlServer(int memfd, std::uint64_t size, std::uint32_t format_version, std::string socket_path,
                ControlServerOptions options = {});
  ~ControlServer();  // stops, closes every client, unlinks its socket file
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The path clients connect to ('@name' for the abstract namespace).
  const std::string& socket_path() const;
  // Readable (poll/epoll POLLIN) when handle_events() has work: for the caller's event loop.
  int fd() const;
  // Non-blocking: accepts, reads HELLOs, answers, reaps hung-up clients and handshake timeouts.
  // Error(busy) while the server runs on its own thread.
  void handle_events();
  // Or serve on a thread of the server's own (sleeps in epoll; stop() wakes it at once).
  void start_thread();
  void stop();  // joins the thread; a no-op if it is not running
  // Attached clients (thread-safe snapshot).
  std::vector<ControlClientInfo> clients() const;

  // $XDG_RUNTIME_DIR/shmkit/<name>.sock, else /tmp/shmkit-<uid>/<name>.sock. Creates the
  // directory 0700 and checks it is ours and not group/world writable (Error(permission_denied)).
  // `name` uses the segment-name alphabet (letters, digits, '-', '_', '.').
  static std::string default_socket_path(std::string_view segment_name);
  // Unlinks the socket file at `socket_path` if no server answers on it (its owner died);
  // returns true if it did. A live server's socket, a missing path, an abstract name or a
  // file that is not a socket are left alone (false).
  static bool remove_stale_socket(const std::string& socket_path);

  struct Impl;

 private:
  friend struct detail::ControlServerAccess;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmkit
