// The control channel's wire format (internal; docs/protocol.md is the normative description).
//
// SOCK_SEQPACKET over AF_UNIX: every message is one packet, so a length is the packet's length
// and never a field to trust. All integers are little-endian and fixed-width. The *Wire structs
// below document the layout (their offsets are asserted) but are never memcpy'd: encode/decode
// store and load each field at its offset, so the format does not depend on this host.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "unique_fd.hpp"

namespace shmkit::detail::control {

// 'S','H','K','C' on the wire, read as a little-endian u32.
inline constexpr std::uint32_t kMagic = 0x434B4853;
// The version this build's client says HELLO in (HELLO and ACCEPT are the same in version 2).
inline constexpr std::uint16_t kProtocolVersion = 1;
// The version of FD_REQUEST / EVENT_FD (a channel's writer-owned eventfd).
inline constexpr std::uint16_t kEventFdVersion = 2;
// The versions this build's server answers; REFUSE(unsupported_version) names them.
inline constexpr std::uint16_t kMinProtocolVersion = 1;
inline constexpr std::uint16_t kMaxProtocolVersion = 2;

inline constexpr std::size_t kMaxFds = 8;
inline constexpr std::size_t kMaxReasonBytes = 200;

enum class MessageType : std::uint16_t { hello = 1, accept = 2, refuse = 3, fd_request = 4, event_fd = 5 };

// HELLO.access: what the client wants. read_only is granted with a read-only fd (reopened
// O_RDONLY) and no kSegmentWritable flag; servers from before read-only views refuse it with
// unsupported_access, so a client learns it cannot have it rather than getting a writable fd.
enum class Access : std::uint32_t { read_write = 1, read_only = 2 };

// ACCEPT.roles[i]: what the i-th passed fd is.
enum class FdRole : std::uint32_t {
  none = 0,           // unused table entry (i >= fd_count)
  segment_memfd = 1,  // the sealed memfd holding the segment: exactly one per ACCEPT
  eventfd = 2,        // reserved in ACCEPT (clients close it unused); EVENT_FD passes one
};

// ACCEPT.segment_flags bits.
inline constexpr std::uint32_t kSegmentWritable = 1u << 0;  // the client may map it read-write
inline constexpr std::uint32_t kKnownSegmentFlags = kSegmentWritable;

enum class RefuseCode : std::uint32_t {
  bad_magic = 1,            // the HELLO did not start with 'SHKC'
  unsupported_version = 2,  // min_version..max_version say what the server speaks
  access_denied = 3,        // the peer's uid/gid is not allowed by the server's policy (or only read-only)
  server_busy = 4,          // too many clients (max_clients) or out of file descriptors
  malformed = 5,            // wrong length, type, reserved bytes, or fds sent by the client
  unsupported_access = 6,   // sent by servers older than read-only views for access = read_only
  incompatible_format = 7,  // the client reads another segment format version
  handshake_timeout = 8,    // no HELLO within the server's handshake timeout
  internal_error = 9,       // the server failed (e.g. could not pass the fd)
  no_such_channel = 10,     // FD_REQUEST: no channel of that name has its writer in the server's process
  no_event_slot = 11,       // FD_REQUEST: the channel's kEventSlots subscriber slots are all taken
};
// Short stable name ("access_denied"), or "unknown".
const char* to_string(RefuseCode code) noexcept;

// ---- Wire layouts (documentation; offsets asserted) ----
struct HeaderWire {
  std::uint32_t magic;    // 0
  std::uint16_t version;  // 4
  std::uint16_t type;     // 6  MessageType
};
struct HelloWire {
  HeaderWire header;            // 0
  std::uint32_t access;         // 8   Access
  std::uint32_t format_version; // 12  segment format the client reads
  std::uint8_t reserved[16];    // 16  zero
};
struct AcceptWire {
  HeaderWire header;              // 0
  std::uint64_t segment_size;     // 8   bytes; equals fstat() of the memfd
  std::uint32_t format_version;   // 16  segment format of the served segment
  std::uint32_t segment_flags;    // 20  kSegmentWritable...
  std::uint32_t fd_count;         // 24  1..8, equals the fds in the SCM_RIGHTS message
  std::uint32_t reserved;         // 28  zero
  std::uint32_t roles[kMaxFds];   // 32  FdRole per fd, in SCM_RIGHTS order; zero past fd_count
};
struct RefuseWire {
  HeaderWire header;             // 0
  std::uint32_t code;            // 8   RefuseCode
  std::uint16_t min_version;     // 12  versions the server speaks
  std::uint16_t max_version;     // 14
  std::uint16_t reason_length;   // 16  0..200; the packet is exactly 20 + reason_length bytes
  std::uint16_t reserved;        // 18  zero
  char reason[kMaxReasonBytes];  // 20  UTF-8, no NUL or control characters
};
// Version 2: a connection's first packet may be FD_REQUEST instead of HELLO.
inline constexpr std::size_t kMaxChannelNameBytes = 200;
struct FdRequestWire {
  HeaderWire header;            // 0   version 2, type 4
  std::uint16_t name_length;    // 8   1..200; the packet is exactly 16 + name_length bytes
  std::uint16_t reserved0;      // 10  zero
  std::uint32_t reserved1;      // 12  zero
  char name[kMaxChannelNameBytes];  // 16  the channel's name in the segment, printable UTF-8
};
struct EventFdWire {
  HeaderWire header;       // 0   version 2, type 5; exactly one fd (the eventfd) in SCM_RIGHTS
  std::uint32_t slot;      // 8   the subscriber slot: bit `slot` of the channel's fd_subscribers
  std::uint32_t reserved;  // 12  zero
};
static_assert(offsetof(FdRequestWire, name_length) == 8 && offsetof(FdRequestWire, reserved1) == 12 &&
              offsetof(FdRequestWire, name) == 16);
static_assert(sizeof(EventFdWire) == 16 && offsetof(EventFdWire, slot) == 8 && offsetof(EventFdWire, reserved) == 12);
inline constexpr std::size_t kFdRequestFixedSize = offsetof(FdRequestWire, name);
inline constexpr std::size_t kEventFdSize = sizeof(EventFdWire);
// Subscriber slots per channel: the bits of the 32-bit fd_subscribers word.
inline constexpr std::uint32_t kEventSlots = 32;

static_assert(sizeof(HeaderWire) == 8 && offsetof(HeaderWire, version) == 4 && offsetof(HeaderWire, type) == 6);
static_assert(sizeof(HelloWire) == 32 && offsetof(HelloWire, access) == 8 &&
              offsetof(HelloWire, format_version) == 12 && offsetof(HelloWire, reserved) == 16);
static_assert(sizeof(AcceptWire) == 64 && offsetof(AcceptWire, segment_size) == 8 &&
              offsetof(AcceptWire, format_version) == 16 && offsetof(AcceptWire, segment_flags) == 20 &&
              offsetof(AcceptWire, fd_count) == 24 && offsetof(AcceptWire, reserved) == 28 &&
              offsetof(AcceptWire, roles) == 32);
static_assert(offsetof(RefuseWire, code) == 8 && offsetof(RefuseWire, min_version) == 12 &&
              offsetof(RefuseWire, max_version) == 14 && offsetof(RefuseWire, reason_length) == 16 &&
              offsetof(RefuseWire, reserved) == 18 && offsetof(RefuseWire, reason) == 20);

inline constexpr std::size_t kHeaderSize = sizeof(HeaderWire);
inline constexpr std::size_t kHelloSize = sizeof(HelloWire);
inline constexpr std::size_t kAcceptSize = sizeof(AcceptWire);
inline constexpr std::size_t kRefuseFixedSize = offsetof(RefuseWire, reason);
inline constexpr std::size_t kRefuseMaxSize = kRefuseFixedSize + kMaxReasonBytes;
// Receive buffers are larger than any valid message so an oversized one shows as too long
// rather than silently truncated.
inline constexpr std::size_t kReceiveBufferSize = 512;

// ---- Decoded messages ----
struct FdRequest {
  std::string channel;
};
struct EventFdReply {
  std::uint32_t slot = 0;
};
struct Hello {
  std::uint16_t version = kProtocolVersion;
  Access access = Access::read_write;
  std::uint32_t format_version = 0;
};
struct Accept {
  std::uint64_t segment_size = 0;
  std::uint32_t format_version = 0;
  std::uint32_t segment_flags = 0;
  std::uint32_t fd_count = 0;
  std::array<FdRole, kMaxFds> roles{};
};
struct Refuse {
  RefuseCode code = RefuseCode::malformed;
  std::uint16_t min_version = kMinProtocolVersion;
  std::uint16_t max_version = kMaxProtocolVersion;
  std::string reason;
};

// Encoders write exactly the documented bytes. HELLO carries hello.version (tests craft others);
// ACCEPT and REFUSE always carry kProtocolVersion.
std::array<std::byte, kHelloSize> encode_hello(const Hello& hello);
// `version`: the HELLO's (the server answers in the version it was asked in).
std::array<std::byte, kAcceptSize> encode_accept(const Accept& accept, std::uint16_t version = kProtocolVersion);
// FD_REQUEST naming `channel` (tests craft other versions and names).
std::vector<std::byte> encode_fd_request(std::string_view channel, std::uint16_t version = kEventFdVersion);
std::array<std::byte, kEventFdSize> encode_event_fd(const EventFdReply& reply);
// The reason is cut to 200 bytes at a character boundary; bytes that are not valid UTF-8 text
// (or are control characters) become '?'.
std::vector<std::byte> encode_refuse(const Refuse& refuse);

// Server side: a valid HELLO, or the REFUSE to answer it with (code and reason say what is wrong).
std::variant<Hello, Refuse> decode_hello(std::span<const std::byte> packet);
// Server side, a connection's first packet: HELLO (version 1 or 2), FD_REQUEST (version 2), or
// the REFUSE to answer it with.
std::variant<Hello, FdRequest, Refuse> decode_request(std::span<const std::byte> packet);

// Client side of FD_REQUEST: a valid EVENT_FD or REFUSE; anything else throws
// Error(protocol_error) naming the field. That exactly one fd arrived is the caller's check.
std::variant<EventFdReply, Refuse> decode_event_reply(std::span<const std::byte> packet);

// Client side: a valid ACCEPT or REFUSE; anything else throws Error(protocol_error) naming the
// field. ACCEPT's fd table is validated here (count 1..8, known roles, exactly one segment memfd,
// zero past the count); that the fds that arrived match it is the caller's check.
std::variant<Accept, Refuse> decode_reply(std::span<const std::byte> packet);

// True if `text` is well-formed UTF-8 without NUL, control characters or DEL.
bool valid_reason_text(std::string_view text) noexcept;

// ---- Transport ----
// A socket path as a sockaddr_un: a leading '@' names the abstract namespace (no file; the rest
// of the path is the name). Throws Error(invalid_argument) for an empty or too long path.
struct SocketAddress {
  sockaddr_un address{};
  socklen_t length = 0;
  bool abstract = false;
};
SocketAddress socket_address(const std::string& path);

struct ReceivedPacket {
  std::size_t size = 0;             // bytes of the packet that fit the buffer
  bool truncated = false;           // MSG_TRUNC: the packet was larger than the buffer
  bool control_truncated = false;   // MSG_CTRUNC: fds or control data were dropped by the kernel
  std::vector<UniqueFd> fds;        // every fd that arrived, owned (closed unless moved out)
};
enum class ReceiveStatus { packet, would_block, hung_up };

// One packet, non-blocking (MSG_CMSG_CLOEXEC), with room for 8 fds plus credentials. Every fd
// that arrives is owned by `out` whatever the caller decides. hung_up is a real EOF: a last
// packet the kernel reported behind an early EOF is returned first, and an empty packet is a
// packet of size 0.
// Throws Error for failures other than EAGAIN (ECONNRESET -> peer_gone).
ReceiveStatus receive_packet(int socket, std::span<std::byte> buffer, ReceivedPacket& out);

// One non-blocking sendmsg (MSG_NOSIGNAL) of a whole packet, with `fds` in one SCM_RIGHTS
// message when not empty. Throws Error (EAGAIN -> resource_limit, EPIPE -> peer_gone).
void send_packet(int socket, std::span<const std::byte> bytes, std::span<const int> fds = {});

}  // namespace shmkit::detail::control
