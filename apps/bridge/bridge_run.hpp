// The two directions of shmkit-bridge and what they are told on the command line.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include <dds/dds.h>

#include "shmkit/channel_types.hpp"
#include "shmkit/segment.hpp"

namespace shmkit::bridge {

struct BridgeSettings {
  std::string segment;           // --segment
  std::string socket;            // --socket (memfd segments served by a writer)
  Backend backend = Backend::named;
  std::string channel;           // --channel: the local channel
  std::string topic;             // --topic (export: default "shmkit_" + channel)
  std::string from;              // import --from: the exporting channel's name (default: the first seen)
  dds_domainid_t domain = DDS_DOMAIN_DEFAULT;
  std::chrono::nanoseconds interval = std::chrono::seconds(1);  // status line period
  std::chrono::nanoseconds duration{0};  // stop after this long (0: no limit)
  std::uint64_t count = 0;       // stop after this many frames (0: no limit)
  std::chrono::nanoseconds wait_for_writer{0};  // export: wait this long for the channel to exist
  std::uint64_t segment_size = 0;  // import: size of a segment it creates (0: enough for the channel)
  bool json = false;
  bool quiet = false;
};

// Exit status of an importer whose exporting writer died: the process ends without closing the
// channel, so local readers see their writer dead exactly as if it were local.
inline constexpr int kExitWriterDead = 3;

int run_export(const BridgeSettings& s, const std::atomic<bool>& stop);
int run_import(const BridgeSettings& s, const std::atomic<bool>& stop);

}  // namespace shmkit::bridge
