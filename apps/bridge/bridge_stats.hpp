// What a bridge counts, for its status line and --json.
#pragma once

#include <cstdint>
#include <string>

namespace shmkit::bridge {

struct BridgeStats {
  std::uint64_t frames = 0;          // frames carried (exported, or imported into the channel)
  std::uint64_t bytes = 0;           // their payload bytes
  std::uint64_t lost = 0;            // export: lost locally (broadcast); import: sequence gaps
  std::uint64_t duplicates = 0;      // import: samples at or below a sequence already delivered
  std::uint64_t refused = 0;         // import: malformed or foreign samples, dropped
  std::uint64_t write_retries = 0;   // export: DDS writes that timed out and were retried
  std::uint64_t full_waits = 0;      // import (queue): the local queue was full
  std::uint64_t first_sequence = 0;  // import: upstream sequence the imported channel starts at
  std::string writer = "none";       // the exporting writer's state as last known
  bool matched = false;              // a peer bridge is matched on the frame topic
};

// One line of JSON with every counter; `role` is "export" or "import", `final` the last line.
std::string stats_json(const char* role, const std::string& topic, const std::string& channel,
                       const BridgeStats& s, double seconds, bool final);
// One human status line (no newline).
std::string stats_line(const char* role, const BridgeStats& s, double seconds);

}  // namespace shmkit::bridge
