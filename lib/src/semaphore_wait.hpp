// Sleeping on a 32-bit word in shared memory, for shmkit::Semaphore (internal). One
// implementation per platform: linux/semaphore_wait.cpp (futex), portable/semaphore_wait.cpp.
#pragma once

#include <atomic>
#include <cstdint>

#include "shmkit/detail/deadline.hpp"

namespace shmkit::detail {

// Sleeps while `word` holds `expected`, until woken, the steady-clock deadline, or a spurious
// return: callers re-check their condition.
void semaphore_sleep(std::atomic<std::uint32_t>& word, std::uint32_t expected, DeadlineNs deadline) noexcept;
// Wakes every sleeper on `word`, in any process.
void semaphore_wake_all(std::atomic<std::uint32_t>& word) noexcept;

}  // namespace shmkit::detail
