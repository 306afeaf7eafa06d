// Fuzz target: the server's side of the handshake. A client's first packet (any bytes, any
// number of fds) is received with receive_packet() and decoded with decode_request() (HELLO or,
// version 2, FD_REQUEST), as control_server.cpp does. Byte 0 of the input is the fd count (low 4
// bits); the rest is the packet.
// Invariants: a HELLO or FD_REQUEST that decodes re-encodes to the same bytes; a refusal's reason
// is valid text that survives encode_refuse/decode_reply; fds never leak.
#include <cstring>
#include <variant>

#include "fuzz_common.hpp"
#include "fuzz_transport.hpp"

namespace ctl = shmkit::detail::control;

namespace {

void check_decoded(std::span<const std::byte> packet) {
  const auto decoded = ctl::decode_request(packet);
  if (const auto* f = std::get_if<ctl::FdRequest>(&decoded)) {
    SHMKIT_FUZZ_CHECK(!f->channel.empty() && f->channel.size() <= ctl::kMaxChannelNameBytes &&
                      ctl::valid_reason_text(f->channel));
    const auto again = ctl::encode_fd_request(f->channel, ctl::kEventFdVersion);
    SHMKIT_FUZZ_CHECK(again.size() == packet.size() && std::memcmp(again.data(), packet.data(), again.size()) == 0);
    return;
  }
  if (const auto* h = std::get_if<ctl::Hello>(&decoded)) {
    SHMKIT_FUZZ_CHECK(packet.size() == ctl::kHelloSize);
    SHMKIT_FUZZ_CHECK((h->access == ctl::Access::read_write || h->access == ctl::Access::read_only) &&
                      h->format_version != 0);
    const auto again = ctl::encode_hello(*h);
    SHMKIT_FUZZ_CHECK(std::memcmp(again.data(), packet.data(), again.size()) == 0);
    return;
  }
  const auto& r = std::get<ctl::Refuse>(decoded);
  const auto code = static_cast<std::uint32_t>(r.code);
  SHMKIT_FUZZ_CHECK(code >= 1 && code <= 11);
  // The server sends this refusal: the client must be able to read it back unchanged.
  shmkit_fuzz::check_refuse_round_trip(r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned fd_count = data[0] & 0x0F;
  const std::span<const std::byte> packet(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  check_decoded(packet);
  shmkit_fuzz::through_socket(packet, fd_count, [&](std::span<const std::byte> got, const ctl::ReceivedPacket& rp) {
    // The server refuses any HELLO that came with fds (malformed) or was cut; it decodes the rest.
    if (!rp.truncated) SHMKIT_FUZZ_CHECK(got.size() == packet.size() && std::memcmp(got.data(), packet.data(), got.size()) == 0);
    check_decoded(got);
  });
  return 0;
}
