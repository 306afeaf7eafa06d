// The tag shmkit puts in front of every named object it constructs (internal; templates need it).
// It records the type (name hash, size, alignment) and element count, so that find<T>() refuses
// the wrong T with Error(type_mismatch) instead of handing out misread memory, and tools can list
// objects with their types.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shmkit/type_name.hpp"

namespace shmkit::detail {

// The unit named objects are allocated in. Boost 1.74 places named values only 8-byte aligned,
// so stricter alignments are reached at run time (Segment::init_tag), never assumed.
struct alignas(8) ObjectUnit {
  unsigned char bytes[8];
};

inline constexpr std::uint64_t kObjectMagic = 0x314a424f'4b4d4853ULL;  // "SHMKOBJ1"
inline constexpr std::uint32_t kObjectReady = 1;

struct ObjectTag {
  std::uint64_t magic;               // kObjectMagic
  std::uint64_t type_hash;           // FNV-1a of shmkit::type_name<T>() (type_name.hpp)
  std::uint32_t element_size;        // sizeof(T)
  std::uint32_t element_align;       // alignof(T)
  std::uint64_t count;               // elements
  std::uint32_t value_offset;        // bytes from the tag to the first element
  std::atomic<std::uint32_t> state;  // 0 while constructing, kObjectReady after
  char type_name[88];                // for tools; NUL-terminated, shortened by stored_type_name()
};
static_assert(sizeof(ObjectTag) == 128 && alignof(ObjectTag) == 8);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

constexpr std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

struct TypeIdentity {
  std::string_view name;
  std::uint64_t hash;
  std::size_t size;
  std::size_t align;
};

// The identity hashes the canonical name, which every compiler spells alike.
template <class T>
constexpr TypeIdentity type_identity() noexcept {
  return {type_name_v<T>, fnv1a(type_name_v<T>), sizeof(T), alignof(T)};
}

// The name as a tag stores it: whole if it fits, else cut after the last ", " or "<" that
// leaves room for "...", so no word is cut in half. Returns the stored length.
template <std::size_t N>
constexpr std::size_t stored_type_name(std::string_view name, char (&out)[N]) noexcept {
  static_assert(N > 8);
  std::size_t len = name.size();
  std::string_view tail;
  if (len > N - 1) {
    constexpr std::string_view kEllipsis = "...";
    const std::size_t room = N - 1 - kEllipsis.size();
    len = 0;
    for (std::size_t i = 0; i < room; ++i)
      if (name[i] == '<' || (name[i] == ',' && i + 1 < room)) len = i + 1;
    if (len == 0) len = room;  // one long word: nothing better to cut at
    tail = kEllipsis;
  }
  std::size_t n = 0;
  for (std::size_t i = 0; i < len; ++i) out[n++] = name[i];
  for (char c : tail) out[n++] = c;
  for (std::size_t i = n; i < N; ++i) out[i] = '\0';
  return n;
}

}  // namespace shmkit::detail
