#include "object_directory.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <thread>

#include "process_identity.hpp"
#include "shmkit/detail/deadline.hpp"
#include "shmkit/error.hpp"

namespace shmkit::detail {

// docs/format.md §6 documents the tag byte by byte for foreign readers: keep them in step.
static_assert(offsetof(ObjectTag, magic) == 0 && offsetof(ObjectTag, type_hash) == 8 &&
              offsetof(ObjectTag, element_size) == 16 && offsetof(ObjectTag, element_align) == 20 &&
              offsetof(ObjectTag, count) == 24 && offsetof(ObjectTag, value_offset) == 32 &&
              offsetof(ObjectTag, state) == 36 && offsetof(ObjectTag, type_name) == 40 &&
              sizeof(ObjectTag) == 128);

namespace {

// Bytes compared as unsigned, then the shorter first: the order of std::string and of a C memcmp.
int compare_names(std::string_view a, const char* b, std::size_t b_length) noexcept {
  const int c = std::memcmp(a.data(), b, std::min(a.size(), b_length));
  if (c != 0) return c;
  return a.size() < b_length ? -1 : a.size() > b_length ? 1 : 0;
}

bool inside(std::uint64_t offset, std::uint64_t bytes, std::size_t size) noexcept {
  return offset <= size && bytes <= size - offset;
}

// An entry whose every offset stays inside the mapping and agrees with the ObjectTag layout.
bool entry_is_sane(const DirectoryEntry& e, std::size_t size) noexcept {
  if (e.name_length == 0 || e.name_length > kMaxObjectName || e.type_name_length >= sizeof e.type_name) return false;
  if (e.block_offset % alignof(ObjectTag) != 0 || e.block_bytes < sizeof(ObjectTag)) return false;
  if (!inside(e.block_offset, e.block_bytes, size)) return false;
  if (e.value_offset < e.block_offset + sizeof(ObjectTag) || e.value_offset > e.block_offset + e.block_bytes)
    return false;
  const std::uint64_t room = e.block_offset + e.block_bytes - e.value_offset;
  return e.element_size == 0 ? e.count <= room : e.count <= room / e.element_size;
}

struct Table {
  const DirectoryEntry* entries = nullptr;
  std::uint32_t count = 0;
};

// The header's directory fields, bounds-checked; false if they point outside the mapping.
bool table_of(const SegmentHeader& h, const std::byte* base, std::size_t size, Table& out) noexcept {
  const std::uint64_t offset = h.directory_offset;
  const std::uint32_t capacity = h.directory_capacity;
  const std::uint32_t count = h.directory_count;
  if (offset == 0) {
    out = {};
    return capacity == 0 && count == 0;
  }
  if (count > capacity || offset % alignof(DirectoryEntry) != 0 || offset < sizeof(SegmentHeader) ||
      capacity > size / sizeof(DirectoryEntry) || !inside(offset, std::uint64_t{capacity} * sizeof(DirectoryEntry), size))
    return false;
  out.entries = reinterpret_cast<const DirectoryEntry*>(base + offset);
  out.count = count;
  return true;
}

enum class Read { done, inconsistent };

// Runs `read` until it ran while no writer changed the directory (seqlock on object_epoch).
template <class F>
void validated_read(const std::byte* base, std::string_view segment, F&& read) {
  const auto& h = *reinterpret_cast<const SegmentHeader*>(base);
  // Deadlines are taken only once a first attempt failed: the common read costs no clock call.
  DeadlineNs give_up = 0, check_writer = 0;
  std::chrono::microseconds pause{1};
  for (int attempt = 0;; ++attempt) {
    const std::uint64_t before = h.object_epoch.load(std::memory_order_acquire);
    if ((before & 1) == 0) {
      const Read status = read();
      std::atomic_thread_fence(std::memory_order_acquire);
      if (h.object_epoch.load(std::memory_order_relaxed) == before) {
        if (status == Read::done) return;
        throw Error(Errc::corrupt, "segment '" + std::string(segment) +
                                       "': its object directory points outside the segment or holds a malformed "
                                       "entry (damaged by a stray write?): recreate the segment");
      }
    }
    const DeadlineNs now = steady_now_ns();
    if (attempt == 0) {
      give_up = now + std::chrono::nanoseconds(std::chrono::seconds(2)).count();
      check_writer = now + std::chrono::nanoseconds(std::chrono::milliseconds(1)).count();
    }
    if ((before & 1) != 0 && now >= check_writer) {
      // A writer killed inside its change leaves the epoch odd for good: its death says so.
      const std::int32_t pid = h.directory_writer_pid;
      const std::uint64_t start = h.directory_writer_start_time;
      if (h.object_epoch.load(std::memory_order_acquire) == before && pid > 0 && !process_alive(pid, start))
        throw Error(Errc::corrupt, "segment '" + std::string(segment) + "': process " + std::to_string(pid) +
                                       " died while changing its object directory: recreate the segment");
    }
    if (now >= give_up && attempt > 0)
      throw Error(Errc::timeout, "segment '" + std::string(segment) +
                                     "': its object directory has been changing for 2 s (a writer stopped "
                                     "inside construct() or destroy()?): try again, or recreate the segment");
    if (attempt < 16) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds{1000});
    }
  }
}

// Index of the first entry not below `name`.
std::uint32_t lower_bound(const Table& t, std::string_view name) noexcept {
  std::uint32_t lo = 0, hi = t.count;
  while (lo < hi) {
    const std::uint32_t mid = lo + (hi - lo) / 2;
    const DirectoryEntry& e = t.entries[mid];
    const std::size_t n = std::min<std::size_t>(e.name_length, kMaxObjectName);
    if (compare_names(name, e.name, n) > 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

SegmentHeader& header(std::byte* base) noexcept { return *reinterpret_cast<SegmentHeader*>(base); }

// Seqlock writer side: odd while changing. Never even-to-even after a writer died halfway.
void begin_change(SegmentHeader& h) noexcept {
  const ProcessIdentity me = current_process();
  h.directory_writer_pid = me.pid;
  h.directory_writer_start_time = me.start_time;
  auto& epoch = h.object_epoch;
  epoch.store((epoch.load(std::memory_order_relaxed) + 2) | 1, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_release);  // the odd value is seen before any change
}

void end_change(SegmentHeader& h) noexcept {
  auto& epoch = h.object_epoch;
  epoch.store(epoch.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

// The one place an object's identity goes from its tag into the directory.
DirectoryEntry entry_for(const std::byte* base, std::string_view name, const ObjectTag& tag,
                         std::size_t block_bytes) noexcept {
  DirectoryEntry e{};
  const auto* block = reinterpret_cast<const std::byte*>(&tag);
  e.block_offset = static_cast<std::uint64_t>(block - base);
  e.block_bytes = block_bytes;
  e.value_offset = e.block_offset + tag.value_offset;
  e.count = tag.count;
  e.type_hash = tag.type_hash;
  e.element_size = tag.element_size;
  e.element_align = tag.element_align;
  e.name_length = static_cast<std::uint16_t>(name.size());
  std::memcpy(e.name, name.data(), name.size());
  const std::size_t type_length = strnlen(tag.type_name, std::min(sizeof tag.type_name, sizeof e.type_name - 1));
  e.type_name_length = static_cast<std::uint16_t>(type_length);
  std::memcpy(e.type_name, tag.type_name, type_length);
  return e;
}

}  // namespace

FoundObject directory_find(const std::byte* base, std::size_t size, std::string_view segment,
                           std::string_view name) {
  const auto& h = *reinterpret_cast<const SegmentHeader*>(base);
  FoundObject found;
  validated_read(base, segment, [&] {
    found = {};
    Table t;
    if (!table_of(h, base, size, t)) return Read::inconsistent;
    const std::uint32_t i = lower_bound(t, name);
    if (i == t.count) return Read::done;
    const DirectoryEntry& e = t.entries[i];
    if (!entry_is_sane(e, size)) return Read::inconsistent;
    if (compare_names(name, e.name, e.name_length) != 0) return Read::done;
    found.block = const_cast<std::byte*>(base + e.block_offset);
    found.block_bytes = e.block_bytes;
    found.value_offset = e.value_offset - e.block_offset;
    found.count = e.count;
    found.type_hash = e.type_hash;
    found.element_size = e.element_size;
    found.element_align = e.element_align;
    found.type_name_length = e.type_name_length;
    std::memcpy(found.type_name, e.type_name, sizeof found.type_name);
    return Read::done;
  });
  return found;
}

std::vector<ListedObject> directory_list(const std::byte* base, std::size_t size, std::string_view segment) {
  const auto& h = *reinterpret_cast<const SegmentHeader*>(base);
  std::vector<DirectoryEntry> copy;
  validated_read(base, segment, [&] {
    copy.clear();
    Table t;
    if (!table_of(h, base, size, t)) return Read::inconsistent;
    copy.assign(t.entries, t.entries + t.count);
    return Read::done;
  });
  std::vector<ListedObject> out;
  out.reserve(copy.size());
  for (const DirectoryEntry& e : copy) {
    if (!entry_is_sane(e, size))
      throw Error(Errc::corrupt, "segment '" + std::string(segment) +
                                     "': its object directory holds a malformed entry: recreate the segment");
    ListedObject o;
    o.name.assign(e.name, e.name_length);
    o.type_name.assign(e.type_name, e.type_name_length);
    o.count = e.count;
    o.bytes = e.count * e.element_size;
    out.push_back(std::move(o));
  }
  return out;
}

void directory_insert(std::byte* base, std::string_view segment, std::string_view name, const ObjectTag& tag,
                      std::size_t block_bytes, const DirectoryMemory& memory) {
  SegmentHeader& h = header(base);
  const DirectoryEntry entry = entry_for(base, name, tag, block_bytes);
  Table t;
  auto* entries = h.directory_offset == 0 ? nullptr : reinterpret_cast<DirectoryEntry*>(base + h.directory_offset);
  t.entries = entries;
  t.count = h.directory_count;
  const std::uint32_t at = lower_bound(t, name);

  if (h.directory_count < h.directory_capacity) {
    begin_change(h);
    std::memmove(entries + at + 1, entries + at, (h.directory_count - at) * sizeof(DirectoryEntry));
    entries[at] = entry;
    ++h.directory_count;
    end_change(h);
    return;
  }

  // Full: build a table twice the size beside the old one, then switch to it in one change.
  const std::uint32_t capacity = std::max(kFirstDirectoryCapacity, h.directory_capacity * 2);
  void* fresh = memory.allocate(std::size_t{capacity} * sizeof(DirectoryEntry));
  if (fresh == nullptr)
    throw Error(Errc::out_of_memory, "segment '" + std::string(segment) + "' has no room to list object '" +
                                         std::string(name) + "' in its object directory (" +
                                         std::to_string(std::size_t{capacity} * sizeof(DirectoryEntry)) +
                                         " bytes): create a larger segment or free objects");
  auto* grown = static_cast<DirectoryEntry*>(fresh);
  std::memset(static_cast<void*>(grown), 0, std::size_t{capacity} * sizeof(DirectoryEntry));
  if (entries != nullptr) std::memcpy(static_cast<void*>(grown), entries, at * sizeof(DirectoryEntry));
  grown[at] = entry;
  if (entries != nullptr)
    std::memcpy(static_cast<void*>(grown + at + 1), entries + at, (h.directory_count - at) * sizeof(DirectoryEntry));
  begin_change(h);
  h.directory_offset = static_cast<std::uint64_t>(reinterpret_cast<std::byte*>(grown) - base);
  h.directory_capacity = capacity;
  h.directory_count = h.directory_count + 1;
  end_change(h);
  // Readers that were in the old table see the epoch moved and read again; its bytes stay mapped.
  if (entries != nullptr) memory.deallocate(entries);
}

bool directory_remove(std::byte* base, std::string_view name) noexcept {
  SegmentHeader& h = header(base);
  if (h.directory_offset == 0) return false;
  auto* entries = reinterpret_cast<DirectoryEntry*>(base + h.directory_offset);
  const Table t{entries, h.directory_count};
  const std::uint32_t at = lower_bound(t, name);
  if (at == t.count || compare_names(name, entries[at].name, entries[at].name_length) != 0) return false;
  begin_change(h);
  std::memmove(entries + at, entries + at + 1, (h.directory_count - at - 1) * sizeof(DirectoryEntry));
  --h.directory_count;
  std::memset(static_cast<void*>(entries + h.directory_count), 0, sizeof(DirectoryEntry));
  end_change(h);
  return true;
}

}  // namespace shmkit::detail
