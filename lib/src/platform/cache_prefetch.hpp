// Asking for a slot's lines ahead of writing (or reading) them (internal). A store to a line this core does
// not own waits in the store buffer for the line; stores leave the buffer in order, so one such
// wait holds back every later store, and a writer that fills a slot per frame stalls per frame.
// PREFETCHW fetches the line for writing meanwhile: the writer asks for the slot it is about to
// fill (its lines then arrive together) and, in a batch, for the slot a few frames ahead. CPUs
// without it execute a NOP (the encoding was reserved as one); elsewhere the compiler's prefetch.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shmkit::detail {

// How many frames ahead a batch prefetches, and how many lines of a slot: its header and a small
// frame's payload (a large frame's writer streams, and the hardware prefetches that).
inline constexpr std::uint64_t kPrefetchFrames = 8;
inline constexpr std::size_t kPrefetchLines = 2;

// How many frames ahead a queue reader that is far behind reads (channel_queue.cpp).
inline constexpr std::uint64_t kReadAheadFrames = 4;

inline void prefetch_for_write([[maybe_unused]] const std::byte* p) noexcept {
#if defined(__x86_64__)
  for (std::size_t i = 0; i < kPrefetchLines; ++i) asm volatile("prefetchw %0" : : "m"(p[i * 64]));
#else
  for (std::size_t i = 0; i < kPrefetchLines; ++i) __builtin_prefetch(p + i * 64, 1, 3);
#endif
}

// The same lines for reading: lines another core completed, which a reader far behind would
// otherwise fetch one miss at a time.
inline void prefetch_for_read(const std::byte* p) noexcept {
  for (std::size_t i = 0; i < kPrefetchLines; ++i) __builtin_prefetch(p + i * 64, 0, 3);
}

}  // namespace shmkit::detail
