// Writer-owned event fds for channel readers' event loops (internal seam between the channel
// layer and a backend that can hand fds to other processes: the memfd backend's control socket).
// docs/channels.md, "Event loops"; docs/protocol.md, FD_REQUEST.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "shmkit/detail/deadline.hpp"

namespace shmkit::detail {

// The channel writer's side, in the process serving the segment: one eventfd per subscriber slot.
class ChannelEventSink {
 public:
  virtual ~ChannelEventSink() = default;
  // One write() to the eventfd of each slot whose bit is set in `slots` and that has an fd.
  // Returns the number of writes made.
  virtual std::uint32_t signal(std::uint32_t slots) noexcept = 0;
};

// What a reader receives: the channel's eventfd for its slot, and the connection it came over,
// which stays open (its hang-up says the writer's process is gone). The caller owns both fds.
struct EventFdGrant {
  int event_fd = -1;
  int connection = -1;
  std::uint32_t slot = 0;
};

// One segment's event fds, as this process's attachment offers them.
class ChannelEvents {
 public:
  virtual ~ChannelEvents() = default;
  // Writer: readers may now request eventfds for channel `name`; signalling stops when the
  // returned sink is destroyed. nullptr when this process cannot hand fds out.
  virtual std::unique_ptr<ChannelEventSink> serve_channel(const std::string& name) = 0;
  // Reader: asks the segment's server (the writer's process) for channel `name`'s eventfd.
  // Throws Error: unsupported (no server to ask from here), refused (no such channel served,
  // no free slot), timeout, protocol_error, peer_gone.
  virtual EventFdGrant request_event_fd(const std::string& name, DeadlineNs deadline) = 0;
};

}  // namespace shmkit::detail
