// Copies into and out of slot payloads that another process may be writing at the same time
// (internal): the data half of the seqlock.
//
// A broadcast reader copies a slot while the writer may be overwriting it, then discards the
// copy if the slot's version changed (the fences below order the copy between the two version
// reads). Plain memcpy is what production seqlocks use: it moves wide vectors, and a torn copy
// is never handed out. ThreadSanitizer would report that (intended) race and does not model
// fences, so sanitized builds move word-sized atomics with release/acquire instead, which is
// race-free by the letter of the memory model.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "channel_crc.hpp"

namespace shmkit::detail {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kAtomicPayload = true;
#else
inline constexpr bool kAtomicPayload = false;
#endif

// Orders for the slot header fields (size, timestamp, crc) written inside the seqlock.
inline constexpr std::memory_order kFieldStore = kAtomicPayload ? std::memory_order_release : std::memory_order_relaxed;
inline constexpr std::memory_order kFieldLoad = kAtomicPayload ? std::memory_order_acquire : std::memory_order_relaxed;

// Writer: after storing the odd version, before touching the payload.
inline void seqlock_write_fence() noexcept {
  // Release fence: a reader that sees any payload byte written after it also sees the odd
  // version (and so rejects its copy). On x86 it only stops the compiler reordering.
  if constexpr (!kAtomicPayload) std::atomic_thread_fence(std::memory_order_release);
}
// Reader: after copying the payload, before re-reading the version.
inline void seqlock_read_fence() noexcept {
  // Acquire fence: if the copy read anything of a newer frame, the version re-read below sees
  // that frame's odd (or later) version.
  if constexpr (!kAtomicPayload) std::atomic_thread_fence(std::memory_order_acquire);
}

// Slot payloads are 32-byte aligned, so the word accesses below are aligned too.
inline void copy_to_slot(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  if constexpr (kAtomicPayload) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, src + i, 8);
      std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(dst + i)).store(w, std::memory_order_release);
    }
    for (; i < n; ++i) std::atomic_ref<std::byte>(dst[i]).store(src[i], std::memory_order_release);
  } else {
    // The payload's first 32 bytes share the slot's first line with its header: write the rest
    // first, so that all of that line's stores come last, in one burst.
    if (n > 32) {
      std::memcpy(dst + 32, src + 32, n - 32);
      std::memcpy(dst, src, 32);
    } else {
      std::memcpy(dst, src, n);
    }
  }
}

inline void copy_from_slot(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  if constexpr (kAtomicPayload) {
    auto* s = const_cast<std::byte*>(src);  // atomic_ref<const T> is C++26; nothing is written
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const std::uint64_t w =
          std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(s + i)).load(std::memory_order_acquire);
      std::memcpy(dst + i, &w, 8);
    }
    for (; i < n; ++i) dst[i] = std::atomic_ref<std::byte>(s[i]).load(std::memory_order_acquire);
  } else {
    std::memcpy(dst, src, n);
  }
}

// Copy plus CRC-32C of the bytes copied, in one pass over the source where the CPU allows.
inline std::uint32_t copy_to_slot_crc(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  if constexpr (kAtomicPayload) {
    copy_to_slot(dst, src, n);
    return crc32c(0, src, n);
  } else {
    return crc32c_copy(dst, src, n);
  }
}
inline std::uint32_t copy_from_slot_crc(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  if constexpr (kAtomicPayload) {
    copy_from_slot(dst, src, n);
    return crc32c(0, dst, n);
  } else {
    return crc32c_copy(dst, src, n);
  }
}

// CRC-32C of payload bytes still in the slot (a peek).
inline std::uint32_t crc_of_slot(const std::byte* src, std::size_t n) noexcept {
  if constexpr (kAtomicPayload) {
    std::byte chunk[4096];
    std::uint32_t crc = 0;
    for (std::size_t done = 0; done < n;) {
      const std::size_t k = std::min(sizeof chunk, n - done);
      copy_from_slot(chunk, src + done, k);
      crc = crc32c(crc, chunk, k);
      done += k;
    }
    return crc;
  } else {
    return crc32c(0, src, n);
  }
}

}  // namespace shmkit::detail
