// shmkit::Semaphore over the platform's word-wait seam (word_wait.hpp).
#include "shmkit/semaphore.hpp"

#include <string>

#include "word_wait.hpp"
#include "shmkit/error.hpp"

namespace shmkit {
namespace {
constexpr std::uint32_t kSemaphoreMagic = 0x53454d31;  // "SEM1"
}

Semaphore::Semaphore(std::uint32_t initial) : count_(initial), magic_(kSemaphoreMagic) {
  if (initial > max_value)
    throw Error(Errc::invalid_argument, "semaphore initial count " + std::to_string(initial) +
                                            " exceeds Semaphore::max_value");
}

void Semaphore::post(std::uint32_t n) {
  if (n == 0) return;
  std::uint32_t c = count_.load(std::memory_order_relaxed);
  do {
    if (n > max_value - c)
      throw Error(Errc::invalid_argument, "semaphore post(" + std::to_string(n) + ") on a count of " +
                                              std::to_string(c) + " would exceed Semaphore::max_value: "
                                              "more posts than waits?");
  } while (!count_.compare_exchange_weak(c, c + n, std::memory_order_seq_cst, std::memory_order_relaxed));
  // seq_cst pairs with the sleeper's seq_cst announcement: either we see it, or its futex
  // check sees our new count. Wake all, not n: a woken process may die before taking a unit.
  if (sleepers_.load(std::memory_order_seq_cst) != 0) detail::wake_all(count_);
}

bool Semaphore::try_wait() noexcept {
  std::uint32_t c = count_.load(std::memory_order_relaxed);
  while (c != 0) {
    if (count_.compare_exchange_weak(c, c - 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
  }
  return false;
}

bool Semaphore::wait_until_ns(detail::DeadlineNs deadline) {
  if (magic_ != kSemaphoreMagic)
    throw Error(Errc::corrupt, "shmkit::Semaphore used before construction (or overwritten): construct it "
                               "with Segment::construct<Semaphore>()");
  for (;;) {
    if (try_wait()) return true;
    if (detail::steady_now_ns() >= deadline) return false;
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    // The kernel sleeps only if the count is still 0, so a post() between the check and here is seen.
    if (count_.load(std::memory_order_seq_cst) == 0) detail::wait_on_word(count_, 0, deadline);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace shmkit
