// The memfd backend (Linux): a sealed memfd served by an owned ControlServer, received from one
// over its socket, or adopted from an fd the application received by its own means.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "backend.hpp"
#include "control_client.hpp"
#include "memfd_mapping.hpp"
#include "segment_access.hpp"
#include "segment_header.hpp"
#include "shmkit/control_server.hpp"
#include "shmkit/error.hpp"
#include "shmkit/memfd_handle.hpp"
#include "directory.hpp"
#include "unique_fd.hpp"

namespace shmkit::detail {
namespace {

const std::string kNoPath;

// What every memfd segment of this process is: the mapping (which owns the memfd) plus, for the
// creator, the server, and for an opener, its connection to the server.
class MemfdAttachment : public Attachment, public MemfdHandle, public ChannelEvents {
 public:
  explicit MemfdAttachment(std::unique_ptr<MemfdMapping> mapping) noexcept
      : Attachment(std::move(mapping)) {}
  BackendHandle* handle() noexcept override { return this; }
  ChannelEvents* channel_events() noexcept override { return this; }
  // An adopted segment has no server to hand fds out nor one to ask.
  std::unique_ptr<ChannelEventSink> serve_channel(const std::string&) override { return nullptr; }
  EventFdGrant request_event_fd(const std::string& name, DeadlineNs) override {
    throw Error(Errc::unsupported, "channel '" + name + "': this process has no control connection to ask for its eventfd");
  }
  int fd() const noexcept override { return static_cast<const MemfdMapping&>(mapping()).fd(); }
  ControlServer* server() const noexcept override { return nullptr; }
  const std::string& socket_path() const noexcept override { return kNoPath; }
  int control_fd() const noexcept override { return -1; }
  bool server_alive() const noexcept override { return true; }
};

class ServingAttachment final : public MemfdAttachment {
 public:
  ServingAttachment(std::unique_ptr<MemfdMapping> mapping, const std::string& path, ControlServerOptions options)
      : MemfdAttachment(std::move(mapping)),
        server_(fd(), this->mapping().size(), kFormatVersion, path, std::move(options)) {}
  ControlServer* server() const noexcept override { return &server_; }
  const std::string& socket_path() const noexcept override { return server_.socket_path(); }
  std::unique_ptr<ChannelEventSink> serve_channel(const std::string& name) override {
    return serve_channel_events(server_, name);
  }

 private:
  // Declared after the mapping's base: destroyed first, so it stops serving before the memfd closes.
  mutable ControlServer server_;
};

class ClientAttachment final : public MemfdAttachment {
 public:
  ClientAttachment(std::unique_ptr<MemfdMapping> mapping, std::string path, UniqueFd socket,
                   std::vector<std::uint32_t> trusted_server_uids)
      : MemfdAttachment(std::move(mapping)),
        path_(std::move(path)),
        socket_(std::move(socket)),
        trusted_(std::move(trusted_server_uids)) {}
  const std::string& socket_path() const noexcept override { return path_; }
  EventFdGrant request_event_fd(const std::string& name, DeadlineNs deadline) override {
    return detail::request_event_fd(path_, name, deadline, trusted_);
  }
  int control_fd() const noexcept override { return socket_.get(); }
  bool server_alive() const noexcept override { return !control_peer_gone(socket_.get()); }

 private:
  std::string path_;
  UniqueFd socket_;
  std::vector<std::uint32_t> trusted_;
};

std::string server_socket_path(std::string_view name, const SegmentOptions& options) {
  return options.socket_path.empty() ? ControlServer::default_socket_path(name) : options.socket_path;
}

// The header of a served memfd segment is published before its server starts, so there is
// nothing to wait for; it must say memfd and, when the opener named it, carry that name.
void validate_attached(const Mapping& mapping, std::string_view label, std::string_view expected_name,
                       std::string_view how) {
  require_ready_header(mapping, label);
  require_header_backend(mapping, label, Backend::memfd, how);
  const auto& h = *reinterpret_cast<const SegmentHeader*>(mapping.data());
  const std::string_view stored(h.name, strnlen(h.name, sizeof h.name));
  if (!expected_name.empty() && stored != expected_name.substr(0, sizeof h.name - 1))
    throw Error(Errc::not_found, "the control socket for segment '" + std::string(expected_name) +
                                     "' serves segment '" + std::string(stored) + "': check SegmentOptions::socket_path");
}

std::string header_name(const Mapping& mapping) {
  const auto& h = *reinterpret_cast<const SegmentHeader*>(mapping.data());
  return std::string(h.name, strnlen(h.name, sizeof h.name));
}

std::unique_ptr<ClientAttachment> attach_at(std::string_view name, const std::string& socket_path,
                                            DeadlineNs deadline, bool read_only, const SegmentOptions& options) {
  const bool default_path = socket_path.empty();
  const std::string path = default_path ? unchecked_client_socket_path(name) : socket_path;
  AttachedMemfd attached = attach_memfd(path, deadline, read_only, default_path, options.trusted_server_uids);
  auto out = std::make_unique<ClientAttachment>(std::move(attached.mapping), path, std::move(attached.control_socket),
                                                options.trusted_server_uids);
  validate_attached(out->mapping(), name.empty() ? std::string_view(path) : name, name, "came over a control socket");
  return out;
}

// Never blocks: a stopped server's full backlog would hang a blocking connect for ever.
bool socket_answers(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // A live server accepts (and drops us after its handshake timeout), or has a full backlog
  // (EAGAIN: somebody listens); a stale file refuses.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return true;
  return errno == EAGAIN || errno == EPROTOTYPE;
}

class MemfdBackend final : public SegmentBackend {
 public:
  Backend id() const noexcept override { return Backend::memfd; }

  std::unique_ptr<Attachment> create(const std::string& name, std::size_t size, const SegmentOptions& options,
                                     const FormatFn& format) const override {
    const std::string path = server_socket_path(name, options);
    // The label shows in /proc/<pid>/fd and maps as "/memfd:shmkit:<name> (deleted)".
    std::unique_ptr<MemfdMapping> mapping = create_memfd_mapping("shmkit:" + name, size);
    // Fully formatted before the server starts: no client can ever see it half-built.
    format(*mapping);
    ControlServerOptions server_options = options.control;
    server_options.permissions = options.permissions;  // one knob for what create() makes
    if (!path.empty() && path[0] == '@') server_options.abstract_namespace = true;
    std::unique_ptr<ServingAttachment> out;
    try {
      out = std::make_unique<ServingAttachment>(std::move(mapping), path, std::move(server_options));
    } catch (const Error& e) {
      // A live server on the path means the segment exists: open it instead.
      if (e.errc() == Errc::busy)
        throw Error(Errc::already_exists, "memfd segment at '" + path + "' already exists (a live server "
                                          "answers there): open it, or stop its creator first");
      throw;
    }
    if (options.serve_on_thread) out->server()->start_thread();
    return out;
  }

  std::unique_ptr<Attachment> open(const std::string& name, const SegmentOptions& options, DeadlineNs deadline,
                                   bool read_only) const override {
    return attach_at(name, options.socket_path, deadline, read_only, options);
  }

  bool remove(const std::string& name) const override {
    return ControlServer::remove_stale_socket(client_socket_path(name));
  }

  std::vector<SegmentListing> list() const override {
    // Only a private directory of ours is listed: sockets in one another user made are not ours.
    std::vector<SegmentListing> out;
    const std::optional<std::string> found = listable_socket_directory();
    if (!found) return out;
    const std::string& dir = *found;
    for (const std::string& file : directory_entries(dir)) {
      if (file.size() <= 5 || file.compare(file.size() - 5, 5, ".sock") != 0) continue;
      SegmentListing l;
      l.name = file.substr(0, file.size() - 5);
      l.backend = Backend::memfd;
      l.location = dir + "/" + file;
      l.valid = socket_answers(l.location);
      if (!l.valid) l.problem = "nobody answers on the socket (its server died)";
      l.stale = !l.valid;
      out.push_back(std::move(l));
    }
    return out;
  }

  // Only a dead server's socket file is ever removed.
  bool remove_if_stale(const std::string& name) const override {
    validate_name(name);
    return remove(name);
  }

  // Where the control socket is bound; an abstract socket has no directory (open() polls).
  std::string appearance_directory(const std::string& name, const SegmentOptions& options) const override {
    const std::string path = server_socket_path(name, options);
    if (path.empty() || path[0] == '@') return {};
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  }
};

std::unique_ptr<MemfdAttachment> adopt(int fd, bool read_only) {
  if (fd < 0) throw Error(Errc::invalid_argument, "adopt_memfd: fd " + std::to_string(fd) + " is not open");
  UniqueFd own(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!own) {
    const int e = errno;
    if (e == EBADF) throw Error(Errc::invalid_argument, "adopt_memfd: fd " + std::to_string(fd) + " is not open", e);
    throw Error(errc_from_errno(e), "adopt_memfd: cannot duplicate fd " + std::to_string(fd), e);
  }
  struct stat st {};
  if (::fstat(own.get(), &st) != 0) throw_os_error("adopt_memfd: fstat", errno);
  if (!S_ISREG(st.st_mode) || st.st_size <= 0)
    throw Error(Errc::invalid_argument, "adopt_memfd: fd " + std::to_string(fd) + " is not a memfd segment");
  const std::string label = "adopted fd " + std::to_string(fd);
  auto out = std::make_unique<MemfdAttachment>(
      map_received_memfd(std::move(own), static_cast<std::size_t>(st.st_size), !read_only));
  validate_attached(out->mapping(), label, {}, "was adopted as a memfd");
  return out;
}

}  // namespace

const SegmentBackend& memfd_backend() {
  static const MemfdBackend backend;
  return backend;
}

}  // namespace shmkit::detail

namespace shmkit {

Segment attach_memfd(std::string_view socket_path, const SegmentOptions& options) {
  auto a = detail::attach_at({}, std::string(socket_path), detail::deadline_after(options.open_timeout), false, options);
  std::string name = detail::header_name(a->mapping());
  return detail::SegmentAccess::make(std::move(a), std::move(name), Backend::memfd, options, false);
}

SegmentView attach_memfd_read_only(std::string_view socket_path, const SegmentOptions& options) {
  auto a = detail::attach_at({}, std::string(socket_path), detail::deadline_after(options.open_timeout), true, options);
  std::string name = detail::header_name(a->mapping());
  return detail::SegmentAccess::make_view(
      detail::SegmentAccess::make(std::move(a), std::move(name), Backend::memfd, options, false));
}

Segment adopt_memfd(int fd, const SegmentOptions& options) {
  auto a = detail::adopt(fd, false);
  std::string name = detail::header_name(a->mapping());
  return detail::SegmentAccess::make(std::move(a), std::move(name), Backend::memfd, options, false);
}

SegmentView adopt_memfd_read_only(int fd, const SegmentOptions& options) {
  auto a = detail::adopt(fd, true);
  std::string name = detail::header_name(a->mapping());
  return detail::SegmentAccess::make_view(
      detail::SegmentAccess::make(std::move(a), std::move(name), Backend::memfd, options, false));
}

}  // namespace shmkit
