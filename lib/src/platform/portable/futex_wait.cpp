// Elsewhere (no futex): waiting on a word is polling it with exponential backoff, 20 us to 1 ms.
// Waking needs no call: the waker's bump of the word is what the poller sees. Latency of a
// blocking wait is then up to a millisecond; busy-poll and spin waits are unaffected.
#include <thread>

#include "word_wait.hpp"

namespace shmkit::detail {

void wait_on_word(std::atomic<std::uint32_t>& word, std::uint32_t expected, DeadlineNs deadline) noexcept {
  std::chrono::microseconds nap{20};
  while (word.load(std::memory_order_acquire) == expected) {
    const DeadlineNs now = steady_now_ns();
    if (now >= deadline) return;
    const auto left = std::chrono::nanoseconds(deadline - now);
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(nap, left));
    nap = std::min(nap * 2, std::chrono::microseconds{1000});
  }
}

void wake_all(std::atomic<std::uint32_t>&) noexcept {}

}  // namespace shmkit::detail
