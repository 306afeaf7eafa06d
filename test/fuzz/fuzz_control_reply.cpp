// Fuzz target: the client's side of the handshake. The server's reply (any bytes, any number of
// fds) is received with receive_packet() and decoded with decode_reply() and, as the answer to an
// FD_REQUEST, with decode_event_reply(), as control_client.cpp does. Byte 0 of the input is the fd count (low 4 bits); the rest is the packet.
// Invariants: decode_reply either throws Error(protocol_error) or returns an ACCEPT that
// re-encodes to the same bytes (fd table valid: 1..8 fds, exactly one segment memfd) or a REFUSE
// with valid text that round-trips; fds never leak.
#include <cstring>
#include <variant>

#include "fuzz_common.hpp"
#include "fuzz_transport.hpp"

namespace ctl = shmkit::detail::control;

namespace {

void check_decoded(std::span<const std::byte> packet) {
  std::variant<ctl::Accept, ctl::Refuse> decoded;
  try {
    decoded = ctl::decode_reply(packet);
  } catch (const shmkit::Error& e) {
    SHMKIT_FUZZ_CHECK(e.errc() == shmkit::Errc::protocol_error);
    return;
  }
  if (const auto* a = std::get_if<ctl::Accept>(&decoded)) {
    SHMKIT_FUZZ_CHECK(packet.size() == ctl::kAcceptSize);
    SHMKIT_FUZZ_CHECK(a->fd_count >= 1 && a->fd_count <= ctl::kMaxFds);
    SHMKIT_FUZZ_CHECK(a->segment_size > 0 && a->format_version != 0);
    unsigned memfds = 0;
    for (std::size_t i = 0; i < ctl::kMaxFds; ++i) {
      if (i >= a->fd_count) SHMKIT_FUZZ_CHECK(a->roles[i] == ctl::FdRole::none);
      if (a->roles[i] == ctl::FdRole::segment_memfd) ++memfds;
    }
    SHMKIT_FUZZ_CHECK(memfds == 1);
    const auto again = ctl::encode_accept(*a);
    SHMKIT_FUZZ_CHECK(std::memcmp(again.data(), packet.data(), again.size()) == 0);
    return;
  }
  const auto& r = std::get<ctl::Refuse>(decoded);
  SHMKIT_FUZZ_CHECK(static_cast<std::uint32_t>(r.code) != 0);
  SHMKIT_FUZZ_CHECK(r.min_version != 0 && r.min_version <= r.max_version);
  SHMKIT_FUZZ_CHECK(packet.size() == ctl::kRefuseFixedSize + r.reason.size());
  (void)ctl::to_string(r.code);
  shmkit_fuzz::check_refuse_round_trip(r);
}

// The same bytes as the answer to an FD_REQUEST: EVENT_FD (16 bytes, a slot below 32) or REFUSE.
void check_event_reply(std::span<const std::byte> packet) {
  std::variant<ctl::EventFdReply, ctl::Refuse> decoded;
  try {
    decoded = ctl::decode_event_reply(packet);
  } catch (const shmkit::Error& e) {
    SHMKIT_FUZZ_CHECK(e.errc() == shmkit::Errc::protocol_error);
    return;
  }
  if (const auto* e = std::get_if<ctl::EventFdReply>(&decoded)) {
    SHMKIT_FUZZ_CHECK(packet.size() == ctl::kEventFdSize && e->slot < ctl::kEventSlots);
    const auto again = ctl::encode_event_fd(*e);
    SHMKIT_FUZZ_CHECK(std::memcmp(again.data(), packet.data(), again.size()) == 0);
    return;
  }
  shmkit_fuzz::check_refuse_round_trip(std::get<ctl::Refuse>(decoded));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned fd_count = data[0] & 0x0F;
  const std::span<const std::byte> packet(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  check_decoded(packet);
  check_event_reply(packet);
  shmkit_fuzz::through_socket(packet, fd_count, [&](std::span<const std::byte> got, const ctl::ReceivedPacket&) {
    check_decoded(got);
    check_event_reply(got);
  });
  return 0;
}
