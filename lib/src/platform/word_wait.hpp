// Waiting on a 32-bit word in shared memory (internal platform seam): a futex on Linux
// (linux/futex_wait.cpp), polling with backoff elsewhere (portable/futex_wait.cpp). Channels,
// semaphores and anything else that sleeps on a shared word use it.
#pragma once

#include <atomic>
#include <cstdint>

#include "shmkit/detail/deadline.hpp"

namespace shmkit::detail {

// Sleeps while `word` still holds `expected`, until wake_all(word) or the steady-clock deadline.
// May return early; callers re-check their condition. Works across processes.
void wait_on_word(std::atomic<std::uint32_t>& word, std::uint32_t expected, DeadlineNs deadline) noexcept;
// Wakes every thread, in any process, sleeping in wait_on_word(word, ...).
void wake_all(std::atomic<std::uint32_t>& word) noexcept;

}  // namespace shmkit::detail
