// The memfd backend as Segment sees it (internal seam): implemented in linux/memfd_backend.cpp,
// stubbed in portable/no_memfd.cpp, so segment.cpp stays free of platform conditionals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "mapping.hpp"
#include "shmkit/detail/deadline.hpp"
#include "shmkit/segment.hpp"

namespace shmkit::detail {

// This process's end of a memfd segment's control channel: the server (creator) or the
// connection to it (opener). Destroyed before the mapping, so the server stops first.
class ControlLink {
 public:
  virtual ~ControlLink() = default;
  ControlLink(const ControlLink&) = delete;
  ControlLink& operator=(const ControlLink&) = delete;

  const std::string& socket_path() const noexcept { return socket_path_; }
  virtual ControlServer* server() noexcept { return nullptr; }
  virtual int connection_fd() const noexcept { return -1; }
  virtual bool server_alive() const noexcept { return true; }

 protected:
  explicit ControlLink(std::string socket_path) : socket_path_(std::move(socket_path)) {}

 private:
  std::string socket_path_;
};

struct AttachedSegment {
  std::unique_ptr<Mapping> mapping;
  std::unique_ptr<ControlLink> link;
};

// True where the memfd backend exists (Linux).
bool memfd_available() noexcept;

// The control socket of segment `name`: options.socket_path, else ControlServer::default_socket_path.
std::string memfd_socket_path(std::string_view name, const SegmentOptions& options);
// The same for a client: checks the default directory but does not create it.
std::string memfd_client_socket_path(std::string_view name, const SegmentOptions& options);

// A fresh sealed memfd of `size` bytes, mapped read-write, labelled after the segment.
std::unique_ptr<Mapping> create_memfd_segment(const std::string& name, std::size_t size);

// Serves the formatted segment in `mapping` (made by create_memfd_segment) at `socket_path`, on
// its own thread unless options.serve_on_thread is false. Error(already_exists) if a live
// server answers there.
std::unique_ptr<ControlLink> serve_memfd_segment(const Mapping& mapping, const std::string& socket_path,
                                                 const SegmentOptions& options);

// Connects to the server of segment `name` (at `socket_path` if not empty, else at the default
// path, whose directory is checked), validates the handshake and the memfd, and maps it
// (read_only: asks for a read-only fd and maps it PROT_READ).
AttachedSegment attach_memfd_segment(std::string_view name, const std::string& socket_path, DeadlineNs deadline,
                                     bool read_only);

// Unlinks a stale socket file (its server died) at `socket_path`; never a live server's.
// Returns whether one was removed.
bool remove_stale_memfd_socket(const std::string& socket_path);

}  // namespace shmkit::detail
