// Linux: a shared futex (no FUTEX_PRIVATE_FLAG: waiter and waker are different processes, so the
// kernel keys the futex on the shared page).
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <ctime>

#include "semaphore_wait.hpp"

namespace shmkit::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

void semaphore_sleep(std::atomic<std::uint32_t>& word, std::uint32_t expected, DeadlineNs deadline) noexcept {
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline: steady_clock's clock.
  timespec ts{};
  timespec* tsp = nullptr;
  if (deadline != kNoDeadline) {
    ts.tv_sec = static_cast<time_t>(deadline / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(deadline % 1'000'000'000);
    tsp = &ts;
  }
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET, expected, tsp, nullptr,
            FUTEX_BITSET_MATCH_ANY);
}

void semaphore_wake_all(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace shmkit::detail
