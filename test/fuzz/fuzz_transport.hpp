// For the control-protocol fuzz targets: sends a fuzzed packet (with a fuzzed number of fds) over
// a real SOCK_SEQPACKET pair and receives it with receive_packet(), as the server and the client
// do; checks that no fd leaks whatever arrives.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "fuzz_common.hpp"
#include "control_protocol.hpp"
#include "shmkit/error.hpp"

namespace shmkit_fuzz {

namespace ctl = shmkit::detail::control;

// A REFUSE either side decoded: its reason is valid text, and encoding it gives a reply the
// client reads back unchanged.
inline void check_refuse_round_trip(const ctl::Refuse& r) {
  SHMKIT_FUZZ_CHECK(r.reason.size() <= ctl::kMaxReasonBytes && ctl::valid_reason_text(r.reason));
  const auto back = ctl::decode_reply(ctl::encode_refuse(r));
  const auto* rr = std::get_if<ctl::Refuse>(&back);
  SHMKIT_FUZZ_CHECK(rr != nullptr && rr->code == r.code && rr->reason == r.reason &&
                    rr->min_version == r.min_version && rr->max_version == r.max_version);
}

struct Wire {
  int send_fd = -1;
  int recv_fd = -1;
  Wire() {
    int sv[2];
    SHMKIT_FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    send_fd = sv[0];
    recv_fd = sv[1];
  }
  static int next_free_fd() {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    SHMKIT_FUZZ_CHECK(fd >= 0);
    ::close(fd);
    return fd;
  }
  static Wire& get() {
    static Wire w;
    return w;
  }
};

// Sends `packet` with `fd_count` fds (dups of /dev/null, up to 12: more than a message may carry)
// and receives it. Calls `use(received)` with the packet's bytes as receive_packet() saw them.
// Returns false if the kernel would not take the packet (too large for the socket buffer).
template <class Use>
bool through_socket(std::span<const std::byte> packet, unsigned fd_count, Use&& use) {
  Wire& w = Wire::get();
  const int free_before = Wire::next_free_fd();  // any fd leaked below makes this number grow
  std::vector<int> fds;
  for (unsigned i = 0; i < fd_count; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  bool sent = true;
  try {
    ctl::send_packet(w.send_fd, packet, fds);
  } catch (const shmkit::Error&) {
    sent = false;  // e.g. EMSGSIZE / resource_limit: nothing was queued
  }
  for (int fd : fds) ::close(fd);  // the receiver has its own copies
  if (sent) {
    std::array<std::byte, ctl::kReceiveBufferSize> buffer{};
    ctl::ReceivedPacket rp;
    const ctl::ReceiveStatus st = ctl::receive_packet(w.recv_fd, buffer, rp);
    if (packet.empty()) {
      SHMKIT_FUZZ_CHECK(st == ctl::ReceiveStatus::hung_up || st == ctl::ReceiveStatus::packet);
    } else {
      SHMKIT_FUZZ_CHECK(st == ctl::ReceiveStatus::packet);
      SHMKIT_FUZZ_CHECK(rp.size <= buffer.size());
      SHMKIT_FUZZ_CHECK(rp.truncated == (packet.size() > buffer.size()));
      SHMKIT_FUZZ_CHECK(rp.fds.size() <= fd_count);
      SHMKIT_FUZZ_CHECK(rp.control_truncated || rp.fds.size() == fd_count);
      for (const auto& fd : rp.fds) SHMKIT_FUZZ_CHECK(::fcntl(fd.get(), F_GETFD) == FD_CLOEXEC);
      use(std::span<const std::byte>(buffer.data(), rp.size), rp);
    }
    // Nothing left queued: the next iteration starts clean.
    std::array<std::byte, 8> rest{};
    ctl::ReceivedPacket extra;
    SHMKIT_FUZZ_CHECK(ctl::receive_packet(w.recv_fd, rest, extra) == ctl::ReceiveStatus::would_block);
  }
  // Every fd that arrived was owned by the ReceivedPacket and is closed now.
  SHMKIT_FUZZ_CHECK(Wire::next_free_fd() == free_before);
  return sent;
}

}  // namespace shmkit_fuzz
