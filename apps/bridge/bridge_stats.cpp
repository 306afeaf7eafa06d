#include "bridge_stats.hpp"

#include <cstdio>

#include "json_writer.hpp"

namespace shmkit::bridge {

std::string stats_json(const char* role, const std::string& topic, const std::string& channel,
                       const BridgeStats& s, double seconds, bool final) {
  apps::JsonWriter j;
  j.begin_object()
      .field("role", role)
      .field("topic", topic)
      .field("channel", channel)
      .field("final", final)
      .field("seconds", seconds)
      .field("frames", s.frames)
      .field("bytes", s.bytes)
      .field("lost", s.lost)
      .field("duplicates", s.duplicates)
      .field("refused", s.refused)
      .field("write_retries", s.write_retries)
      .field("full_waits", s.full_waits)
      .field("first_sequence", s.first_sequence)
      .field("writer", std::string_view(s.writer))
      .field("matched", s.matched);
  j.end_object();
  return j.str();
}

std::string stats_line(const char* role, const BridgeStats& s, double seconds) {
  char line[256];
  std::snprintf(line, sizeof line, "shmkit-bridge %s: %llu frames (%.0f/s), %llu lost, %llu duplicates, %llu refused, writer %s, %s",
                role, static_cast<unsigned long long>(s.frames), seconds > 0 ? static_cast<double>(s.frames) / seconds : 0.0,
                static_cast<unsigned long long>(s.lost), static_cast<unsigned long long>(s.duplicates),
                static_cast<unsigned long long>(s.refused), s.writer.c_str(), s.matched ? "peer matched" : "no peer");
  return line;
}

}  // namespace shmkit::bridge
