// The bridge's DDS topics and how each channel kind maps to QoS:
//  queue     -> reliable, keep-all history bounded by resource limits: a full importer stops
//               taking samples, DDS flow control blocks the exporter's write, the exporter stops
//               reading, and the local writer waits (back-pressure end to end).
//  broadcast -> best-effort, keep-last history of the channel's slot count: nothing waits;
//               what the network or a full history drops shows as a gap in sequence numbers.
//  state     -> reliable, transient-local, keep-last 1 per channel: geometry and writer state.
// Every writer asserts liveliness automatically with kLivelinessLease: an importer sees an
// exporter that died or became unreachable as "no writer" after at most that lease.
#pragma once

#include <chrono>
#include <string>

#include "bridge_types.h"
#include "dds_entity.hpp"
#include "shmkit/channel_types.hpp"

namespace shmkit::bridge {

inline constexpr std::chrono::milliseconds kLivelinessLease{1000};
// A queue importer holds at most this many samples it has not yet written locally.
inline constexpr int kQueueHistory = 4096;

// A participant in `domain` (DDS_DOMAIN_DEFAULT: CYCLONEDDS_URI's or 0) and the two topics.
struct BridgeTopics {
  BridgeTopics(dds_domainid_t domain, const std::string& topic);
  DdsEntity participant;
  dds_entity_t frames = 0;  // children of the participant
  dds_entity_t state = 0;
  std::string frames_name, state_name;
};

// Frame writer/reader QoS for a channel kind; the state topic's QoS.
void frame_writer_qos(dds_qos_t* qos, ChannelKind kind, std::uint32_t slots);
void frame_reader_qos(dds_qos_t* qos, ChannelKind kind, std::uint32_t slots);
void state_qos(dds_qos_t* qos);

// ChannelKind from the wire, validated: false for anything but broadcast (1) or queue (2).
bool kind_from_wire(std::uint32_t value, ChannelKind& kind) noexcept;

}  // namespace shmkit::bridge
