// Linux: waiting on a word in shared memory is a futex. FUTEX_PRIVATE_FLAG is deliberately
// absent: the word lives in a shared mapping and waiter and waker are different processes, so
// the kernel must key the futex on the page, not on this process's address space.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <ctime>

#include "word_wait.hpp"

namespace shmkit::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

void wait_on_word(std::atomic<std::uint32_t>& word, std::uint32_t expected, DeadlineNs deadline) noexcept {
  // FUTEX_WAIT_BITSET takes an absolute deadline on CLOCK_MONOTONIC (steady_clock's clock), so
  // a retry after EINTR does not stretch the wait.
  timespec ts{};
  timespec* tsp = nullptr;
  if (deadline != kNoDeadline) {
    ts.tv_sec = static_cast<time_t>(deadline / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(deadline % 1'000'000'000);
    tsp = &ts;
  }
  // Returns on wake, EAGAIN (word already changed), ETIMEDOUT or EINTR: the caller re-checks.
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET, expected, tsp, nullptr,
            FUTEX_BITSET_MATCH_ANY);
}

void wake_all(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace shmkit::detail
