// The writer's clock for frame timestamps (internal; WriterCore holds one by value).
#pragma once

#include <cstdint>

namespace shmkit::detail {

// Reading CLOCK_MONOTONIC in the publish path costs as much as the rest of a 64-byte publish
// (the vDSO's serialising rdtsc waits for the frame's loads). So
// when frames follow each other within kReuseNs (judged by the cycle counter, which costs a
// third of that and does not serialise), a frame takes the previous frame's reading: a frame's
// timestamp is the steady clock at its publish or at most kReuseNs earlier. now() is defined in
// lib/src/frame_clock.hpp.
class FrameClock {
 public:
  static constexpr std::int64_t kReuseNs = 500;
  static constexpr std::uint32_t kMaxReuses = 32;  // a bound even if the cycle count misleads

  std::int64_t now() noexcept;

 private:
  void calibrate(std::uint64_t tsc, std::int64_t ns) noexcept;

  std::uint64_t tsc_ = 0;          // cycle count when ns_ was read
  std::int64_t ns_ = 0;            // the last clock reading
  std::uint64_t reuse_ticks_ = 0;  // cycles in kReuseNs; 0 until calibrated (or never: no invariant TSC)
  std::uint32_t reuses_ = 0;       // readings of ns_ left before the clock must be read again
  std::uint64_t anchor_tsc_ = 0;   // calibration: the first reading's cycle count and time
  std::int64_t anchor_ns_ = 0;
  std::uint64_t anchor_width_ = 0; // cycles the first reading took
  bool untrusted_ = false;         // no invariant TSC, or it went backwards: read every time
};

}  // namespace shmkit::detail
