// The tag shmkit puts in front of every named object it constructs (internal; templates need it).
// It records the type (name hash, size, alignment) and element count, so that find<T>() refuses
// the wrong T with Error(type_mismatch) instead of handing out misread memory, and tools can list
// objects with their types.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

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
  std::uint64_t type_hash;           // FNV-1a of type_name<T>()
  std::uint32_t element_size;        // sizeof(T)
  std::uint32_t element_align;       // alignof(T)
  std::uint64_t count;               // elements
  std::uint32_t value_offset;        // bytes from the tag to the first element
  std::atomic<std::uint32_t> state;  // 0 while constructing, kObjectReady after
  char type_name[88];                // for tools; truncated, NUL-terminated
};
static_assert(sizeof(ObjectTag) == 128 && alignof(ObjectTag) == 8);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// The type's name as the compiler spells it (no RTTI needed).
template <class T>
constexpr std::string_view type_name() noexcept {
  std::string_view p = __PRETTY_FUNCTION__;
  const auto start = p.find("T = ") + 4;
  const auto end = p.find_first_of(";]", start);
  return p.substr(start, end - start);
}

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

template <class T>
constexpr TypeIdentity type_identity() noexcept {
  return {type_name<T>(), fnv1a(type_name<T>()), sizeof(T), alignof(T)};
}

}  // namespace shmkit::detail
