// The memfd backend's handle (Linux): the segment's memfd, its control server (creator) or the
// connection to it (opener), and attaching to a memfd received by the application's own means.
//
//   if (auto* m = segment.handle<shmkit::MemfdHandle>()) send_fd_to_child(m->fd());
//   shmkit::Segment s = shmkit::adopt_memfd(received_fd);   // in the child
//
// Lifetimes: the handle and every fd it returns belong to the Segment: do not close them; dup()
// an fd to keep it longer. Where the build has no memfd backend, these calls throw
// Error(unsupported).
#pragma once

#include <string>
#include <string_view>

#include "shmkit/backend_handle.hpp"
#include "shmkit/control_server.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/segment_view.hpp"

namespace shmkit {

class MemfdHandle : public BackendHandle {
 public:
  // The sealed memfd behind this process's mapping (read-only fd on a SegmentView). Hand a dup of
  // it to another process (SCM_RIGHTS, inheritance, systemd) and adopt_memfd() it there.
  virtual int fd() const noexcept = 0;
  // The creator's server handing the segment out; nullptr in openers and adopters.
  virtual ControlServer* server() const noexcept = 0;
  // The socket clients attach at ('@name': abstract namespace); empty for an adopted segment.
  virtual const std::string& socket_path() const noexcept = 0;
  // An opener's connection to the server: poll it for POLLRDHUP/POLLHUP to learn the moment the
  // server has gone. -1 for the creator and for adopted segments. Do not read, write or close it.
  virtual int control_fd() const noexcept = 0;
  // False once the server this process attached to has hung up. The mapping stays valid; no new
  // process can attach through the socket any more. True for the creator and adopted segments.
  virtual bool server_alive() const noexcept = 0;
};

// Attaches to the segment served at `socket_path` without knowing its name (name() then comes
// from the header). Errors as for Segment::open().
Segment attach_memfd(std::string_view socket_path, const SegmentOptions& options = {});
SegmentView attach_memfd_read_only(std::string_view socket_path, const SegmentOptions& options = {});

// Maps a memfd segment from an fd this process received by its own means, validated exactly as
// an attach is (it is a memfd, sealed against shrinking and resealing, its size, its header).
// The fd is duplicated: the caller keeps and closes its own. A read-only fd (O_RDONLY reopen)
// can only be adopted as a SegmentView. Error(invalid_argument) for an fd that is not a shmkit
// memfd segment, corrupt / incompatible_format for a bad header.
Segment adopt_memfd(int fd, const SegmentOptions& options = {});
SegmentView adopt_memfd_read_only(int fd, const SegmentOptions& options = {});

}  // namespace shmkit
