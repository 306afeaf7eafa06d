#include "bridge_topics.hpp"

#include <algorithm>

namespace shmkit::bridge {

namespace {

dds_duration_t to_dds(std::chrono::nanoseconds d) { return static_cast<dds_duration_t>(d.count()); }

}  // namespace

BridgeTopics::BridgeTopics(dds_domainid_t domain, const std::string& topic)
    : frames_name(topic), state_name(topic + "_state") {
  if (topic.empty()) throw Error(Errc::invalid_argument, "--topic must not be empty");
  participant = DdsEntity(dds_check(dds_create_participant(domain, nullptr, nullptr), "creating the DDS participant"));
  frames = dds_check(dds_create_topic(participant.get(), &shmkit_bridge_Frame_desc, frames_name.c_str(), nullptr, nullptr),
                     "creating DDS topic '" + frames_name + "'");
  state = dds_check(dds_create_topic(participant.get(), &shmkit_bridge_ChannelState_desc, state_name.c_str(), nullptr,
                                     nullptr),
                    "creating DDS topic '" + state_name + "'");
}

void frame_writer_qos(dds_qos_t* qos, ChannelKind kind, std::uint32_t slots) {
  dds_qset_liveliness(qos, DDS_LIVELINESS_AUTOMATIC, to_dds(kLivelinessLease));
  if (kind == ChannelKind::queue) {
    // dds_write blocks (up to 1 s a try, then the exporter retries) while the importer's history
    // is full: that is the back-pressure.
    dds_qset_reliability(qos, DDS_RELIABILITY_RELIABLE, DDS_SECS(1));
    dds_qset_history(qos, DDS_HISTORY_KEEP_ALL, 0);
  } else {
    dds_qset_reliability(qos, DDS_RELIABILITY_BEST_EFFORT, 0);
    dds_qset_history(qos, DDS_HISTORY_KEEP_LAST, static_cast<int32_t>(std::min<std::uint32_t>(slots, 1U << 16)));
  }
}

void frame_reader_qos(dds_qos_t* qos, ChannelKind kind, std::uint32_t slots) {
  dds_qset_liveliness(qos, DDS_LIVELINESS_AUTOMATIC, to_dds(kLivelinessLease));
  if (kind == ChannelKind::queue) {
    dds_qset_reliability(qos, DDS_RELIABILITY_RELIABLE, DDS_SECS(3600));
    dds_qset_history(qos, DDS_HISTORY_KEEP_ALL, 0);
    dds_qset_resource_limits(qos, kQueueHistory, DDS_LENGTH_UNLIMITED, kQueueHistory);
  } else {
    dds_qset_reliability(qos, DDS_RELIABILITY_BEST_EFFORT, 0);
    dds_qset_history(qos, DDS_HISTORY_KEEP_LAST, static_cast<int32_t>(std::min<std::uint32_t>(slots, 1U << 16)));
  }
}

void state_qos(dds_qos_t* qos) {
  dds_qset_reliability(qos, DDS_RELIABILITY_RELIABLE, DDS_SECS(10));
  dds_qset_durability(qos, DDS_DURABILITY_TRANSIENT_LOCAL);
  dds_qset_history(qos, DDS_HISTORY_KEEP_LAST, 1);
  dds_qset_liveliness(qos, DDS_LIVELINESS_AUTOMATIC, to_dds(kLivelinessLease));
}

bool kind_from_wire(std::uint32_t value, ChannelKind& kind) noexcept {
  if (value == static_cast<std::uint32_t>(ChannelKind::broadcast)) kind = ChannelKind::broadcast;
  else if (value == static_cast<std::uint32_t>(ChannelKind::queue)) kind = ChannelKind::queue;
  else return false;
  return true;
}

}  // namespace shmkit::bridge
