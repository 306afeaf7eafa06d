// Client side of the control channel (internal, Linux): attach to a memfd segment served by a
// shmkit::ControlServer. docs/protocol.md describes the exchange.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "channel_events.hpp"
#include "memfd_mapping.hpp"
#include "unique_fd.hpp"
#include "shmkit/detail/deadline.hpp"

namespace shmkit {
class ControlServer;
}

namespace shmkit::detail {

struct AttachedMemfd {
  std::unique_ptr<MemfdMapping> mapping;
  // Stays connected: the server sees this process hang up when it is closed (or the process
  // dies), and control_peer_gone() on it tells when the server went away.
  UniqueFd control_socket;
  std::uint32_t format_version = 0;  // the served segment's format (equals segment_header's kFormatVersion)
  std::uint32_t flags = 0;           // ACCEPT segment flags (control::kSegmentWritable)
};

// Connects (SOCK_SEQPACKET|SOCK_CLOEXEC) to `socket_path` ('@name' = abstract namespace), sends
// HELLO, validates the reply and the fds it carries, and maps the segment memfd (writable when
// the server grants it). `deadline` bounds the connect and the whole handshake.
// Throws Error: not_found (no server: no socket file, or a stale one), timeout, permission_denied
// (socket file permissions, or the server's access policy), refused (other refusals; the server's
// reason is in the message), incompatible_format (the server serves another segment format),
// protocol_error / too_small / corrupt (bad reply or fd), peer_gone (hung up without an answer).
// Every fd received is closed on every error path. read_only: HELLO asks for read-only access and
// the segment is mapped PROT_READ whatever the server grants; a server from before read-only
// views refuses (Errc::unsupported).
// check_directory: `socket_path` is a default path (client_socket_path): its directory is checked
// right after connect(), while the server wakes up, before the HELLO is sent.
// `trusted_server_uids`: whose server we accept (empty: our effective uid or root).
AttachedMemfd attach_memfd(const std::string& socket_path, DeadlineNs deadline, bool read_only = false,
                           bool check_directory = false, const std::vector<std::uint32_t>& trusted_server_uids = {});

// ControlServer::default_socket_path for a client: checks the directory is private (if it
// exists) but never creates it (control_server.cpp).
std::string client_socket_path(std::string_view segment_name);
// The same path unchecked, and the check alone (for attach_memfd's check_directory).
std::string unchecked_client_socket_path(std::string_view segment_name);
void check_client_socket_directory(const std::string& socket_path);
// The directory of default socket paths when it exists and is a private directory of ours;
// nullopt otherwise (nothing to list; never created here).
std::optional<std::string> listable_socket_directory();

// FD_REQUEST (protocol version 2): connects to `socket_path`, asks for channel `channel`'s
// eventfd and checks what arrives (one fd, an eventfd). The connection stays open in the grant.
// Throws Error as attach_memfd does; refused for no_such_channel / no_event_slot, and for an old
// server's unsupported_version.
EventFdGrant request_event_fd(const std::string& socket_path, const std::string& channel, DeadlineNs deadline,
                              const std::vector<std::uint32_t>& trusted_server_uids = {});

// The writer side: readers may request channel `channel`'s eventfds from `server` until the sink
// is destroyed (control_server.cpp).
std::unique_ptr<ChannelEventSink> serve_channel_events(ControlServer& server, const std::string& channel);

// Liveness: true once the server side hung up (POLLHUP/POLLRDHUP/POLLERR), without blocking.
bool control_peer_gone(int control_socket) noexcept;

}  // namespace shmkit::detail
