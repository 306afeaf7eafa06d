// shmkit channels: lock-free rings of frames between processes, as named objects in a Segment.
//
//  - BroadcastWriter / BroadcastReader (broadcast_channel.hpp): one writer, many readers, lossy
//    for slow readers; the writer never waits.
//  - QueueWriter / QueueReader (queue_channel.hpp): one writer, one reader, lossless, the writer
//    waits (or fails fast) when the reader falls behind.
// Both: zero-copy loans and in-place reads, copy-in/copy-out, optional CRC-32C per frame,
// busy-poll / spin-then-block / block waits with timeouts, heartbeats, and detection of a peer
// that closed or died. docs/channels.md explains the layout, the memory ordering and the choice.
//
// This header adds what applies to any channel: status for tools, and removal.
#pragma once

#include <chrono>
#include <string_view>

#include "shmkit/broadcast_channel.hpp"
#include "shmkit/channel_types.hpp"
#include "shmkit/frame_loan.hpp"
#include "shmkit/queue_channel.hpp"
#include "shmkit/wait_strategy.hpp"

namespace shmkit {

class Segment;
class SegmentView;

// The channel's shared header as tools see it (published count, writer state, readers and how
// far behind they are). Error(not_found), type_mismatch (not a channel), corrupt.
ChannelStatus channel_status(Segment& segment, std::string_view name,
                             std::chrono::nanoseconds stall_threshold = std::chrono::seconds(1));
// The same through a read-only view (only reads).
ChannelStatus channel_status(const SegmentView& view, std::string_view name,
                             std::chrono::nanoseconds stall_threshold = std::chrono::seconds(1));

// Destroys channel `name` (either kind); false if there is none. Every handle on it must be gone.
bool destroy_channel(Segment& segment, std::string_view name);

}  // namespace shmkit
