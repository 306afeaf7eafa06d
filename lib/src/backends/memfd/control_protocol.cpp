// Control channel wire format: explicit little-endian encode/decode, and the SCM_RIGHTS transport.
#include "control_protocol.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>

#include "shmkit/error.hpp"

namespace shmkit::detail::control {
namespace {

// ---- Little-endian field access at fixed offsets ----
void put_u16(std::byte* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::byte>(v & 0xFF);
  p[1] = static_cast<std::byte>(v >> 8);
}
void put_u32(std::byte* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xFF);
}
void put_u64(std::byte* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xFF);
}
std::uint16_t get_u16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) | (std::to_integer<unsigned>(p[1]) << 8));
}
std::uint32_t get_u32(const std::byte* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint32_t>(p[i]);
  return v;
}
std::uint64_t get_u64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  return v;
}

bool all_zero(const std::byte* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != std::byte{0}) return false;
  return true;
}

void put_header(std::byte* p, std::uint16_t version, MessageType type) noexcept {
  put_u32(p + offsetof(HeaderWire, magic), kMagic);
  put_u16(p + offsetof(HeaderWire, version), version);
  put_u16(p + offsetof(HeaderWire, type), static_cast<std::uint16_t>(type));
}

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Length of the valid, printable UTF-8 character at p (1..4), or 0 if the bytes there are not one.
std::size_t text_char_length(const unsigned char* p, std::size_t n) noexcept {
  const unsigned c = p[0];
  if (c < 0x20 || c == 0x7F) return 0;
  if (c < 0x80) return 1;
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;  // continuation byte, overlong lead (C0/C1) or beyond U+10FFFF (F5..FF)
  }
  if (n < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3Fu);
  }
  // Overlong forms, UTF-16 surrogates and code points beyond Unicode are not text.
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

Refuse refusal(RefuseCode code, std::string reason) {
  Refuse r;
  r.code = code;
  r.reason = std::move(reason);
  return r;
}

[[noreturn]] void bad_reply(const std::string& what) {
  throw Error(Errc::protocol_error, "control server broke the protocol: " + what);
}

void validate_roles(std::uint32_t fd_count, const std::array<FdRole, kMaxFds>& roles) {
  if (fd_count < 1 || fd_count > kMaxFds)
    bad_reply("ACCEPT lists " + std::to_string(fd_count) + " fds (1 to " + std::to_string(kMaxFds) + " allowed)");
  std::size_t memfds = 0;
  for (std::size_t i = 0; i < kMaxFds; ++i) {
    const auto role = static_cast<std::uint32_t>(roles[i]);
    if (i >= fd_count) {
      if (role != 0) bad_reply("ACCEPT fd role table entry " + std::to_string(i) + " past the fd count is not zero");
      continue;
    }
    if (roles[i] == FdRole::segment_memfd)
      ++memfds;
    else if (roles[i] != FdRole::eventfd)
      bad_reply("ACCEPT fd " + std::to_string(i) + " has unknown role " + std::to_string(role));
  }
  if (memfds != 1) bad_reply("ACCEPT must pass exactly one segment memfd, it lists " + std::to_string(memfds));
}

}  // namespace

const char* to_string(RefuseCode code) noexcept {
  switch (code) {
    case RefuseCode::bad_magic: return "bad_magic";
    case RefuseCode::unsupported_version: return "unsupported_version";
    case RefuseCode::access_denied: return "access_denied";
    case RefuseCode::server_busy: return "server_busy";
    case RefuseCode::malformed: return "malformed";
    case RefuseCode::unsupported_access: return "unsupported_access";
    case RefuseCode::incompatible_format: return "incompatible_format";
    case RefuseCode::handshake_timeout: return "handshake_timeout";
    case RefuseCode::internal_error: return "internal_error";
    case RefuseCode::no_such_channel: return "no_such_channel";
    case RefuseCode::no_event_slot: return "no_event_slot";
  }
  return "unknown";
}

bool valid_reason_text(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t len = text_char_length(p + i, text.size() - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::array<std::byte, kHelloSize> encode_hello(const Hello& hello) {
  std::array<std::byte, kHelloSize> out{};
  put_header(out.data(), hello.version, MessageType::hello);
  put_u32(out.data() + offsetof(HelloWire, access), static_cast<std::uint32_t>(hello.access));
  put_u32(out.data() + offsetof(HelloWire, format_version), hello.format_version);
  return out;
}

std::array<std::byte, kAcceptSize> encode_accept(const Accept& accept, std::uint16_t version) {
  std::array<std::byte, kAcceptSize> out{};
  put_header(out.data(), version, MessageType::accept);
  put_u64(out.data() + offsetof(AcceptWire, segment_size), accept.segment_size);
  put_u32(out.data() + offsetof(AcceptWire, format_version), accept.format_version);
  put_u32(out.data() + offsetof(AcceptWire, segment_flags), accept.segment_flags);
  put_u32(out.data() + offsetof(AcceptWire, fd_count), accept.fd_count);
  for (std::size_t i = 0; i < kMaxFds; ++i)
    put_u32(out.data() + offsetof(AcceptWire, roles) + 4 * i, static_cast<std::uint32_t>(accept.roles[i]));
  return out;
}

std::vector<std::byte> encode_fd_request(std::string_view channel, std::uint16_t version) {
  std::vector<std::byte> out(kFdRequestFixedSize + channel.size());
  put_header(out.data(), version, MessageType::fd_request);
  put_u16(out.data() + offsetof(FdRequestWire, name_length), static_cast<std::uint16_t>(channel.size()));
  std::memcpy(out.data() + kFdRequestFixedSize, channel.data(), channel.size());
  return out;
}

std::array<std::byte, kEventFdSize> encode_event_fd(const EventFdReply& reply) {
  std::array<std::byte, kEventFdSize> out{};
  put_header(out.data(), kEventFdVersion, MessageType::event_fd);
  put_u32(out.data() + offsetof(EventFdWire, slot), reply.slot);
  return out;
}

std::vector<std::byte> encode_refuse(const Refuse& refuse) {
  // Sanitized so that what we send always passes valid_reason_text() on the other side.
  std::string text;
  const auto* p = reinterpret_cast<const unsigned char*>(refuse.reason.data());
  std::size_t i = 0;
  while (i < refuse.reason.size()) {
    std::size_t len = text_char_length(p + i, refuse.reason.size() - i);
    const bool valid = len != 0;
    if (!valid) len = 1;
    if (text.size() + (valid ? len : 1) > kMaxReasonBytes) break;
    if (valid)
      text.append(refuse.reason, i, len);
    else
      text.push_back('?');
    i += len;
  }
  std::vector<std::byte> out(kRefuseFixedSize + text.size());
  put_header(out.data(), kProtocolVersion, MessageType::refuse);
  put_u32(out.data() + offsetof(RefuseWire, code), static_cast<std::uint32_t>(refuse.code));
  put_u16(out.data() + offsetof(RefuseWire, min_version), refuse.min_version);
  put_u16(out.data() + offsetof(RefuseWire, max_version), refuse.max_version);
  put_u16(out.data() + offsetof(RefuseWire, reason_length), static_cast<std::uint16_t>(text.size()));
  std::memcpy(out.data() + kRefuseFixedSize, text.data(), text.size());
  return out;
}

namespace {

// Magic and version of a client's first packet: nullopt when both are good.
std::optional<Refuse> check_request_header(std::span<const std::byte> packet) {
  const std::byte* p = packet.data();
  if (packet.size() < kHeaderSize)
    return refusal(RefuseCode::malformed, "message of " + std::to_string(packet.size()) +
                                              " bytes is shorter than the 8-byte message header");
  const std::uint32_t magic = get_u32(p + offsetof(HeaderWire, magic));
  if (magic != kMagic)
    return refusal(RefuseCode::bad_magic, "message does not start with the magic 'SHKC' (got " + hex32(magic) +
                                              "): not a shmkit control client");
  // The version is checked before the length: another version's message may be longer.
  const std::uint16_t version = get_u16(p + offsetof(HeaderWire, version));
  if (version < kMinProtocolVersion || version > kMaxProtocolVersion)
    return refusal(RefuseCode::unsupported_version,
                   "this server speaks protocol versions " + std::to_string(kMinProtocolVersion) + " to " +
                       std::to_string(kMaxProtocolVersion) + ", the client sent version " + std::to_string(version));
  return std::nullopt;
}

std::variant<Hello, Refuse> decode_hello_body(std::span<const std::byte> packet) {
  const std::byte* p = packet.data();
  const std::uint16_t version = get_u16(p + offsetof(HeaderWire, version));
  if (packet.size() != kHelloSize)
    return refusal(RefuseCode::malformed, "HELLO has " + std::to_string(packet.size()) + " bytes, versions 1 and 2 have " +
                                              std::to_string(kHelloSize));
  if (!all_zero(p + offsetof(HelloWire, reserved), sizeof(HelloWire::reserved)))
    return refusal(RefuseCode::malformed, "HELLO reserved bytes 16..31 are not zero");
  Hello hello;
  hello.version = version;
  const std::uint32_t access = get_u32(p + offsetof(HelloWire, access));
  if (access != static_cast<std::uint32_t>(Access::read_write) && access != static_cast<std::uint32_t>(Access::read_only))
    return refusal(RefuseCode::malformed, "HELLO access value " + std::to_string(access) + " is unknown");
  hello.access = static_cast<Access>(access);
  hello.format_version = get_u32(p + offsetof(HelloWire, format_version));
  if (hello.format_version == 0) return refusal(RefuseCode::malformed, "HELLO segment format version is 0");
  return hello;
}

std::variant<FdRequest, Refuse> decode_fd_request_body(std::span<const std::byte> packet) {
  const std::byte* p = packet.data();
  const std::uint16_t version = get_u16(p + offsetof(HeaderWire, version));
  if (version < kEventFdVersion)
    return refusal(RefuseCode::malformed, "FD_REQUEST (type 4) needs protocol version 2, the client sent version " +
                                              std::to_string(version));
  if (packet.size() < kFdRequestFixedSize)
    return refusal(RefuseCode::malformed, "FD_REQUEST of " + std::to_string(packet.size()) + " bytes is shorter than " +
                                              std::to_string(kFdRequestFixedSize));
  const std::uint16_t length = get_u16(p + offsetof(FdRequestWire, name_length));
  if (length == 0 || length > kMaxChannelNameBytes || kFdRequestFixedSize + length != packet.size())
    return refusal(RefuseCode::malformed, "FD_REQUEST name length " + std::to_string(length) + " (1 to " +
                                              std::to_string(kMaxChannelNameBytes) + ") disagrees with its packet of " +
                                              std::to_string(packet.size()) + " bytes");
  if (get_u16(p + offsetof(FdRequestWire, reserved0)) != 0 || get_u32(p + offsetof(FdRequestWire, reserved1)) != 0)
    return refusal(RefuseCode::malformed, "FD_REQUEST reserved bytes 10..15 are not zero");
  FdRequest r;
  r.channel.assign(reinterpret_cast<const char*>(p + kFdRequestFixedSize), length);
  if (!valid_reason_text(r.channel)) return refusal(RefuseCode::malformed, "FD_REQUEST channel name is not printable UTF-8 text");
  return r;
}

}  // namespace

std::variant<Hello, Refuse> decode_hello(std::span<const std::byte> packet) {
  if (auto bad = check_request_header(packet)) return *bad;
  const std::uint16_t type = get_u16(packet.data() + offsetof(HeaderWire, type));
  if (type != static_cast<std::uint16_t>(MessageType::hello))
    return refusal(RefuseCode::malformed, "expected HELLO (type 1), got message type " + std::to_string(type));
  return decode_hello_body(packet);
}

std::variant<Hello, FdRequest, Refuse> decode_request(std::span<const std::byte> packet) {
  if (auto bad = check_request_header(packet)) return *bad;
  const std::uint16_t type = get_u16(packet.data() + offsetof(HeaderWire, type));
  if (type == static_cast<std::uint16_t>(MessageType::hello)) {
    auto h = decode_hello_body(packet);
    if (auto* r = std::get_if<Refuse>(&h)) return std::move(*r);
    return std::get<Hello>(h);
  }
  if (type == static_cast<std::uint16_t>(MessageType::fd_request)) {
    auto f = decode_fd_request_body(packet);
    if (auto* r = std::get_if<Refuse>(&f)) return std::move(*r);
    return std::move(std::get<FdRequest>(f));
  }
  return refusal(RefuseCode::malformed, "expected HELLO (type 1) or FD_REQUEST (type 4), got message type " +
                                            std::to_string(type));
}

namespace {

Refuse decode_refuse(std::span<const std::byte> packet) {
  // REFUSE's layout is the same in every protocol version, so its own version is not checked.
  const std::byte* p = packet.data();
  if (packet.size() < kRefuseFixedSize || packet.size() > kRefuseMaxSize)
    bad_reply("REFUSE has " + std::to_string(packet.size()) + " bytes (" + std::to_string(kRefuseFixedSize) +
              " to " + std::to_string(kRefuseMaxSize) + " allowed)");
  const std::uint16_t length = get_u16(p + offsetof(RefuseWire, reason_length));
  if (length > kMaxReasonBytes || kRefuseFixedSize + length != packet.size())
    bad_reply("REFUSE reason length " + std::to_string(length) + " disagrees with its packet of " +
              std::to_string(packet.size()) + " bytes");
  if (get_u16(p + offsetof(RefuseWire, reserved)) != 0) bad_reply("REFUSE reserved bytes 18..19 are not zero");
  Refuse r;
  const std::uint32_t code = get_u32(p + offsetof(RefuseWire, code));
  if (code == 0) bad_reply("REFUSE code is 0");
  r.code = static_cast<RefuseCode>(code);  // unknown codes from newer servers: a generic refusal
  r.min_version = get_u16(p + offsetof(RefuseWire, min_version));
  r.max_version = get_u16(p + offsetof(RefuseWire, max_version));
  if (r.min_version == 0 || r.min_version > r.max_version)
    bad_reply("REFUSE names versions " + std::to_string(r.min_version) + " to " + std::to_string(r.max_version));
  r.reason.assign(reinterpret_cast<const char*>(p + kRefuseFixedSize), length);
  if (!valid_reason_text(r.reason)) bad_reply("REFUSE reason is not printable UTF-8 text");
  return r;
}

// A reply's message header, its size and magic checked.
struct ReplyHeader {
  std::uint16_t version;
  std::uint16_t type;
};
ReplyHeader read_reply_header(std::span<const std::byte> packet) {
  const std::byte* p = packet.data();
  if (packet.size() < kHeaderSize)
    bad_reply("reply of " + std::to_string(packet.size()) + " bytes is shorter than the 8-byte message header");
  const std::uint32_t magic = get_u32(p + offsetof(HeaderWire, magic));
  if (magic != kMagic) bad_reply("reply does not start with the magic 'SHKC' (got " + hex32(magic) + ")");
  return {get_u16(p + offsetof(HeaderWire, version)), get_u16(p + offsetof(HeaderWire, type))};
}

}  // namespace

std::variant<EventFdReply, Refuse> decode_event_reply(std::span<const std::byte> packet) {
  const std::byte* p = packet.data();
  const auto [version, type] = read_reply_header(packet);
  if (type == static_cast<std::uint16_t>(MessageType::refuse)) return decode_refuse(packet);
  if (type != static_cast<std::uint16_t>(MessageType::event_fd))
    bad_reply("expected EVENT_FD (5) or REFUSE (3), got message type " + std::to_string(type));
  if (version != kEventFdVersion)
    bad_reply("EVENT_FD is protocol version " + std::to_string(version) + ", this client asked for version " +
              std::to_string(kEventFdVersion));
  if (packet.size() != kEventFdSize)
    bad_reply("EVENT_FD has " + std::to_string(packet.size()) + " bytes, version 2 has " + std::to_string(kEventFdSize));
  if (get_u32(p + offsetof(EventFdWire, reserved)) != 0) bad_reply("EVENT_FD reserved bytes 12..15 are not zero");
  EventFdReply r;
  r.slot = get_u32(p + offsetof(EventFdWire, slot));
  if (r.slot >= kEventSlots)
    bad_reply("EVENT_FD slot " + std::to_string(r.slot) + " is not below " + std::to_string(kEventSlots));
  return r;
}

std::variant<Accept, Refuse> decode_reply(std::span<const std::byte> packet) {
  const std::byte* p = packet.data();
  const auto [version, type] = read_reply_header(packet);

  if (type == static_cast<std::uint16_t>(MessageType::refuse)) return decode_refuse(packet);
  if (type != static_cast<std::uint16_t>(MessageType::accept))
    bad_reply("expected ACCEPT (2) or REFUSE (3), got message type " + std::to_string(type));
  if (version != kProtocolVersion)
    bad_reply("ACCEPT is protocol version " + std::to_string(version) + ", this client asked for version " +
              std::to_string(kProtocolVersion));
  if (packet.size() != kAcceptSize)
    bad_reply("ACCEPT has " + std::to_string(packet.size()) + " bytes, version 1 has " + std::to_string(kAcceptSize));
  Accept a;
  a.segment_size = get_u64(p + offsetof(AcceptWire, segment_size));
  a.format_version = get_u32(p + offsetof(AcceptWire, format_version));
  a.segment_flags = get_u32(p + offsetof(AcceptWire, segment_flags));
  a.fd_count = get_u32(p + offsetof(AcceptWire, fd_count));
  constexpr auto max_size = static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max());
  if (a.segment_size == 0 || a.segment_size > max_size)
    bad_reply("ACCEPT segment size " + std::to_string(a.segment_size) + " is not mappable");
  if (a.format_version == 0) bad_reply("ACCEPT segment format version is 0");
  if ((a.segment_flags & ~kKnownSegmentFlags) != 0)
    bad_reply("ACCEPT segment flags " + hex32(a.segment_flags) + " has unknown bits");
  if (get_u32(p + offsetof(AcceptWire, reserved)) != 0) bad_reply("ACCEPT reserved bytes 28..31 are not zero");
  for (std::size_t i = 0; i < kMaxFds; ++i)
    a.roles[i] = static_cast<FdRole>(get_u32(p + offsetof(AcceptWire, roles) + 4 * i));
  validate_roles(a.fd_count, a.roles);
  return a;
}

SocketAddress socket_address(const std::string& path) {
  SocketAddress out;
  out.address.sun_family = AF_UNIX;
  out.abstract = !path.empty() && path[0] == '@';
  const std::string_view name = out.abstract ? std::string_view(path).substr(1) : std::string_view(path);
  // sun_path holds 108 bytes: a file path needs its NUL, an abstract name its leading NUL.
  constexpr std::size_t room = sizeof(out.address.sun_path) - 1;
  if (name.empty() || name.size() > room || name.find('\0') != std::string_view::npos)
    throw Error(Errc::invalid_argument, "control socket path '" + path + "' must have 1 to " + std::to_string(room) +
                                            " bytes (after a leading '@' for the abstract namespace) and no NUL");
  if (out.abstract) {
    out.address.sun_path[0] = '\0';
    std::memcpy(out.address.sun_path + 1, name.data(), name.size());
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  } else {
    std::memcpy(out.address.sun_path, name.data(), name.size());
    out.length = static_cast<socklen_t>(sizeof(out.address));
  }
  return out;
}

ReceiveStatus receive_packet(int socket, std::span<std::byte> buffer, ReceivedPacket& out) {
  out = ReceivedPacket{};
  // Room for 8 fds and an SCM_CREDENTIALS record; anything beyond is cut (MSG_CTRUNC) and the
  // kernel closes the fds that did not fit.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds) + CMSG_SPACE(sizeof(ucred))];
  std::memset(control, 0, sizeof control);
  // Reserved up front so taking ownership below never allocates (and so never leaks on bad_alloc).
  out.fds.reserve(sizeof control / sizeof(int));
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  // A non-blocking SEQPACKET recvmsg reports EOF (0) when it saw the queue empty and then the
  // peer's shutdown: a peer that sends its last packet and closes in between leaves that packet
  // queued behind a 0. The packet was queued before the shutdown, so one more look finds it; a
  // real EOF reads 0 again, and EAGAIN means the 0 was an empty packet.
  bool looked_again = false;
  ssize_t n = 0;
  for (;;) {
    msg = msghdr{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    do {
      n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      const int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) {
        if (!looked_again) return ReceiveStatus::would_block;
        out.size = 0;  // the earlier 0 was an empty packet
        return ReceiveStatus::packet;
      }
      if (e == ECONNRESET) throw Error(Errc::peer_gone, "control peer reset the connection", e);
      throw_os_error("recvmsg on control socket", e);
    }
    if (n > 0 || msg.msg_controllen != 0 || looked_again) break;
    looked_again = true;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count && out.fds.size() < out.fds.capacity(); ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      out.fds.emplace_back(fd);
    }
  }
  out.size = static_cast<std::size_t>(n);
  out.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  out.control_truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  return n == 0 && out.fds.empty() && !out.control_truncated ? ReceiveStatus::hung_up : ReceiveStatus::packet;
}

void send_packet(int socket, std::span<const std::byte> bytes, std::span<const int> fds) {
  if (fds.size() > kMaxFds) throw Error(Errc::invalid_argument, "at most 8 fds fit one control message");
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  std::memset(control, 0, sizeof control);
  iovec iov{const_cast<std::byte*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n = 0;
  do {
    n = ::sendmsg(socket, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const int e = errno;
    if (e == EPIPE || e == ECONNRESET || e == ENOTCONN)
      throw Error(Errc::peer_gone, "control peer hung up before the message could be sent", e);
    if (e == EAGAIN || e == EWOULDBLOCK)
      throw Error(Errc::resource_limit, "control peer's receive queue is full", e);
    throw_os_error("sendmsg on control socket", e);
  }
  if (static_cast<std::size_t>(n) != bytes.size())
    throw Error(Errc::system, "sendmsg sent " + std::to_string(n) + " of " + std::to_string(bytes.size()) +
                                  " bytes of a control packet");
}

}  // namespace shmkit::detail::control
