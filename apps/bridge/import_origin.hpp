// Where an imported channel's sequence numbers start upstream, kept in the segment beside the
// channel so that a restarted importer knows which upstream frame comes next:
//   next upstream sequence = first_sequence + frames published locally + upstream_lost.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace shmkit::bridge {

struct ImportOrigin {
  static constexpr bool shmkit_shareable = true;  // lock-free atomics only
  std::atomic<std::uint64_t> first_sequence{0};  // upstream sequence of the first frame imported
  std::atomic<std::uint32_t> set{0};             // 1 once first_sequence is valid
  std::uint32_t reserved = 0;
};
static_assert(sizeof(ImportOrigin) == 16 && alignof(ImportOrigin) == 8 && std::is_standard_layout_v<ImportOrigin>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace shmkit::bridge
