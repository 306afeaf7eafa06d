// shmkit-writer: publishes simulated sensor frames on a broadcast channel, with shared state
// beside it (a sensor registry, recent statistics, a configuration record readers may change).
// It is the first half of shmkit's demo and example code for writers: see docs/apps.md.
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

#include "../common/cli.hpp"
#include "../common/segment_target.hpp"
#include "../common/sensor_demo.hpp"
#include "shmkit/memfd_handle.hpp"
#include "shmkit/channel.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/segment_directory.hpp"

namespace po = boost::program_options;
using namespace shmkit;
using namespace std::chrono;

namespace {

// More slots than any demo needs; the ring's memory is checked against what the host can give.
constexpr std::uint64_t kMaxSlots = std::uint64_t{1} << 24;
// Registration records a broadcast channel can have (detail::kMaxReaderRecords).
constexpr std::uint64_t kMaxReaders = 4096;
// A reader that claimed a command slot and did not post within this long has it taken back.
constexpr auto kClaimTimeout = 1s;
// The longest the writer sleeps at once: a signal is noticed within this.
constexpr auto kMaxNap = 10ms;

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

struct Settings {
  std::string name;
  Backend backend = Backend::automatic;
  std::string socket;
  std::uint64_t size = 0;
  double rate = 250;
  std::uint32_t frame_size = 256;
  std::uint32_t slots = 1024;
  std::uint32_t max_readers = 16;
  bool checksum = true;
  std::uint64_t count = 0;  // ticks; 0 = until signalled
  nanoseconds duration{0};
  nanoseconds heartbeat{100ms};
  bool quiet = false;
};

std::uint32_t samples_per_frame(std::uint32_t frame_size) {
  return static_cast<std::uint32_t>((frame_size - sizeof(demo::SensorFrame)) / sizeof(std::int32_t));
}

// The shared state beside the channel, all of it stored by the writer alone and read
// lock-free: nothing a reader does can make the writer wait.
struct SharedState {
  demo::RegistrySnapshot& registry;
  demo::StatsSnapshot& stats;
  demo::ConfigSnapshot& config;
  demo::CommandBoard& commands;
  demo::RegistryRecord sensors{};
  demo::StatsHistory history{};
};

SharedState make_shared_state(Segment& segment, const Settings& s) {
  SharedState st{segment.construct<demo::RegistrySnapshot>(demo::kRegistry),
                 segment.construct<demo::StatsSnapshot>(demo::kStats),
                 segment.construct<demo::ConfigSnapshot>(demo::kConfig, demo::AppliedConfig{1.0, 0, 0}),
                 segment.construct<demo::CommandBoard>(demo::kCommands)};
  st.sensors.count = demo::kSensorCount;
  for (std::uint32_t id = 0; id < demo::kSensorCount; ++id) {
    demo::SensorEntry& e = st.sensors.sensors[id];
    std::snprintf(e.name, sizeof e.name, "%s", demo::kSensorNames[id]);
    std::snprintf(e.unit, sizeof e.unit, "%s", demo::kSensorUnits[id]);
    e.id = id;
    e.rate_hz = s.rate;
    e.samples_per_frame = samples_per_frame(s.frame_size);
  }
  st.registry.store(st.sensors);
  return st;
}

void update_stats(SharedState& st, std::uint64_t ticks, std::uint64_t published, double fps, double bps) {
  for (demo::SensorEntry& e : st.sensors.sensors) e.frames = ticks;
  st.registry.store(st.sensors);
  demo::StatsHistory& h = st.history;
  if (h.count == demo::kStatsHistory) {
    std::memmove(&h.records[0], &h.records[1], sizeof(h.records[0]) * (demo::kStatsHistory - 1));
    --h.count;
  }
  h.records[h.count++] = {duration_cast<seconds>(system_clock::now().time_since_epoch()).count(), fps, bps, published};
  st.stats.store(h);
}

bool process_alive(std::int32_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH); }

// Takes the readers' posted requests: a valid one is applied (a new config version), an invalid
// one dropped; a slot a dead or stuck reader left claimed is freed. Never waits.
void take_commands(SharedState& st, demo::AppliedConfig& applied, bool quiet) {
  const auto now = static_cast<std::uint64_t>(steady_clock::now().time_since_epoch().count());
  for (demo::CommandSlot& slot : st.commands.slots) {
    std::uint32_t state = slot.state.load(std::memory_order_acquire);
    if (state == demo::command_posted) {
      double gain = 0;
      const std::uint64_t bits = slot.gain_bits.load(std::memory_order_relaxed);
      std::memcpy(&gain, &bits, sizeof gain);
      slot.state.store(demo::command_free, std::memory_order_release);
      if (!demo::valid_gain(gain)) {
        if (!quiet) std::printf("shmkit-writer: dropped a request for gain %g (outside %g..%g)\n", gain, demo::kMinGain, demo::kMaxGain), std::fflush(stdout);
        continue;
      }
      applied.gain = gain;
      ++applied.version;
      st.config.store(applied);
      if (!quiet) std::printf("shmkit-writer: configuration %u: gain %.3g\n", applied.version, gain), std::fflush(stdout);
    } else if (state == demo::command_claimed) {
      const std::uint64_t since = slot.claimed_ns.load(std::memory_order_relaxed);
      const bool stuck = now > since && now - since > static_cast<std::uint64_t>(nanoseconds(kClaimTimeout).count());
      if (stuck || !process_alive(slot.pid.load(std::memory_order_relaxed)))
        slot.state.compare_exchange_strong(state, demo::command_free, std::memory_order_acq_rel);
    }
  }
}

int run(const Settings& s) {
  SegmentOptions options;
  options.backend = s.backend;
  options.socket_path = s.socket;
  const std::uint64_t ring_bytes = std::uint64_t{s.slots} * (s.frame_size + 128);
  const std::uint64_t size = s.size != 0 ? s.size : std::max<std::uint64_t>(64 << 20, ring_bytes + (16 << 20));
  if (ring_bytes + (1 << 20) > size)
    throw std::invalid_argument("--size " + std::to_string(size) + " cannot hold " + std::to_string(s.slots) +
                                " slots of " + std::to_string(s.frame_size) + " bytes: give at least " +
                                apps::format_bytes(static_cast<double>(ring_bytes + (1 << 20))));
  // A named segment left by a writer that crashed (creator dead, nobody maps it) is reclaimed
  // where the platform can tell; a live one makes create() fail with already_exists.
  options.reclaim_stale = true;
  Segment segment = Segment::create(s.name, size, options);
  // A named segment outlives us unless removed: remove it on every way out of run().
  struct Remover {
    const Segment& seg;
    ~Remover() {
      if (seg.backend() == Backend::named) Segment::remove(seg.name(), Backend::named);
    }
  } remover{segment};

  SharedState shared = make_shared_state(segment, s);
  demo::AppliedConfig applied{1.0, 0, 0};
  ChannelConfig cc;
  cc.slots = s.slots;
  cc.max_frame = s.frame_size;
  cc.max_readers = s.max_readers;
  cc.checksum = s.checksum ? Checksum::crc32c : Checksum::none;
  BroadcastWriter writer = BroadcastWriter::create(segment, demo::kChannel, cc);

  if (!s.quiet) {
    std::printf("shmkit-writer: segment '%s' (%s, %s), channel '%s': %u slots x %u B, %s, %.0f Hz x %u sensors\n",
                segment.name().c_str(), to_string(segment.backend()),
                apps::format_bytes(static_cast<double>(segment.size())).c_str(), demo::kChannel, s.slots, s.frame_size,
                s.checksum ? "crc32c" : "no checksum", s.rate, demo::kSensorCount);
    if (const auto* memfd = segment.handle<MemfdHandle>())
      std::printf("shmkit-writer: serving on %s\n", memfd->socket_path().c_str());
    std::fflush(stdout);
  }

  const std::uint32_t samples = samples_per_frame(s.frame_size);
  const std::uint32_t frame_bytes = static_cast<std::uint32_t>(sizeof(demo::SensorFrame) + samples * sizeof(std::int32_t));
  const auto start = steady_clock::now();
  const nanoseconds period = s.rate > 0 ? nanoseconds(static_cast<std::int64_t>(1e9 / s.rate)) : nanoseconds(0);
  auto next_tick = start;
  auto next_stats = start + 1s;
  auto next_commands = start;
  auto last_beat = start;
  std::uint64_t tick = 0, ticks_at_stats = 0, published_at_stats = 0;

  while (!g_stop.load(std::memory_order_relaxed)) {
    if (s.count != 0 && tick >= s.count) break;
    const auto now = steady_clock::now();
    if (s.duration.count() != 0 && now - start >= s.duration) break;
    if (period.count() != 0 && now < next_tick) {
      // Sleep most of the way, then spin the last stretch: 100 kHz needs sub-10 us pacing.
      if (next_tick - now > 200us) std::this_thread::sleep_for(std::min<nanoseconds>(next_tick - now - 100us, kMaxNap));
      if (now - last_beat >= s.heartbeat) {
        writer.heartbeat();
        last_beat = now;
      }
      continue;
    }
    next_tick += period;

    if (now >= next_commands) {
      take_commands(shared, applied, s.quiet);
      next_commands = now + 1ms;
    }
    for (std::uint32_t sensor = 0; sensor < demo::kSensorCount; ++sensor) {
      FrameLoan loan = writer.loan();  // zero-copy: build the frame in its slot
      std::byte* p = loan.data().data();
      demo::SensorFrame h{demo::kFrameMagic, sensor, tick, applied.gain, demo::kSensorScale[sensor], samples, applied.version};
      std::memcpy(p, &h, sizeof h);
      auto* out = reinterpret_cast<std::int32_t*>(p + sizeof h);
      for (std::uint32_t i = 0; i < samples; ++i) out[i] = demo::synth_sample(sensor, tick, i);
      loan.publish(frame_bytes);
    }
    ++tick;
    last_beat = steady_clock::now();

    if (last_beat >= next_stats) {
      const double secs = duration<double>(last_beat - (next_stats - 1s)).count();
      const std::uint64_t published = writer.published();
      const double fps = static_cast<double>(published - published_at_stats) / secs;
      update_stats(shared, tick, published, fps, fps * frame_bytes);
      if (!s.quiet)
        std::printf("shmkit-writer: %llu frames, %.0f frames/s, %s/s\n", static_cast<unsigned long long>(published), fps,
                    apps::format_bytes(fps * frame_bytes).c_str()),
            std::fflush(stdout);
      published_at_stats = published;
      ticks_at_stats = tick;
      next_stats += 1s;
    }
  }
  (void)ticks_at_stats;
  update_stats(shared, tick, writer.published(), 0, 0);
  writer.close();  // readers drain what is in the ring, then see a clean close
  if (!s.quiet) {
    std::printf("shmkit-writer: closed after %llu frames\n", static_cast<unsigned long long>(writer.published()));
    std::fflush(stdout);
  }
  // Let attached readers finish draining before a named segment disappears or the memfd server
  // stops (their mappings stay valid either way; this only keeps inspect-ability meanwhile).
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  apps::AppSpec spec;
  spec.name = "shmkit-writer";
  spec.summary = "publish simulated sensor frames (ECG, temperature, accelerometer) through shared memory";
  spec.usage =
      "  shmkit-writer                                  # memfd segment 'shmkit-demo', 250 Hz, 256-byte frames\n"
      "  shmkit-writer --backend named --name sensors   # the portable named backend\n"
      "  shmkit-writer --rate 100000 --frame-size 64    # 100 kHz of 64-byte frames (per sensor)\n"
      "  shmkit-writer --rate 0 --frame-size 1MiB --slots 16 --no-checksum   # as fast as it goes\n";
  Settings d;
  spec.options.add_options()
      ("name", po::value<std::string>()->default_value("shmkit-demo"), "segment name")
      ("backend", po::value<std::string>()->default_value("auto"), "auto (memfd on Linux), memfd or named")
      ("socket", po::value<std::string>()->default_value(""), "memfd: control socket path (default: per-user runtime dir)")
      ("size", po::value<apps::ByteSize>()->default_value(apps::ByteSize{0}), "segment size (0: enough for the ring, at least 64MiB)")
      ("rate", po::value<apps::Rate>()->default_value(apps::Rate{250}), "ticks per second (one frame per sensor per tick), 0.001 to 1e8; 0: unthrottled")
      ("frame-size", po::value<apps::ByteSize>()->default_value(apps::ByteSize{256}), "bytes per frame, header included (>= 44)")
      ("slots", po::value<apps::Count>()->default_value(apps::Count{1024}), "frames the ring holds (a power of two, 2 to 16M)")
      ("max-readers", po::value<apps::Count>()->default_value(apps::Count{16}), "readers that may register (0 to 4096); more attach only with shmkit-reader --no-register")
      ("no-checksum", po::bool_switch(), "publish without CRC-32C")
      ("count", po::value<apps::Count>()->default_value(apps::Count{0}), "stop after this many ticks (0: run until SIGINT/SIGTERM)")
      ("duration", po::value<apps::Duration>()->default_value(apps::Duration{0ns}), "stop after this long (0: no limit)")
      ("heartbeat", po::value<apps::Duration>()->default_value(apps::Duration{100ms}), "heartbeat interval while idle")
      ("quiet,q", po::bool_switch(), "print only errors");
  return apps::run_app(argc, argv, spec, [](const po::variables_map& vm) {
    Settings s;
    s.name = vm["name"].as<std::string>();
    s.backend = apps::parse_backend(vm["backend"].as<std::string>(), false);
    s.socket = vm["socket"].as<std::string>();
    s.size = vm["size"].as<apps::ByteSize>().bytes;
    s.rate = vm["rate"].as<apps::Rate>().per_second;
    const std::uint64_t frame = vm["frame-size"].as<apps::ByteSize>().bytes;
    if (frame < sizeof(demo::SensorFrame) + 4 || frame > (1u << 30))
      throw std::invalid_argument("--frame-size must be between 44 bytes and 1GiB");
    s.frame_size = static_cast<std::uint32_t>(frame);
    const std::uint64_t slots = vm["slots"].as<apps::Count>().value;
    if (slots < 2 || slots > kMaxSlots || (slots & (slots - 1)) != 0)
      throw std::invalid_argument("--slots " + std::to_string(slots) + " is not a power of two from 2 to " +
                                  std::to_string(kMaxSlots));
    s.slots = static_cast<std::uint32_t>(slots);
    const std::uint64_t max_readers = vm["max-readers"].as<apps::Count>().value;
    if (max_readers > kMaxReaders)
      throw std::invalid_argument("--max-readers " + std::to_string(max_readers) + " is more than " + std::to_string(kMaxReaders));
    s.max_readers = static_cast<std::uint32_t>(max_readers);
    s.checksum = !vm["no-checksum"].as<bool>();
    s.count = vm["count"].as<apps::Count>().value;
    s.duration = vm["duration"].as<apps::Duration>().value;
    s.heartbeat = vm["heartbeat"].as<apps::Duration>().value;
    s.quiet = vm["quiet"].as<bool>();
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    return run(s);
  });
}
