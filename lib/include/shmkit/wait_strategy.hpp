// shmkit::WaitStrategy: how a channel endpoint waits for frames (readers) or for room (a queue's
// writer). Every wait is also bounded by the timeout passed to the call.
//
//  - busy_poll: never sleeps; lowest latency, burns a core while waiting.
//  - spin_then_block: polls for `spin`, then sleeps in the kernel until woken. Frames arriving
//    within the spin window cost nearly nothing extra; an idle endpoint costs no CPU.
//  - block: sleeps at once (one futex wait on Linux; polling with backoff elsewhere).
//
// While waiting, the endpoint checks every `liveness_check` that the other side's process is
// still alive, so a peer killed with SIGKILL ends the wait with Errc::peer_gone instead of a
// wait until the timeout.
#pragma once

#include <chrono>
#include <cstdint>

namespace shmkit {

enum class WaitKind : std::uint8_t { busy_poll = 0, spin_then_block = 1, block = 2 };
const char* to_string(WaitKind k) noexcept;

struct WaitStrategy {
  WaitKind kind = WaitKind::spin_then_block;
  std::chrono::nanoseconds spin{20'000};          // spin_then_block: how long to poll first
  std::chrono::milliseconds liveness_check{200};  // how often a wait checks the peer process

  static constexpr WaitStrategy busy_poll() noexcept { return with(WaitKind::busy_poll, {}); }
  static constexpr WaitStrategy spin_then_block(
      std::chrono::nanoseconds spin_for = std::chrono::microseconds(20)) noexcept {
    return with(WaitKind::spin_then_block, spin_for);
  }
  static constexpr WaitStrategy block() noexcept { return with(WaitKind::block, {}); }

 private:
  static constexpr WaitStrategy with(WaitKind k, std::chrono::nanoseconds s) noexcept {
    WaitStrategy w;
    w.kind = k;
    w.spin = s;
    return w;
  }
};

}  // namespace shmkit
