// ControlServer: one epoll set with the listening socket, every client, a timerfd for handshake
// deadlines and an eventfd that wakes the serving thread. Every client socket is non-blocking,
// so one client can never stall another; the fd count is 5 + one per connected client.
#include "shmkit/control_server.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>

#include "control_client.hpp"
#include "control_protocol.hpp"
#include "unique_fd.hpp"
#include "shmkit/detail/deadline.hpp"
#include "shmkit/error.hpp"

namespace shmkit {

namespace ctl = detail::control;
using detail::DeadlineNs;
using detail::UniqueFd;

namespace {

// The policy's answers with the server's euid given: a server reads it once, at start.
bool allows_read_write_as(const AccessPolicy& p, std::uint32_t uid, std::uint32_t gid, uid_t own) {
  if (p.allow_same_user && uid == own) return true;
  return std::find(p.uids.begin(), p.uids.end(), uid) != p.uids.end() ||
         std::find(p.gids.begin(), p.gids.end(), gid) != p.gids.end();
}
bool listed_read_only(const AccessPolicy& p, std::uint32_t uid, std::uint32_t gid) {
  return std::find(p.read_only_uids.begin(), p.read_only_uids.end(), uid) != p.read_only_uids.end() ||
         std::find(p.read_only_gids.begin(), p.read_only_gids.end(), gid) != p.read_only_gids.end();
}

}  // namespace

bool AccessPolicy::allows_read_write(std::uint32_t uid, std::uint32_t gid) const {
  return allows_read_write_as(*this, uid, gid, ::geteuid());
}

bool AccessPolicy::allows(std::uint32_t uid, std::uint32_t gid) const {
  return allows_read_write(uid, gid) || listed_read_only(*this, uid, gid);
}

namespace {

// epoll tags of the server's own fds; clients are tagged with their id (1, 2, ...).
constexpr std::uint64_t kListenTag = ~std::uint64_t{0};
constexpr std::uint64_t kTimerTag = kListenTag - 1;
constexpr std::uint64_t kWakeTag = kListenTag - 2;

constexpr int kAcceptsPerRound = 64;  // bounds one handle_events() so clients get served too
constexpr int kDrainPackets = 8;      // read before closing a refused client (see drop_refused)

UniqueFd check_fd(int fd, const char* what) {
  if (fd < 0) throw_os_error(std::string("control server: cannot create ") + what, errno);
  return UniqueFd(fd);
}

void epoll_add(int epoll, int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev) != 0) throw_os_error("control server: epoll_ctl", errno);
}

std::string parent_directory(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Serializes stale-socket replacement between shmkit servers: without it two servers could both
// find the same stale file, and the second would unlink the first one's live socket. Advisory
// and bounded, so a stranger holding a lock on (say) /tmp cannot stop a server from starting.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (!fd_) return;
    const DeadlineNs give_up = detail::deadline_after(std::chrono::seconds(2));
    while (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
      if ((errno != EWOULDBLOCK && errno != EINTR) || detail::steady_now_ns() >= give_up) {
        fd_.reset();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  // Closing the fd releases the lock.

 private:
  UniqueFd fd_;
};

// Unlinks the socket file on destruction, if it is still the one we bound (same inode).
class SocketFile {
 public:
  SocketFile() = default;
  SocketFile(const SocketFile&) = delete;
  SocketFile& operator=(const SocketFile&) = delete;
  ~SocketFile() {
    struct stat st {};
    if (!path_.empty() && ::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
      ::unlink(path_.c_str());
  }
  void adopt(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) throw_os_error("control server: socket file '" + path + "' vanished", errno);
    path_ = path;
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }

 private:
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// What an existing socket path is: probing connects to it.
enum class Probe { live, stale, gone, not_socket };

Probe probe_socket_file(const ctl::SocketAddress& address, const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Probe::gone;
    throw_os_error("control server: cannot stat '" + path + "'", errno);
  }
  if (!S_ISSOCK(st.st_mode)) return Probe::not_socket;
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) throw_os_error("control server: cannot create a probe socket", errno);
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&address.address), address.length) == 0) return Probe::live;
  switch (errno) {
    case EAGAIN:      // backlog full: somebody listens
    case EPROTOTYPE:  // somebody listens with another socket type
      return Probe::live;
    case ECONNREFUSED: return Probe::stale;  // nobody listens: the owner died without unlinking
    case ENOENT: return Probe::gone;
    default: throw_os_error("control server: cannot probe existing socket '" + path + "'", errno);
  }
}

void unlink_stale(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw_os_error("control server: cannot remove stale socket '" + path + "'", errno);
}

bool valid_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

// A socket directory must be a real directory of ours that nobody else can write: otherwise
// another user could swap our socket for theirs. `create`: mkdir 0700 if missing (servers);
// clients only look.
void check_private_directory(const std::string& dir, bool create) {
  if (create) {
    if (::mkdir(dir.c_str(), 0700) == 0) {
      if (::chmod(dir.c_str(), 0700) != 0) throw_os_error("cannot chmod socket directory '" + dir + "'", errno);
    } else if (errno != EEXIST) {
      throw_os_error("cannot create socket directory '" + dir + "'", errno);
    }
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (!create && errno == ENOENT) return;  // no server ever ran here: connect() will say so
    throw_os_error("cannot stat socket directory '" + dir + "'", errno);
  }
  if (!S_ISDIR(st.st_mode))
    throw Error(Errc::permission_denied, "socket directory '" + dir + "' is not a directory (a symlink?): remove it");
  const uid_t me = ::geteuid();
  if (st.st_uid != me)
    throw Error(Errc::permission_denied, "socket directory '" + dir + "' belongs to uid " + std::to_string(st.st_uid) +
                                             ", not to us (uid " + std::to_string(me) + ")");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    throw Error(Errc::permission_denied, "socket directory '" + dir + "' is writable by group or others: chmod 0700 it");
}

// Whether `dir` is a real directory of ours that nobody else can write (lstat: no symlinks).
bool private_directory_of_ours(const std::string& dir) {
  struct stat st {};
  return ::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() &&
         (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

// /tmp is shared: another user may have made /tmp/shmkit-<uid> first to deny us service. The
// fallback directory is the first of /tmp/shmkit-<uid>, /tmp/shmkit-<uid>-1 .. -7 that is ours
// and private; a server that finds none makes the first that does not exist yet. Clients and
// listings look at the same list, so they find the directory the server chose.
constexpr int kFallbackDirectories = 8;
std::string fallback_candidate(int i) {
  return "/tmp/shmkit-" + std::to_string(::geteuid()) + (i == 0 ? "" : "-" + std::to_string(i));
}

std::optional<std::string> existing_fallback_directory() {
  for (int i = 0; i < kFallbackDirectories; ++i)
    if (private_directory_of_ours(fallback_candidate(i))) return fallback_candidate(i);
  return std::nullopt;
}

std::string make_fallback_directory() {
  if (auto dir = existing_fallback_directory()) return *dir;
  for (int i = 0; i < kFallbackDirectories; ++i) {
    const std::string dir = fallback_candidate(i);
    if (::mkdir(dir.c_str(), 0700) == 0) {
      if (::chmod(dir.c_str(), 0700) != 0) throw_os_error("cannot chmod socket directory '" + dir + "'", errno);
      return dir;
    }
    if (errno != EEXIST) throw_os_error("cannot create socket directory '" + dir + "'", errno);
  }
  throw Error(Errc::permission_denied, fallback_candidate(0) + " and its " + std::to_string(kFallbackDirectories - 1) +
                                           " alternatives all exist and are not private directories of ours (another "
                                           "user made them?): set XDG_RUNTIME_DIR or SegmentOptions::socket_path");
}

// The directory of default socket paths: $XDG_RUNTIME_DIR/shmkit, else a fallback in /tmp.
// `server`: make the fallback if needed; otherwise never create anything.
std::string socket_directory(bool server) {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && runtime[0] == '/') return std::string(runtime) + "/shmkit";
  if (server) return make_fallback_directory();
  return existing_fallback_directory().value_or(fallback_candidate(0));
}

// The default socket path of a segment and its directory, not checked.
std::pair<std::string, std::string> default_path_and_directory(std::string_view segment_name, bool server) {
  if (segment_name.empty() || segment_name.size() > 200 ||
      !std::all_of(segment_name.begin(), segment_name.end(), valid_name_char))
    throw Error(Errc::invalid_argument, "segment name '" + std::string(segment_name) +
                                            "' must have 1 to 200 letters, digits, '-', '_' or '.'");
  const std::string dir = socket_directory(server);
  std::string path = dir + "/" + std::string(segment_name) + ".sock";
  constexpr std::size_t room = sizeof(sockaddr_un::sun_path) - 1;
  if (path.size() > room)
    throw Error(Errc::invalid_argument, "control socket path '" + path + "' is longer than " + std::to_string(room) +
                                            " bytes: use a shorter segment name");
  return {std::move(path), dir};
}

// One channel's subscriber eventfds in the writer's process. Made lazily, one per slot, and
// closed only with the table: the writer reads fds[] while publishing, without a lock. A slot
// freed by a reader that left is drained before it is handed out again.
struct EventTable {
  std::array<std::atomic<int>, ctl::kEventSlots> fds;
  std::atomic<bool> active{false};  // a writer of this process serves it now
  std::uint32_t in_use = 0;         // slots held by connected readers (serving thread only)
  EventTable() {
    for (auto& fd : fds) fd.store(-1, std::memory_order_relaxed);
  }
  ~EventTable() {
    for (auto& fd : fds)
      if (const int f = fd.load(std::memory_order_relaxed); f >= 0) ::close(f);
  }
  EventTable(const EventTable&) = delete;
  EventTable& operator=(const EventTable&) = delete;
};

// The channels whose writers live in this process, by name. Entries stay for the server's life, so a
// writer that comes back (close, attach again) signals the readers that already hold its fds.
struct EventRegistry {
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<EventTable>> tables;
};

class ServerEventSink final : public detail::ChannelEventSink {
 public:
  explicit ServerEventSink(std::shared_ptr<EventTable> table) noexcept : table_(std::move(table)) {
    table_->active.store(true, std::memory_order_release);
  }
  ~ServerEventSink() override { table_->active.store(false, std::memory_order_release); }
  std::uint32_t signal(std::uint32_t slots) noexcept override {
    std::uint32_t writes = 0;
    while (slots != 0) {
      const int i = __builtin_ctz(slots);
      slots &= slots - 1;
      const int fd = table_->fds[static_cast<std::size_t>(i)].load(std::memory_order_acquire);
      if (fd < 0) continue;
      const std::uint64_t one = 1;
      // EAGAIN (a reader that never drains saturated the counter) leaves it readable: nothing to do.
      while (::write(fd, &one, sizeof one) < 0 && errno == EINTR) {
      }
      ++writes;
    }
    return writes;
  }

 private:
  std::shared_ptr<EventTable> table_;
};

}  // namespace

struct ControlServer::Impl {
  struct Client {
    UniqueFd fd;
    ControlClientInfo info;
    bool allowed = false;   // by the policy, decided at accept; answered after the HELLO
    bool read_write = false;  // the policy allows it read-write (else read-only only)
    bool attached = false;  // got the ACCEPT and the fd (or, a subscriber, its EVENT_FD)
    DeadlineNs deadline = 0;
    std::shared_ptr<EventTable> events;  // a subscriber's channel (FD_REQUEST), else null
    std::uint32_t slot = 0;               // and its slot there
  };

  // Configuration
  int memfd;
  std::uint64_t size;
  std::uint32_t format_version;
  std::string path;
  ControlServerOptions options;
  uid_t own_euid = ::geteuid();  // the user the socket was made as: AccessPolicy::allow_same_user

  // Declaration order is destruction order reversed: the socket file is unlinked before the
  // listening socket closes, and clients close before the epoll set.
  UniqueFd epoll_fd;
  UniqueFd timer_fd;
  UniqueFd wake_fd;
  UniqueFd reserve_fd;  // spare fd: closed to accept-and-refuse one client when out of fds
  UniqueFd read_only_fd;  // the memfd reopened O_RDONLY, for read-only peers (made on first use)
  UniqueFd listen_fd;
  SocketFile socket_file;
  std::unordered_map<std::uint64_t, Client> clients;
  std::set<std::pair<DeadlineNs, std::uint64_t>> deadlines;  // of clients still handshaking
  DeadlineNs armed = 0;                                       // timerfd target, 0 = disarmed
  std::uint64_t next_id = 1;
  bool listen_paused = false;
  DeadlineNs resume_listening_at = 0;  // when paused for lack of fds, retry then (or on a drop)

  std::shared_ptr<EventRegistry> event_registry = std::make_shared<EventRegistry>();

  mutable std::mutex attached_mutex;
  std::vector<ControlClientInfo> attached;  // guarded by attached_mutex

  std::mutex serve_mutex;  // one thread serves at a time
  std::thread thread;
  std::atomic<bool> thread_running{false};
  std::atomic<bool> stop_requested{false};

  Impl(int fd, std::uint64_t bytes, std::uint32_t format, std::string socket_path, ControlServerOptions opts)
      : memfd(fd), size(bytes), format_version(format), options(std::move(opts)) {
    validate(socket_path);
    epoll_fd = check_fd(::epoll_create1(EPOLL_CLOEXEC), "an epoll set");
    timer_fd = check_fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "a timerfd");
    wake_fd = check_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "an eventfd");
    reserve_fd = check_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC), "a reserve fd");
    listen_fd = check_fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "a listening socket");
    bind_and_listen();
    epoll_add(epoll_fd.get(), listen_fd.get(), EPOLLIN, kListenTag);
    epoll_add(epoll_fd.get(), timer_fd.get(), EPOLLIN, kTimerTag);
    epoll_add(epoll_fd.get(), wake_fd.get(), EPOLLIN, kWakeTag);
  }

  void validate(const std::string& socket_path) {
    if (memfd < 0) throw Error(Errc::invalid_argument, "ControlServer: no memfd to serve");
    if (size == 0) throw Error(Errc::invalid_argument, "ControlServer: segment size is 0");
    if (format_version == 0) throw Error(Errc::invalid_argument, "ControlServer: segment format version is 0");
    if ((options.permissions & ~0777u) != 0)
      throw Error(Errc::invalid_argument, "ControlServer: permissions " + std::to_string(options.permissions) +
                                              " has bits beyond 0777");
    if (options.max_clients == 0) throw Error(Errc::invalid_argument, "ControlServer: max_clients is 0");
    if (options.handshake_timeout.count() <= 0)
      throw Error(Errc::invalid_argument, "ControlServer: handshake_timeout must be positive");
    const bool at = !socket_path.empty() && socket_path[0] == '@';
    if (options.abstract_namespace) {
      path = at ? socket_path : "@" + socket_path;
    } else {
      if (at)
        throw Error(Errc::invalid_argument, "ControlServer: socket path '" + socket_path +
                                                "' names the abstract namespace: set abstract_namespace");
      path = socket_path;
    }
  }

  void bind_and_listen() {
    const ctl::SocketAddress address = ctl::socket_address(path);
    const auto* sa = reinterpret_cast<const sockaddr*>(&address.address);
    if (address.abstract) {
      // The kernel frees an abstract name with its socket: nothing stale can remain.
      if (::bind(listen_fd.get(), sa, address.length) != 0) {
        if (errno == EADDRINUSE)
          throw Error(Errc::busy, "another server is serving abstract control socket '" + path + "'", errno);
        throw_os_error("control server: cannot bind abstract socket '" + path + "'", errno);
      }
    } else {
      const DirectoryLock lock(parent_directory(path));
      replace_stale_socket(address);
      // 0600 from the start (umask is per process: another thread creating files in this
      // instant gets this mask too; the window is one bind call).
      const mode_t old_mask = ::umask(0177);
      const int rc = ::bind(listen_fd.get(), sa, address.length);
      const int bind_errno = errno;
      ::umask(old_mask);
      if (rc != 0) {
        if (bind_errno == EADDRINUSE)
          throw Error(Errc::busy, "another server is serving control socket '" + path + "'", bind_errno);
        throw_os_error("control server: cannot bind socket '" + path + "'", bind_errno);
      }
      socket_file.adopt(path);
      if (options.permissions != 0600 && ::chmod(path.c_str(), options.permissions) != 0)
        throw_os_error("control server: cannot chmod socket '" + path + "'", errno);
      // listen() under the directory lock, so a server probing after us finds us live.
      listen_now();
      return;
    }
    listen_now();
  }

  void listen_now() {
    if (::listen(listen_fd.get(), SOMAXCONN) != 0) throw_os_error("control server: listen on '" + path + "'", errno);
  }

  void replace_stale_socket(const ctl::SocketAddress& address) {
    switch (probe_socket_file(address, path)) {
      case Probe::live:
        throw Error(Errc::busy, "another server is serving control socket '" + path + "': stop it first");
      case Probe::not_socket:
        throw Error(Errc::already_exists, "'" + path + "' exists and is not a socket: refusing to replace it");
      case Probe::gone: return;
      case Probe::stale:
        unlink_stale(path);
        log("replaced stale socket file (its server had exited)");
        return;
    }
  }

  // ---- Diagnostics and events (callbacks must not throw; if they do, it is swallowed) ----
  void log(const std::string& message) noexcept {
    if (!options.log) return;
    try {
      options.log("shmkit control server '" + path + "': " + message);
    } catch (...) {
    }
  }
  static std::string who(const ControlClientInfo& info) {
    return "client " + std::to_string(info.id) + " (pid " + std::to_string(info.pid) + ", uid " +
           std::to_string(info.uid) + ", gid " + std::to_string(info.gid) + ")";
  }
  void notify(const ControlClientInfo& info, bool is_attached) noexcept {
    if (!options.on_client) return;
    try {
      options.on_client(info, is_attached);
    } catch (...) {
    }
  }

  // ---- Serving ----
  void process(int timeout_ms) {
    epoll_event events[32];
    const int n = ::epoll_wait(epoll_fd.get(), events, 32, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return;
      throw_os_error("control server: epoll_wait", errno);
    }
    bool accept_pending = false;
    for (int i = 0; i < n; ++i) {
      const std::uint64_t tag = events[i].data.u64;
      if (tag == kListenTag) {
        accept_pending = true;
      } else if (tag == kTimerTag) {
        std::uint64_t expirations = 0;
        [[maybe_unused]] const ssize_t r = ::read(timer_fd.get(), &expirations, sizeof expirations);
        armed = 0;  // one-shot: spent
        expire_handshakes();
        if (listen_paused && detail::steady_now_ns() >= resume_listening_at) set_listening(true);
      } else if (tag == kWakeTag) {
        // stop() drains it after the thread has left; here it only ends the wait.
      } else {
        client_event(tag, events[i].events);
      }
    }
    // After this round's hang-ups and HELLOs: clients that left free their places first.
    if (accept_pending) accept_clients();
    rearm();
  }

  void accept_clients() {
    for (int i = 0; i < kAcceptsPerRound; ++i) {
      const int fd = ::accept4(listen_fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        if (e == EINTR || e == ECONNABORTED) continue;
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
          shed_one_client(e);
          return;
        }
        log(std::string("accept failed: ") + std::strerror(e));
        return;
      }
      admit(UniqueFd(fd));
    }
  }

  // Out of fds: without this the listening socket would stay readable and the loop would spin.
  // The reserve fd makes room to accept one connection, refuse it, and close it.
  void shed_one_client(int accept_errno) {
    log(std::string("cannot accept a client: ") + std::strerror(accept_errno) + "; refusing it (server busy)");
    bool shed = false;
    if (reserve_fd) {
      reserve_fd.reset();
      UniqueFd fd(::accept4(listen_fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (fd) refuse_on(fd.get(), ctl::RefuseCode::server_busy, "the server is out of file descriptors");
      shed = static_cast<bool>(fd);
      fd.reset();
      reserve_fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    if (shed && reserve_fd) return;
    // Could not make room (system-wide limit, or no spare fd): stop listening until a client
    // leaves or a short while has passed, rather than spin on a readable listening socket.
    set_listening(false);
    resume_listening_at = detail::deadline_after(std::chrono::milliseconds(250));
  }

  void set_listening(bool on) {
    if (listen_paused == !on) return;
    epoll_event ev{};
    ev.events = on ? static_cast<std::uint32_t>(EPOLLIN) : 0u;
    ev.data.u64 = kListenTag;
    if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_MOD, listen_fd.get(), &ev) == 0) listen_paused = !on;
  }

  void admit(UniqueFd fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      log(std::string("SO_PEERCRED failed, dropping the connection: ") + std::strerror(errno));
      return;
    }
    Client c;
    c.info.id = next_id++;
    c.info.pid = cred.pid;
    c.info.uid = cred.uid;
    c.info.gid = cred.gid;
    c.info.connected = std::chrono::system_clock::now();
    c.read_write = allows_read_write_as(options.policy, cred.uid, cred.gid, own_euid);
    c.allowed = c.read_write || listed_read_only(options.policy, cred.uid, cred.gid);
    // A peer the policy refuses is answered now, before it holds a place: idle connections of
    // a refused uid cannot crowd out allowed clients until the handshake timeout.
    if (!c.allowed) {
      log("refused " + who(c.info) + " (access_denied) at accept");
      refuse_on(fd.get(), ctl::RefuseCode::access_denied,
                "uid " + std::to_string(c.info.uid) + " gid " + std::to_string(c.info.gid) +
                    " is not allowed by the server's access policy");
      return;
    }
    if (options.max_clients_per_uid != 0 && cred.uid != own_euid) {
      std::size_t same_uid = 0;
      for (const auto& [id, other] : clients) same_uid += other.info.uid == cred.uid;
      if (same_uid >= options.max_clients_per_uid) {
        log("refused " + who(c.info) + " (server_busy): uid " + std::to_string(cred.uid) + " holds " +
            std::to_string(same_uid) + " connections");
        refuse_on(fd.get(), ctl::RefuseCode::server_busy,
                  "uid " + std::to_string(cred.uid) + " already holds its maximum of " +
                      std::to_string(options.max_clients_per_uid) + " connections");
        return;
      }
    }
    if (clients.size() >= options.max_clients) {
      log("refused " + who(c.info) + " (server_busy): " + std::to_string(clients.size()) + " clients connected");
      refuse_on(fd.get(), ctl::RefuseCode::server_busy,
                "the server has its maximum of " + std::to_string(options.max_clients) + " clients");
      return;
    }
    c.deadline = detail::deadline_after(options.handshake_timeout);
    c.fd = std::move(fd);
    const std::uint64_t id = c.info.id;
    const DeadlineNs deadline = c.deadline;
    Client& admitted = clients.emplace(id, std::move(c)).first->second;
    deadlines.emplace(deadline, id);
    // A client sends its HELLO right after connect(), so it is usually queued by now: answer in
    // this wake-up instead of the next epoll round (one cross-process wake-up less per attach),
    // and only then watch the connection (its HELLO if it was late, its hang-up).
    read_hello(admitted);  // would_block leaves it to epoll; may drop the client
    const auto it = clients.find(id);
    if (it == clients.end()) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = id;
    if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, it->second.fd.get(), &ev) != 0)
      drop(id, std::string("epoll_ctl failed, dropped ") + who(it->second.info) + ": " + std::strerror(errno));
  }

  void client_event(std::uint64_t id, std::uint32_t events) {
    auto it = clients.find(id);
    if (it == clients.end()) return;  // dropped earlier in this batch
    Client& c = it->second;
    if (!c.attached) {
      if ((events & EPOLLIN) != 0) read_hello(c);
      it = clients.find(id);  // read_hello may have dropped it
      if (it == clients.end() || it->second.attached) return;
      if ((events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) != 0) {
        drop(id, who(it->second.info) + " hung up before its HELLO");
      }
      return;
    }
    // Attached clients have nothing more to say: data is a protocol violation, EOF a detach.
    if ((events & EPOLLIN) != 0) {
      std::array<std::byte, ctl::kReceiveBufferSize> buffer{};
      ctl::ReceivedPacket packet;
      ctl::ReceiveStatus status = ctl::ReceiveStatus::hung_up;
      try {
        status = ctl::receive_packet(c.fd.get(), buffer, packet);
      } catch (const Error&) {
      }
      if (status == ctl::ReceiveStatus::packet) {
        drop(id, who(c.info) + " sent data after it was attached; dropped it");
        return;
      }
      if (status == ctl::ReceiveStatus::hung_up) {
        drop(id);
        return;
      }
    }
    if ((events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) != 0) drop(id);
  }

  void read_hello(Client& c) {
    std::array<std::byte, ctl::kReceiveBufferSize> buffer{};
    ctl::ReceivedPacket packet;  // owns (and closes) any fd a client tries to pass us
    ctl::ReceiveStatus status = ctl::ReceiveStatus::hung_up;
    try {
      status = ctl::receive_packet(c.fd.get(), buffer, packet);
    } catch (const Error& e) {
      log(who(c.info) + ": " + e.what());
    }
    if (status == ctl::ReceiveStatus::would_block) return;
    if (status == ctl::ReceiveStatus::hung_up) {
      drop(c.info.id, who(c.info) + " hung up before its HELLO");
      return;
    }
    // Fds a client passes are never used: close them now, before any refusal is logged.
    const bool passed_fds = !packet.fds.empty();
    packet.fds.clear();
    // The policy answers first: a refused peer learns nothing else about the server.
    if (!c.allowed)
      return refuse(c, ctl::RefuseCode::access_denied,
                    "uid " + std::to_string(c.info.uid) + " gid " + std::to_string(c.info.gid) +
                        " is not allowed by the server's access policy");
    if (passed_fds) return refuse(c, ctl::RefuseCode::malformed, "clients must not pass file descriptors");
    if (packet.truncated)
      return refuse(c, ctl::RefuseCode::malformed,
                    "message longer than " + std::to_string(ctl::kReceiveBufferSize) + " bytes");
    auto decoded = ctl::decode_request(std::span<const std::byte>(buffer.data(), packet.size));
    if (auto* r = std::get_if<ctl::Refuse>(&decoded)) return refuse(c, r->code, r->reason);
    if (auto* request = std::get_if<ctl::FdRequest>(&decoded)) return grant_event_fd(c, request->channel);
    const auto& hello = std::get<ctl::Hello>(decoded);
    if (hello.format_version != format_version)
      return refuse(c, ctl::RefuseCode::incompatible_format,
                    "this server serves segment format " + std::to_string(format_version) +
                        ", the client reads format " + std::to_string(hello.format_version));
    const bool read_only = hello.access == ctl::Access::read_only;
    if (!read_only && !c.read_write)
      return refuse(c, ctl::RefuseCode::access_denied,
                    "uid " + std::to_string(c.info.uid) + " gid " + std::to_string(c.info.gid) +
                        " may attach read-only only: open a SegmentView (SegmentView::open, attach_memfd_read_only)");
    if (read_only && !read_only_fd) {
      // A new open file description, read-only: a peer holding it can neither map it writable
      // nor mprotect its mapping writable. The memfd is mode 0600, so a peer of another uid
      // cannot reopen it read-write through /proc/self/fd either.
      const std::string self = "/proc/self/fd/" + std::to_string(memfd);
      read_only_fd.reset(::open(self.c_str(), O_RDONLY | O_CLOEXEC));
      if (!read_only_fd)
        return refuse(c, ctl::RefuseCode::internal_error,
                      std::string("cannot reopen the segment read-only through /proc/self/fd: ") + std::strerror(errno));
    }
    ctl::Accept accept;
    accept.segment_size = size;
    accept.format_version = format_version;
    accept.segment_flags = read_only ? 0u : ctl::kSegmentWritable;
    accept.fd_count = 1;
    accept.roles[0] = ctl::FdRole::segment_memfd;
    const auto bytes = ctl::encode_accept(accept, hello.version);
    const int fds[1] = {read_only ? read_only_fd.get() : memfd};
    try {
      ctl::send_packet(c.fd.get(), bytes, fds);
    } catch (const Error& e) {
      drop(c.info.id, "could not pass the segment to " + who(c.info) + ": " + e.what());
      return;
    }
    c.attached = true;
    deadlines.erase({c.deadline, c.info.id});
    {
      const std::lock_guard lock(attached_mutex);
      attached.push_back(c.info);
    }
    notify(c.info, true);
  }

  // FD_REQUEST: the channel's eventfd for a free slot, or a REFUSE that changes nothing.
  void grant_event_fd(Client& c, const std::string& channel) {
    // A subscriber arms its slot in the channel's header: it needs a writable mapping.
    if (!c.read_write)
      return refuse(c, ctl::RefuseCode::access_denied,
                    "uid " + std::to_string(c.info.uid) + " may attach read-only only; an eventfd subscriber writes "
                                                          "the channel header");
    std::shared_ptr<EventTable> table;
    {
      const std::lock_guard lock(event_registry->mutex);
      if (auto it = event_registry->tables.find(channel); it != event_registry->tables.end()) table = it->second;
    }
    if (!table || !table->active.load(std::memory_order_acquire))
      return refuse(c, ctl::RefuseCode::no_such_channel,
                    "no channel named '" + channel + "' has its writer in this server's process");
    const std::uint32_t free_slots = ~table->in_use;
    if (free_slots == 0)
      return refuse(c, ctl::RefuseCode::no_event_slot,
                    "channel '" + channel + "' has all its " + std::to_string(ctl::kEventSlots) +
                        " eventfd subscribers; use the notification thread (named backend behaviour)");
    const auto slot = static_cast<std::uint32_t>(__builtin_ctz(free_slots));
    std::atomic<int>& slot_fd = table->fds[slot];
    int fd = slot_fd.load(std::memory_order_relaxed);
    if (fd < 0) {
      fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (fd < 0)
        return refuse(c, ctl::RefuseCode::internal_error, std::string("cannot create an eventfd: ") + std::strerror(errno));
      slot_fd.store(fd, std::memory_order_release);
    } else {
      // Wake-ups meant for the slot's previous reader.
      std::uint64_t stale = 0;
      [[maybe_unused]] const ssize_t r = ::read(fd, &stale, sizeof stale);
    }
    ctl::EventFdReply reply;
    reply.slot = slot;
    const auto bytes = ctl::encode_event_fd(reply);
    const int fds[1] = {fd};
    try {
      ctl::send_packet(c.fd.get(), bytes, fds);
    } catch (const Error& e) {
      drop(c.info.id, "could not pass channel '" + channel + "''s eventfd to " + who(c.info) + ": " + e.what());
      return;
    }
    table->in_use |= 1u << slot;
    c.events = std::move(table);
    c.slot = slot;
    c.attached = true;
    deadlines.erase({c.deadline, c.info.id});
    log("gave channel '" + channel + "''s eventfd (slot " + std::to_string(slot) + ") to " + who(c.info));
  }

  void send_refuse(int fd, ctl::RefuseCode code, std::string reason) noexcept {
    try {
      ctl::Refuse r;
      r.code = code;
      r.reason = std::move(reason);
      ctl::send_packet(fd, ctl::encode_refuse(r));
    } catch (...) {
      // Best effort: the client may be gone or not reading; it is closed either way.
    }
  }

  // Sends REFUSE, then reads (and discards) what the client already sent, boundedly: closing
  // with unread packets makes the client's recv fail with ECONNRESET before it sees the REFUSE.
  void refuse_on(int fd, ctl::RefuseCode code, std::string reason) noexcept {
    send_refuse(fd, code, std::move(reason));
    for (int i = 0; i < kDrainPackets; ++i) {
      std::array<std::byte, ctl::kReceiveBufferSize> buffer{};
      ctl::ReceivedPacket junk;
      try {
        if (ctl::receive_packet(fd, buffer, junk) != ctl::ReceiveStatus::packet) break;
      } catch (const Error&) {
        break;
      }
    }
  }

  void refuse(Client& c, ctl::RefuseCode code, const std::string& reason) {
    refuse_on(c.fd.get(), code, reason);
    drop(c.info.id, "refused " + who(c.info) + " (" + ctl::to_string(code) + "): " + reason);
  }

  void expire_handshakes() {
    const DeadlineNs now = detail::steady_now_ns();
    while (!deadlines.empty() && deadlines.begin()->first <= now) {
      const std::uint64_t id = deadlines.begin()->second;
      deadlines.erase(deadlines.begin());
      auto it = clients.find(id);
      if (it == clients.end()) continue;
      refuse(it->second, ctl::RefuseCode::handshake_timeout,
             "no HELLO within " + std::to_string(options.handshake_timeout.count()) + " ms");
    }
  }

  void rearm() {
    DeadlineNs next = deadlines.empty() ? 0 : deadlines.begin()->first;
    if (listen_paused && (next == 0 || resume_listening_at < next)) next = resume_listening_at;
    if (next != 0) next = std::max<DeadlineNs>(next, 1);  // 0 would disarm the timer
    if (next == armed) return;
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(next / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(next % 1'000'000'000);
    if (::timerfd_settime(timer_fd.get(), TFD_TIMER_ABSTIME, &spec, nullptr) == 0) armed = next;
  }

  // Closes a client; reports the detach if it was attached. `note` is logged after the close,
  // so whoever watches the log knows the server holds no fd of that client any more.
  void drop(std::uint64_t id, const std::string& note = {}) {
    auto it = clients.find(id);
    if (it == clients.end()) return;
    Client c = std::move(it->second);
    clients.erase(it);
    deadlines.erase({c.deadline, id});
    ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
    c.fd.reset();
    set_listening(true);
    if (!note.empty()) log(note);
    if (c.events) {
      // A subscriber's connection: its slot is free again (its fd stays, drained on reuse).
      if (c.attached) c.events->in_use &= ~(1u << c.slot);
      return;
    }
    if (c.attached) {
      {
        const std::lock_guard lock(attached_mutex);
        std::erase_if(attached, [id](const ControlClientInfo& info) { return info.id == id; });
      }
      notify(c.info, false);
    }
  }

  void serve_on_thread() noexcept {
    const std::lock_guard lock(serve_mutex);
    while (!stop_requested.load(std::memory_order_acquire)) {
      try {
        process(-1);
      } catch (const std::exception& e) {
        // Only the epoll set itself failing gets here: stop rather than spin on the error.
        log(std::string("serving thread stops: ") + e.what());
        return;
      }
    }
  }
};

ControlServer::ControlServer(int memfd, std::uint64_t size, std::uint32_t format_version, std::string socket_path,
                             ControlServerOptions options)
    : impl_(std::make_unique<Impl>(memfd, size, format_version, std::move(socket_path), std::move(options))) {}

ControlServer::~ControlServer() { stop(); }

const std::string& ControlServer::socket_path() const { return impl_->path; }

int ControlServer::fd() const { return impl_->epoll_fd.get(); }

void ControlServer::handle_events() {
  if (impl_->thread_running.load())
    throw Error(Errc::busy, "ControlServer::handle_events: the server runs on its own thread");
  const std::lock_guard lock(impl_->serve_mutex);
  impl_->process(0);
}

void ControlServer::start_thread() {
  if (impl_->thread_running.exchange(true)) return;
  impl_->stop_requested.store(false);
  try {
    impl_->thread = std::thread([impl = impl_.get()] { impl->serve_on_thread(); });
  } catch (...) {
    impl_->thread_running.store(false);
    throw;
  }
}

void ControlServer::stop() {
  if (!impl_->thread_running.load()) return;
  impl_->stop_requested.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t w = ::write(impl_->wake_fd.get(), &one, sizeof one);
  impl_->thread.join();
  std::uint64_t drained = 0;
  [[maybe_unused]] const ssize_t r = ::read(impl_->wake_fd.get(), &drained, sizeof drained);
  impl_->thread_running.store(false);
}

std::vector<ControlClientInfo> ControlServer::clients() const {
  const std::lock_guard lock(impl_->attached_mutex);
  return impl_->attached;
}

bool ControlServer::remove_stale_socket(const std::string& socket_path) {
  const ctl::SocketAddress address = ctl::socket_address(socket_path);
  if (address.abstract) return false;  // the kernel frees abstract names with their socket
  const DirectoryLock lock(parent_directory(socket_path));
  if (probe_socket_file(address, socket_path) != Probe::stale) return false;
  unlink_stale(socket_path);
  return true;
}

std::string ControlServer::default_socket_path(std::string_view segment_name) {
  auto [path, dir] = default_path_and_directory(segment_name, true);
  check_private_directory(dir, true);
  return path;
}

namespace detail {

struct ControlServerAccess {
  static ControlServer::Impl& impl(ControlServer& s) noexcept { return *s.impl_; }
};

std::unique_ptr<ChannelEventSink> serve_channel_events(ControlServer& server, const std::string& channel) {
  EventRegistry& registry = *ControlServerAccess::impl(server).event_registry;
  std::shared_ptr<EventTable> table;
  {
    const std::lock_guard lock(registry.mutex);
    auto& entry = registry.tables[channel];
    if (!entry) entry = std::make_shared<EventTable>();
    table = entry;
  }
  return std::make_unique<ServerEventSink>(std::move(table));
}

std::string unchecked_client_socket_path(std::string_view segment_name) {
  return default_path_and_directory(segment_name, false).first;
}

std::optional<std::string> listable_socket_directory() {
  const std::string dir = socket_directory(false);
  if (private_directory_of_ours(dir)) return dir;
  return std::nullopt;
}

void check_client_socket_directory(const std::string& socket_path) {
  check_private_directory(socket_path.substr(0, socket_path.rfind('/')), false);
}

std::string client_socket_path(std::string_view segment_name) {
  std::string path = unchecked_client_socket_path(segment_name);
  check_client_socket_directory(path);
  return path;
}
}  // namespace detail

}  // namespace shmkit
