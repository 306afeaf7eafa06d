// Test tool for the bridge tests: an exporter gone wrong. Announces broadcast channel CHANNEL
// (64 slots x MAX_FRAME) on TOPIC, then writes foreign and malformed samples the way a buggy
// or hostile DDS participant could, then one valid frame (sequence 0) so that the test can see
// the importer still works.
//   bridge_inject TOPIC CHANNEL MAX_FRAME
// Malformed: another channel's key, size larger than the payload, a payload larger than
// MAX_FRAME, a size claiming 4 GiB with 8 bytes, a state with an unknown kind. Prints how many.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "bridge_topics.hpp"

using namespace shmkit;
using namespace shmkit::bridge;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s TOPIC CHANNEL MAX_FRAME\n", argv[0]);
    return 2;
  }
  try {
    const std::string channel = argv[2];
    const std::uint64_t next = 0;
    const std::uint32_t max_frame = static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 10));
    BridgeTopics topics(DDS_DOMAIN_DEFAULT, argv[1]);
    DdsQos wq, sq;
    // A queue exporter's QoS (reliable): matches the importer whatever the channel kind, and
    // nothing is lost on the way.
    frame_writer_qos(wq.get(), ChannelKind::queue, 64);
    state_qos(sq.get());
    const dds_entity_t w = dds_check(dds_create_writer(topics.participant.get(), topics.frames, wq.get(), nullptr), "writer");
    const dds_entity_t sw = dds_check(dds_create_writer(topics.participant.get(), topics.state, sq.get(), nullptr), "writer");
    shmkit_bridge_ChannelState good{};
    good.channel = const_cast<char*>(channel.c_str());
    good.kind = static_cast<std::uint32_t>(ChannelKind::broadcast);
    good.slots = 64;
    good.max_frame = max_frame;
    good.writer = static_cast<std::uint32_t>(PeerState::alive);
    dds_check(dds_write(sw, &good), "writing the state");
    // Wait (bounded) until the importer's reader matched, or the samples go nowhere.
    for (int i = 0; i < 100; ++i) {
      dds_publication_matched_status_t m{};
      dds_get_publication_matched_status(w, &m);
      if (m.current_count > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::vector<std::uint8_t> big(std::size_t{max_frame} + 1, 0xAB);
    std::uint8_t small[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    std::string other = channel + "-other";
    auto frame = [&](const char* key, std::uint64_t seq, std::uint32_t size, std::uint8_t* data, std::uint32_t len) {
      shmkit_bridge_Frame f{};
      f.channel = const_cast<char*>(key);
      f.sequence_number = seq;
      f.size = size;
      f.payload._buffer = data;
      f.payload._length = f.payload._maximum = len;
      f.payload._release = false;
      dds_check(dds_write(w, &f), "writing a sample");
    };
    int malformed = 0;
    frame(other.c_str(), next, 8, small, 8), ++malformed;                                  // foreign key
    frame(channel.c_str(), next, 16, small, 8), ++malformed;                               // size > payload
    frame(channel.c_str(), next, max_frame + 1, big.data(), max_frame + 1), ++malformed;   // too large
    frame(channel.c_str(), next, 0xFFFFFFFFu, small, 8), ++malformed;                      // claims 4 GiB
    shmkit_bridge_ChannelState bad{};
    bad.channel = const_cast<char*>(channel.c_str());
    bad.kind = 7;
    bad.slots = 3;
    bad.writer = 1;
    dds_check(dds_write(sw, &bad), "writing a state"), ++malformed;                         // unknown kind
    std::uint8_t valid[8];
    std::memcpy(valid, &next, sizeof next);
    frame(channel.c_str(), next, 8, valid, 8);
    // Reliable: wait until the importer acknowledged everything before the participant goes.
    dds_wait_for_acks(w, DDS_SECS(5));
    dds_wait_for_acks(sw, DDS_SECS(5));
    std::printf("{\"malformed\":%d}\n", malformed);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bridge_inject: %s\n", e.what());
    return 1;
  }
}
