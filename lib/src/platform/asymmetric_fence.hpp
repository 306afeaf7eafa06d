// Asymmetric fences (internal platform seam): the Dekker handshake between a channel's writer
// (store `published`, then load the waiter count) and a reader going to sleep (count itself,
// then load `published`) needs a full fence on both sides. The writer runs it on every frame;
// the reader only before it sleeps. So the writer's half becomes a compiler barrier and the
// reader's half a barrier on every CPU of every registered process (Linux membarrier,
// linux/asymmetric_fence.cpp). Elsewhere (portable/asymmetric_fence.cpp) nothing registers and
// both sides keep their full fences. docs/channels.md has the ordering argument.
#pragma once

#include <atomic>

namespace shmkit::detail {

// Registers this process for other processes' heavy_fence(), once (thread-safe). True when
// registered: this process may then use light_fence() in place of a full fence.
bool enable_light_fences() noexcept;

// The hot side's half: the compiler must not move the store before it past the load after it;
// the CPU may, until a concurrent heavy_fence() forces it to drain.
inline void light_fence() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

// The waiting side's half: returns once every thread of every registered process has passed a
// full memory barrier. False when this process may not issue it (seccomp, an old kernel): the
// caller must then not rely on it (channels fall back to full fences, see WaitLine).
bool heavy_fence() noexcept;

}  // namespace shmkit::detail
