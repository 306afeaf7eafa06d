#include "segment_header.hpp"

#include <boost/version.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "process_identity.hpp"
#include "shmkit/condition.hpp"
#include "shmkit/detail/segment_manager.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/shared_mutex.hpp"

namespace shmkit::detail {
namespace {

std::string quoted(std::string_view name) { return "segment '" + std::string(name) + "'"; }

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes) + " bytes";
}

}  // namespace

LayoutFingerprint current_layout() noexcept {
  LayoutFingerprint f{};
  f.endian_marker = 0x01020304;
  f.pointer_size = sizeof(void*);
  f.size_t_size = sizeof(std::size_t);
  f.max_align = alignof(std::max_align_t);
  f.boost_version = BOOST_VERSION;
  f.native_sync_kind = native_sync_kind();
  f.sizeof_mutex = sizeof(Mutex);
  f.sizeof_condition = sizeof(Condition);
  f.sizeof_shared_mutex = sizeof(SharedMutex);
  f.sizeof_segment_manager = sizeof(SegmentManager);
  f.sizeof_native_mutex = sizeof(NativeMutex);
  f.alignof_segment_manager = alignof(SegmentManager);
  return f;
}

void write_header(SegmentHeader& h, std::string_view name, Backend backend, std::uint64_t total_size,
                  std::uint64_t max_size, std::uint64_t growth_step) {
  const ProcessIdentity me = current_process();
  h.magic = kSegmentMagic;
  h.header_size = sizeof(SegmentHeader);
  h.format_version = kFormatVersion;
  h.backend = static_cast<std::uint32_t>(backend);
  h.total_size = total_size;
  h.manager_offset = kManagerOffset;
  h.manager_size = total_size - kManagerOffset;
  h.creator_pid = me.pid;
  h.creator_uid = me.uid;
  h.creator_start_time = me.start_time;
  h.created_unix_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  h.layout = current_layout();
  h.max_size = max_size;
  h.growth_step = growth_step;
  h.directory_offset = 0;
  h.directory_capacity = 0;
  h.directory_count = 0;
  std::memset(h.name, 0, sizeof h.name);
  std::memcpy(h.name, name.data(), std::min(name.size(), sizeof h.name - 1));
}

bool header_is_ready(const SegmentHeader& h) noexcept {
  return h.state.load(std::memory_order_acquire) == kReady;
}

std::size_t size_to_map(const void* header, std::size_t header_bytes, std::size_t object_size) noexcept {
  if (header_bytes < sizeof(SegmentHeader)) return object_size;
  const auto* h = static_cast<const SegmentHeader*>(header);
  if (h->magic != kSegmentMagic || !header_is_ready(*h)) return object_size;
  const std::uint64_t max = h->max_size;
  if (max < object_size || max > kLargestMaxSize) return object_size;
  return static_cast<std::size_t>(max);
}

void validate_header(const SegmentHeader& h, std::size_t mapped_size, std::size_t backing_size, std::string_view name) {
  if (mapped_size < kManagerOffset + 1024)
    throw Error(Errc::too_small, quoted(name) + " is " + mib(mapped_size) +
                                     ": too small to be a shmkit segment (not made by shmkit?)");
  if (h.magic != kSegmentMagic) {
    if (__builtin_bswap64(h.magic) == kSegmentMagic)
      throw Error(Errc::incompatible_format, quoted(name) + " was made on a machine of the other byte order");
    throw Error(Errc::incompatible_format,
                quoted(name) + " is not a shmkit segment (its header has no shmkit magic); "
                               "open it with the tool that made it, or remove it");
  }
  if (h.format_version != kFormatVersion)
    throw Error(Errc::incompatible_format,
                quoted(name) + " has format " + std::to_string(h.format_version) + "; this build reads format " +
                    std::to_string(kFormatVersion) + ": use a shmkit of the same format on both sides");
  if (h.header_size < sizeof(SegmentHeader) || h.header_size > kManagerOffset)
    throw Error(Errc::corrupt, quoted(name) + " has a header size of " + std::to_string(h.header_size) +
                                   " bytes, outside [" + std::to_string(sizeof(SegmentHeader)) + ", " +
                                   std::to_string(kManagerOffset) + "]: the header is corrupt");

  const LayoutFingerprint want = current_layout();
  const LayoutFingerprint& got = h.layout;
  auto differs = [&](const char* field, std::uint64_t theirs, std::uint64_t ours) {
    if (theirs != ours)
      throw Error(Errc::incompatible_format,
                  quoted(name) + " was made by a build whose " + field + " is " + std::to_string(theirs) +
                      "; this build's is " + std::to_string(ours) +
                      ": both sides must use the same shmkit layout (same Boost, ABI and platform)");
  };
  differs("byte-order marker", got.endian_marker, want.endian_marker);
  differs("pointer size", got.pointer_size, want.pointer_size);
  differs("size_t size", got.size_t_size, want.size_t_size);
  differs("max alignment", got.max_align, want.max_align);
  differs("Boost version", got.boost_version, want.boost_version);
  differs("native sync kind", got.native_sync_kind, want.native_sync_kind);
  differs("sizeof(shmkit::Mutex)", got.sizeof_mutex, want.sizeof_mutex);
  differs("sizeof(shmkit::Condition)", got.sizeof_condition, want.sizeof_condition);
  differs("sizeof(shmkit::SharedMutex)", got.sizeof_shared_mutex, want.sizeof_shared_mutex);
  differs("segment manager size", got.sizeof_segment_manager, want.sizeof_segment_manager);
  differs("native mutex size", got.sizeof_native_mutex, want.sizeof_native_mutex);
  differs("segment manager alignment", got.alignof_segment_manager, want.alignof_segment_manager);

  // One read: a grow in another process may raise it at any moment (never lower it).
  const std::uint64_t total = h.total_size.load(std::memory_order_acquire);
  const std::uint64_t max = h.max_size;
  if (total > backing_size || total > mapped_size)
    throw Error(Errc::too_small, quoted(name) + ": the header says " + mib(total) + " but only " +
                                     mib(std::min(backing_size, mapped_size)) + " are there (truncated?)");
  if (max < total)
    throw Error(Errc::corrupt, quoted(name) + ": the header's maximum size (" + mib(max) +
                                   ") is below its size (" + mib(total) + ")");
  if (mapped_size > max || backing_size > max)
    throw Error(Errc::corrupt, quoted(name) + ": the segment has " + mib(std::max(mapped_size, backing_size)) +
                                   ", more than the header's maximum size of " + mib(max));
  if (h.manager_offset != kManagerOffset || h.manager_size.load(std::memory_order_relaxed) + kManagerOffset > max)
    throw Error(Errc::corrupt, quoted(name) + ": the allocator's offset or size in the header is inconsistent");
  if (h.backend < 1 || h.backend > 3)
    throw Error(Errc::corrupt, quoted(name) + ": unknown backend " + std::to_string(h.backend) + " in the header");
}

}  // namespace shmkit::detail
