// memfd backend for Segment (Linux): a sealed memfd served by an owned ControlServer, or
// received from one over its socket.
#include "memfd_backend.hpp"

#include "linux/control_client.hpp"
#include "linux/memfd_mapping.hpp"
#include "segment_header.hpp"
#include "shmkit/control_server.hpp"
#include "shmkit/error.hpp"

namespace shmkit::detail {
namespace {

class ServerLink final : public ControlLink {
 public:
  ServerLink(const MemfdMapping& mapping, const std::string& path, ControlServerOptions options)
      : ControlLink(path), server_(mapping.fd(), mapping.size(), kFormatVersion, path, std::move(options)) {}
  ControlServer* server() noexcept override { return &server_; }

 private:
  ControlServer server_;
};

class ClientLink final : public ControlLink {
 public:
  ClientLink(const std::string& path, UniqueFd socket) : ControlLink(path), socket_(std::move(socket)) {}
  int connection_fd() const noexcept override { return socket_.get(); }
  bool server_alive() const noexcept override { return !control_peer_gone(socket_.get()); }

 private:
  UniqueFd socket_;
};

}  // namespace

bool memfd_available() noexcept { return true; }

std::string memfd_socket_path(std::string_view name, const SegmentOptions& options) {
  return options.socket_path.empty() ? ControlServer::default_socket_path(name) : options.socket_path;
}

std::string memfd_client_socket_path(std::string_view name, const SegmentOptions& options) {
  return options.socket_path.empty() ? client_socket_path(name) : options.socket_path;
}

std::unique_ptr<Mapping> create_memfd_segment(const std::string& name, std::size_t size) {
  // The label shows in /proc/<pid>/fd and maps as "/memfd:shmkit:<name> (deleted)".
  return create_memfd_mapping("shmkit:" + name, size);
}

std::unique_ptr<ControlLink> serve_memfd_segment(const Mapping& mapping, const std::string& socket_path,
                                                 const SegmentOptions& options) {
  ControlServerOptions server_options = options.control;
  server_options.permissions = options.permissions;  // one knob for what create() makes
  if (!socket_path.empty() && socket_path[0] == '@') server_options.abstract_namespace = true;
  std::unique_ptr<ServerLink> link;
  try {
    link = std::make_unique<ServerLink>(dynamic_cast<const MemfdMapping&>(mapping), socket_path,
                                        std::move(server_options));
  } catch (const Error& e) {
    // A live server on the path means the segment exists: open it instead.
    if (e.errc() == Errc::busy)
      throw Error(Errc::already_exists, "memfd segment at '" + socket_path + "' already exists (a live server "
                                        "answers there): open it, or stop its creator first");
    throw;
  }
  if (options.serve_on_thread) link->server()->start_thread();
  return link;
}

AttachedSegment attach_memfd_segment(std::string_view name, const std::string& socket_path, DeadlineNs deadline,
                                     bool read_only) {
  const bool default_path = socket_path.empty();
  const std::string path = default_path ? unchecked_client_socket_path(name) : socket_path;
  AttachedMemfd attached = attach_memfd(path, deadline, read_only, default_path);
  AttachedSegment out;
  out.mapping = std::move(attached.mapping);
  out.link = std::make_unique<ClientLink>(path, std::move(attached.control_socket));
  return out;
}

bool remove_stale_memfd_socket(const std::string& socket_path) {
  return ControlServer::remove_stale_socket(socket_path);
}

}  // namespace shmkit::detail
