// The object directory (internal): shmkit's own table of the named objects in a segment, so that
// read-only views and programs in other languages find objects without the segment manager's
// lock and without knowing Boost's private index. docs/format.md describes it normatively.
//
// An array of DirectoryEntry sorted by name (bytes compared as unsigned, then length), allocated
// from the segment; the header's directory_* fields locate it. Writers change it only under the
// segment manager's lock, inside the header's object_epoch seqlock. Readers copy what they need
// and keep it only if the epoch was even and unchanged around the copy. Nothing here uses Boost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "segment_header.hpp"
#include "shmkit/detail/object_tag.hpp"

namespace shmkit::detail {

inline constexpr std::size_t kMaxObjectName = 255;
inline constexpr std::uint32_t kFirstDirectoryCapacity = 4;

struct DirectoryEntry {
  std::uint64_t block_offset;   // 0    bytes from the segment start to the object's ObjectTag
  std::uint64_t block_bytes;    // 8    bytes of the block: tag, padding, elements
  std::uint64_t value_offset;   // 16   bytes from the segment start to the first element
  std::uint64_t count;          // 24   elements
  std::uint64_t type_hash;      // 32   as ObjectTag::type_hash
  std::uint32_t element_size;   // 40
  std::uint32_t element_align;  // 44
  std::uint16_t name_length;    // 48   1..255
  std::uint16_t type_name_length;  // 50  0..87
  std::uint32_t reserved;       // 52   zero
  char name[256];               // 56   name_length bytes, NUL-padded
  char type_name[88];           // 312  type_name_length bytes, NUL-padded
};
static_assert(sizeof(DirectoryEntry) == 400 && alignof(DirectoryEntry) == 8);
static_assert(std::is_standard_layout_v<DirectoryEntry>);
static_assert(offsetof(DirectoryEntry, block_offset) == 0 && offsetof(DirectoryEntry, block_bytes) == 8 &&
              offsetof(DirectoryEntry, value_offset) == 16 && offsetof(DirectoryEntry, count) == 24 &&
              offsetof(DirectoryEntry, type_hash) == 32 && offsetof(DirectoryEntry, element_size) == 40 &&
              offsetof(DirectoryEntry, element_align) == 44 && offsetof(DirectoryEntry, name_length) == 48 &&
              offsetof(DirectoryEntry, type_name_length) == 50 && offsetof(DirectoryEntry, name) == 56 &&
              offsetof(DirectoryEntry, type_name) == 312);

// One object as a reader found it: a copy of its directory entry taken inside one consistent
// read, so a caller checks the type without touching the tag, which a concurrent destroy() may
// already have freed. `block` points into the caller's mapping.
struct FoundObject {
  std::byte* block = nullptr;  // the ObjectTag; nullptr when absent
  std::uint64_t block_bytes = 0;
  std::uint64_t value_offset = 0;  // bytes from the block to the first element
  std::uint64_t count = 0;
  std::uint64_t type_hash = 0;
  std::uint32_t element_size = 0;
  std::uint32_t element_align = 0;
  std::uint16_t type_name_length = 0;
  char type_name[88] = {};
};
static_assert(sizeof(FoundObject::type_name) == sizeof(DirectoryEntry::type_name));
struct ListedObject {
  std::string name;
  std::string type_name;
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;  // count * element size
};

// ---- Readers (any mapping, read-only or not; no lock) ----
// Error(corrupt) when the directory is inconsistent while no writer changes it, or when the
// writer that left it half-changed is dead; Error(timeout) when a live writer keeps it changing.
FoundObject directory_find(const std::byte* base, std::size_t size, std::string_view segment,
                           std::string_view name);
std::vector<ListedObject> directory_list(const std::byte* base, std::size_t size, std::string_view segment);

// ---- Writers (a writable mapping, under the segment manager's lock) ----
// What the directory needs of the allocator; the core passes the segment manager's.
struct DirectoryMemory {
  std::function<void*(std::size_t bytes)> allocate;  // nullptr when full
  std::function<void(void* p)> deallocate;
};
// Adds an entry for a constructed object (block: its ObjectTag). Error(out_of_memory) if the
// directory must grow and the segment has no room: nothing changed.
void directory_insert(std::byte* base, std::string_view segment, std::string_view name, const ObjectTag& block,
                      std::size_t block_bytes, const DirectoryMemory& memory);
// Removes `name`'s entry; false if there was none.
bool directory_remove(std::byte* base, std::string_view name) noexcept;

}  // namespace shmkit::detail
