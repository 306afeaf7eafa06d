// What shmkit-writer publishes and shmkit-reader consumes: the demo's shared-memory contract.
// Both sides include this header; anything else reading the segment needs only these layouts.
//
// Readers are untrusted peers: nothing they do (stall, die at any instruction, send nonsense)
// may block or kill the writer. So the writer shares no lock with them:
//   "frames"      broadcast channel of SensorFrame records (one per sensor per tick)
//   "registry"    Snapshot<RegistryRecord>: the sensors, stored by the writer, read lock-free
//   "stats"       Snapshot<StatsHistory>: the writer's last kStatsHistory seconds, same
//   "config"      Snapshot<AppliedConfig>: the settings in effect, stored only by the writer
//   "commands"    CommandBoard: readers post requested settings; the writer validates each one
//                 and applies it or drops it, never waiting for the reader that posted it
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "shmkit/snapshot.hpp"

namespace shmkit::demo {

inline constexpr const char* kChannel = "frames";
inline constexpr const char* kRegistry = "registry";
inline constexpr const char* kStats = "stats";
inline constexpr const char* kConfig = "config";
inline constexpr const char* kCommands = "commands";
inline constexpr std::size_t kStatsHistory = 60;

enum class SensorKind : std::uint32_t { ecg = 0, temperature = 1, accelerometer = 2 };
inline constexpr std::uint32_t kSensorCount = 3;
inline constexpr const char* kSensorNames[kSensorCount] = {"ecg", "temperature", "accelerometer"};
inline constexpr const char* kSensorUnits[kSensorCount] = {"mV", "degC", "m/s^2"};

// One frame's payload: this header, then `sample_count` int32 raw samples. value = raw * scale * gain.
struct SensorFrame {
  std::uint32_t magic;         // kFrameMagic
  std::uint32_t sensor;        // SensorKind
  std::uint64_t tick;          // the writer's tick (all sensors share it)
  double gain;                 // the configuration gain applied to this frame
  double scale;                // raw count -> unit
  std::uint32_t sample_count;
  std::uint32_t config_version;  // AppliedConfig::version this frame was made with
  // int32_t samples[sample_count] follow
};
static_assert(sizeof(SensorFrame) == 40);
inline constexpr std::uint32_t kFrameMagic = 0x53454e53;  // "SENS"

// One sensor in the registry (fixed size, trivially copyable: it travels in a Snapshot).
struct SensorEntry {
  char name[16];
  char unit[8];
  std::uint32_t id;
  std::uint32_t samples_per_frame;
  double rate_hz;
  std::uint64_t frames;  // published so far (updated once a second)
};
struct RegistryRecord {
  std::uint32_t count;  // entries in use; a reader checks it against kSensorCount
  std::uint32_t reserved;
  SensorEntry sensors[kSensorCount];
};
static_assert(std::is_trivially_copyable_v<RegistryRecord> && sizeof(SensorEntry) == 48);
using RegistrySnapshot = Snapshot<RegistryRecord>;

struct WriterStatsRecord {
  std::int64_t unix_s;
  double frames_per_s;
  double bytes_per_s;
  std::uint64_t published;
};
// The last kStatsHistory records, oldest first.
struct StatsHistory {
  std::uint32_t count;
  std::uint32_t reserved;
  WriterStatsRecord records[kStatsHistory];
};
static_assert(std::is_trivially_copyable_v<StatsHistory>);
using StatsSnapshot = Snapshot<StatsHistory>;

// The settings in effect; `version` grows by one per applied change.
struct AppliedConfig {
  double gain;
  std::uint32_t version;
  std::uint32_t reserved;
};
using ConfigSnapshot = Snapshot<AppliedConfig>;

// The range the writer accepts for gain; anything else (NaN included) is dropped.
inline constexpr double kMinGain = 1e-6;
inline constexpr double kMaxGain = 1e6;
inline constexpr const char* kGainRange = "1e-6 to 1e6";
inline bool valid_gain(double g) { return std::isfinite(g) && g >= kMinGain && g <= kMaxGain; }

// A reader's request to change a setting. A reader claims a free slot (free -> claimed, with its
// pid), writes the value, then marks it posted. The writer takes posted slots, validates and
// frees them; a slot left claimed by a reader that died (or stayed there too long) is freed by
// the writer, so a reader killed at any point costs one slot for a moment and nothing else.
enum CommandState : std::uint32_t { command_free = 0, command_claimed = 1, command_posted = 2 };
struct alignas(64) CommandSlot {  // its own cache line: two readers post side by side
  std::atomic<std::uint32_t> state;
  std::atomic<std::int32_t> pid;           // the claiming reader
  std::atomic<std::uint64_t> gain_bits;    // the requested gain (a double's bits)
  std::atomic<std::uint64_t> claimed_ns;   // steady clock at claim, for the writer's timeout
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free && std::atomic<std::uint64_t>::is_always_lock_free);
inline constexpr std::uint32_t kCommandSlots = 16;
struct CommandBoard {
  static constexpr bool shmkit_shareable = true;  // lock-free atomics only
  CommandSlot slots[kCommandSlots];
};
static_assert(std::is_standard_layout_v<CommandBoard> && sizeof(CommandBoard) == 64 * kCommandSlots);

// The raw sample `i` of `sensor` at `tick`: deterministic, so a reader can verify payloads.
inline std::int32_t synth_sample(std::uint32_t sensor, std::uint64_t tick, std::uint32_t i) {
  const std::uint64_t t = tick * 64 + i;
  switch (static_cast<SensorKind>(sensor)) {
    case SensorKind::ecg: {  // a spike every 200 samples over a small baseline wander
      const std::uint64_t phase = t % 200;
      return static_cast<std::int32_t>((phase < 6 ? 1000 - static_cast<std::int64_t>(phase) * 150 : 0) +
                                       static_cast<std::int64_t>(t % 37) - 18);
    }
    case SensorKind::temperature:
      return static_cast<std::int32_t>(3650 + static_cast<std::int64_t>((t / 97) % 11) - 5);
    case SensorKind::accelerometer:
      return static_cast<std::int32_t>(static_cast<std::int64_t>((t * 2654435761u) % 2001) - 1000);
  }
  return 0;
}
inline constexpr double kSensorScale[kSensorCount] = {0.001, 0.01, 0.00981};

}  // namespace shmkit::demo
