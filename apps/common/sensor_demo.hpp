// What shmkit-writer publishes and shmkit-reader consumes: the demo's shared-memory contract.
// Both sides include this header; anything else reading the segment needs only these layouts.
//
// In the segment:
//   "frames"      broadcast channel of SensorFrame records (one per sensor per tick)
//   "registry"    shmkit::map<string, SensorInfo> under "registry-lock" (Mutex)
//   "stats"       shmkit::vector<WriterStatsRecord>, the writer's last kStatsHistory seconds,
//                 under "registry-lock"
//   "config"      DemoConfig: settings a reader may change, under its SharedMutex
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "shmkit/containers.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/shared_mutex.hpp"

namespace shmkit::demo {

inline constexpr const char* kChannel = "frames";
inline constexpr const char* kRegistry = "registry";
inline constexpr const char* kRegistryLock = "registry-lock";
inline constexpr const char* kStats = "stats";
inline constexpr const char* kConfig = "config";
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
  std::uint32_t config_version;  // DemoConfig::version this frame was made with
  // int32_t samples[sample_count] follow
};
static_assert(sizeof(SensorFrame) == 40);
inline constexpr std::uint32_t kFrameMagic = 0x53454e53;  // "SENS"

// Registry entry (in shared memory; the map's key is the sensor's name).
struct SensorInfo {
  static constexpr bool shmkit_shareable = true;  // shmkit/shareable.hpp
  using allocator_type = Allocator<void>;  // containers hand their allocator down
  explicit SensorInfo(const allocator_type& a) : unit(a) {}
  shmkit::string unit;
  std::uint32_t id = 0;
  double rate_hz = 0;
  std::uint32_t samples_per_frame = 0;
  std::uint64_t frames = 0;  // published so far (updated once a second)
};
using Registry = shmkit::map<shmkit::string, SensorInfo>;

struct WriterStatsRecord {
  std::int64_t unix_s = 0;
  double frames_per_s = 0;
  double bytes_per_s = 0;
  std::uint64_t published = 0;
};
using StatsHistory = shmkit::vector<WriterStatsRecord>;

// Settings a reader may change (shmkit-reader --set gain=2); the writer applies them from its
// next frame on. `version` lets the writer notice a change without taking the lock per frame.
struct DemoConfig {
  static constexpr bool shmkit_shareable = true;  // shmkit/shareable.hpp
  SharedMutex lock;
  double gain = 1.0;
  std::atomic<std::uint32_t> version{0};
  std::uint32_t reserved = 0;
};

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
