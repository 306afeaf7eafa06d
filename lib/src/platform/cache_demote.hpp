// Handing a published frame's cache lines to the shared cache (internal). A reader's core that
// loads a line another core just wrote snoops that core's private cache; x86 CLDEMOTE lets the
// writer push the lines to the shared L3 first, where the reader finds them sooner (lower
// one-way latency; docs/benchmarks.md has the figures). It costs the writer an instruction per
// line, repaid when a reader keeps up with the frames. CLDEMOTE is a hint: CPUs
// without it (older Intel, AMD) execute it as a NOP. Other architectures: nothing.
#pragma once

#include <cstddef>

namespace shmkit::detail {

// The first lines of a frame only: they carry what a latency-bound reader waits for (header and
// a small payload). A large frame's reader streams it, and demoting 1 MiB costs the writer
// 16 Ki instructions per frame for no gain.
inline constexpr std::size_t kDemoteBytes = 256;

inline void demote_to_shared_cache([[maybe_unused]] const std::byte* p, [[maybe_unused]] std::size_t bytes) noexcept {
#if defined(__x86_64__)
  const std::size_t n = bytes < kDemoteBytes ? bytes : kDemoteBytes;
  for (std::size_t off = 0; off < n; off += 64)
    // CLDEMOTE [rax], spelled as bytes (0F 1C /0) for assemblers that predate the mnemonic. The
    // memory clobber keeps it after the stores that completed the frame.
    asm volatile(".byte 0x0f, 0x1c, 0x00" : : "a"(p + off) : "memory");
#endif
}

}  // namespace shmkit::detail
