// Shared by the writer-owned eventfd test and its helper processes (test/helpers/eventfd_helper.cpp).
#pragma once

#include <atomic>
#include <cstdint>

#include "channel_test_types.hpp"

namespace shmkit::test {

inline constexpr std::uint32_t kEventFdMaxFrame = 64;

struct EventFdTestControl {
  std::atomic<std::uint32_t> created{0};      // the writer made the channels
  std::atomic<std::uint32_t> go{0};           // every reader is ready: publish
  std::atomic<std::uint32_t> stop{0};         // the test is done: the writer and stalled readers exit
  std::atomic<std::uint32_t> writer_done{0};  // every frame published
  std::atomic<std::uint64_t> writer_wake_calls{0};
  std::atomic<std::int64_t> writer_done_ns{0};
  // Readers report delivered, lost, mismatched, out_of_order, status, event_ns (the hang-up),
  // position = the most threads their process had, sleeps = wake-ups (a stalled reader: the
  // writes its fd received while it did not drain), heavy_fences = wake-ups that found nothing.
  ChildReport child[kMaxChildren];
};

}  // namespace shmkit::test
