// Helpers the channel sources share (internal).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>

#include "shmkit/channel_types.hpp"
#include "shmkit/detail/channel_core.hpp"
#include "shmkit/detail/channel_layout.hpp"

namespace shmkit::detail {

inline SlotHeader& slot_header(std::byte* slot) noexcept { return *std::launder(reinterpret_cast<SlotHeader*>(slot)); }
inline std::byte* slot_payload(std::byte* slot) noexcept { return slot + kSlotPayloadOffset; }

// Counters fed from shared memory (an upstream gap is any 64-bit value) stop at the top.
inline std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept { return a + b < a ? ~std::uint64_t{0} : a + b; }

// Validates a channel object of `object_bytes` bytes (found in a segment) and returns the view.
// Error(corrupt) / Error(incompatible_format) with a message naming the field.
ChannelView validate_channel(void* object, std::size_t object_bytes, ChannelKind kind, const std::string& name,
                             bool writable);

[[noreturn]] void throw_corrupt(const ChannelView& view, const std::string& what);

// Takes an identity record (a writer line, the consumer line, a reader record): pid 0 -> ours,
// or a dead process's -> ours. False if a live process holds it.
bool claim_identity(std::atomic<std::int32_t>& pid, std::atomic<std::uint64_t>& start_time);

// none (pid 0), alive or dead, from a pid and start time read out of shared memory.
PeerState identity_state(const std::atomic<std::int32_t>& pid, const std::atomic<std::uint64_t>& start_time);

// The writer as readers see it: closed, none, dead, stalled or alive.
PeerState writer_state(const ChannelView& view, std::chrono::nanoseconds stall_threshold);

// For a waiting reader: the writer's process died (and it did not close first).
bool writer_dead(const ChannelView& view);

}  // namespace shmkit::detail
