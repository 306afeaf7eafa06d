// Portable fallback: no cross-process wait primitive on a plain word, so sleep in short naps
// (at most 1 ms) and let the caller re-check. Correct, with up to 1 ms of extra latency.
#include <algorithm>
#include <thread>

#include "semaphore_wait.hpp"

namespace shmkit::detail {

void semaphore_sleep(std::atomic<std::uint32_t>& word, std::uint32_t expected, DeadlineNs deadline) noexcept {
  if (word.load(std::memory_order_acquire) != expected) return;
  const DeadlineNs now = steady_now_ns();
  if (now >= deadline) return;
  std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<DeadlineNs>(deadline - now, 1'000'000)));
}

void semaphore_wake_all(std::atomic<std::uint32_t>&) noexcept {}

}  // namespace shmkit::detail
