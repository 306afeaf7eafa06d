// shmkit-reader: attaches to a shmkit-writer's segment, reads its registry, consumes its frames
// and reports rate, bandwidth, end-to-end latency, losses and the writer's health. It is the
// second half of shmkit's demo and example code for readers: see docs/apps.md.
#include <signal.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/epoll.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "../common/cli.hpp"
#include "../common/json_writer.hpp"
#include "../common/segment_target.hpp"
#include "../common/sensor_demo.hpp"
#include "shmkit/channel.hpp"
#include "shmkit/segment.hpp"

namespace po = boost::program_options;
using namespace shmkit;
using namespace std::chrono;
using shmkit::apps::JsonWriter;

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

constexpr int kExitWriterDied = 3;

struct Settings {
  std::string name;
  std::string socket;
  Backend backend = Backend::automatic;
  WaitStrategy wait = WaitStrategy::spin_then_block();
  StartAt start = StartAt::newest;
  std::uint64_t count = 0;
  nanoseconds duration{0};
  nanoseconds interval{1s};
  nanoseconds wait_for_writer{0};
  nanoseconds stall{1s};
  bool json = false;
  bool verify = false;
  bool register_reader = true;
  bool event_loop = false;
  bool lossless = false;
  std::vector<std::pair<std::string, double>> sets;
};

Segment attach(const Settings& s) {
  SegmentOptions o;
  o.open_timeout = 2s;
  return apps::open_target(s.name, s.socket, s.backend, o);
}

// Attaches and opens the channel; with --wait-for-writer, retries while there is none yet.
std::pair<Segment, BroadcastReader> connect(const Settings& s) {
  const auto give_up = steady_clock::now() + s.wait_for_writer;
  milliseconds pause{10};
  for (;;) {
    try {
      Segment segment = attach(s);
      ReaderOptions ro;
      ro.wait = s.wait;
      ro.start = s.start;
      ro.register_reader = s.register_reader;
      if (s.lossless) ro.delivery = Delivery::lossless;  // on detach: read on as a lossy reader
      std::optional<BroadcastReader> opened;
      try {
        opened.emplace(segment, demo::kChannel, ro);
      } catch (const Error& e) {
        if (e.errc() != Errc::resource_limit) throw;
        throw Error(Errc::resource_limit, "every reader place of the writer is taken by a live reader (start the writer "
                                          "with a larger --max-readers, or read with --no-register)");
      }
      BroadcastReader reader = std::move(*opened);
      return {std::move(segment), std::move(reader)};
    } catch (const Error& e) {
      const bool absent = e.errc() == Errc::not_found || e.errc() == Errc::peer_gone;
      if (!absent || steady_clock::now() >= give_up || g_stop.load()) {
        if (absent)
          throw Error(e.errc(), "no writer: " + e.message() +
                                    (s.wait_for_writer.count() ? "" : " (start shmkit-writer first, or pass --wait-for-writer 10s)"));
        throw;
      }
    }
    std::this_thread::sleep_for(pause);  // polling for a process that does not exist yet
    pause = std::min(pause * 2, milliseconds(200));
  }
}

// Posts each --set as a request on the writer's command board and waits (bounded) for the
// writer to apply it. The writer validates requests; it never waits for this process.
void apply_settings(Segment& segment, const Settings& s) {
  if (s.sets.empty()) return;
  auto* board = segment.find<demo::CommandBoard>(demo::kCommands);
  auto* config = segment.find<demo::ConfigSnapshot>(demo::kConfig);
  if (board == nullptr || config == nullptr)
    throw Error(Errc::not_found, "the segment has no command board '" + std::string(demo::kCommands) +
                                     "' (is its writer a shmkit-writer of this version?)");
  for (const auto& [key, value] : s.sets) {
    demo::CommandSlot* mine = nullptr;
    for (demo::CommandSlot& slot : board->slots) {
      std::uint32_t expected = demo::command_free;
      if (slot.state.compare_exchange_strong(expected, demo::command_claimed, std::memory_order_acq_rel)) {
        mine = &slot;
        break;
      }
    }
    if (mine == nullptr)
      throw Error(Errc::busy, "all " + std::to_string(demo::kCommandSlots) +
                                  " command slots of the writer are in use: try again in a second");
    const std::uint32_t before = config->load().version;
    mine->pid.store(static_cast<std::int32_t>(::getpid()), std::memory_order_relaxed);
    mine->claimed_ns.store(static_cast<std::uint64_t>(steady_clock::now().time_since_epoch().count()),
                           std::memory_order_relaxed);
    std::uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    mine->gain_bits.store(bits, std::memory_order_relaxed);
    std::uint32_t claimed = demo::command_claimed;
    if (!mine->state.compare_exchange_strong(claimed, demo::command_posted, std::memory_order_acq_rel))
      throw Error(Errc::timeout, "the writer took back this reader's command slot before it was posted: try again");
    // The writer takes requests within a millisecond or so while it runs; 2 s is a generous bound.
    const auto give_up = steady_clock::now() + 2s;
    while (mine->state.load(std::memory_order_acquire) == demo::command_posted) {
      if (steady_clock::now() >= give_up)
        throw Error(Errc::timeout, "the writer did not take the " + key + " request within 2 s (is it running?)");
      std::this_thread::sleep_for(1ms);  // polling a word the writer clears
    }
    const demo::AppliedConfig now = config->load();
    if (now.version == before || now.gain != value)
      throw std::invalid_argument("--set " + key + "=" + std::to_string(value) + " was refused by the writer (gain must be from " +
                                  std::string(demo::kGainRange) + ")");
    if (!s.json) std::printf("shmkit-reader: configuration %u applied (gain %.3g)\n", now.version, now.gain);
  }
}

void print_registry(Segment& segment, bool json) {
  auto* snapshot = segment.find<demo::RegistrySnapshot>(demo::kRegistry);
  if (snapshot == nullptr) return;
  const demo::RegistryRecord reg = snapshot->load();
  if (reg.count > demo::kSensorCount) throw Error(Errc::corrupt, "the registry claims " + std::to_string(reg.count) + " sensors");
  // Names come from another process: bounded reads only.
  auto text = [](const char* p, std::size_t cap) { return std::string_view(p, ::strnlen(p, cap)); };
  if (json) {
    JsonWriter j;
    j.begin_object().key("registry").begin_array();
    for (std::uint32_t i = 0; i < reg.count; ++i) {
      const demo::SensorEntry& e = reg.sensors[i];
      j.begin_object()
          .field("name", text(e.name, sizeof e.name))
          .field("unit", text(e.unit, sizeof e.unit))
          .field("rate_hz", e.rate_hz)
          .field("samples_per_frame", e.samples_per_frame)
          .field("frames", e.frames)
          .end_object();
    }
    j.end_array().end_object();
    std::cout << j.str() << std::endl;
    return;
  }
  std::printf("%-16s %-8s %10s %8s %12s\n", "SENSOR", "UNIT", "RATE", "SAMPLES", "FRAMES");
  for (std::uint32_t i = 0; i < reg.count; ++i) {
    const demo::SensorEntry& e = reg.sensors[i];
    const auto name = text(e.name, sizeof e.name);
    const auto unit = text(e.unit, sizeof e.unit);
    std::printf("%-16.*s %-8.*s %8.0fHz %8u %12llu\n", static_cast<int>(name.size()), name.data(),
                static_cast<int>(unit.size()), unit.data(), e.rate_hz, e.samples_per_frame,
                static_cast<unsigned long long>(e.frames));
  }
}

// Checks a frame against what the writer's deterministic generator makes.
bool verify_frame(std::span<const std::byte> data) {
  demo::SensorFrame h;
  if (data.size() < sizeof h) return false;
  std::memcpy(&h, data.data(), sizeof h);
  if (h.magic != demo::kFrameMagic || h.sensor >= demo::kSensorCount) return false;
  if (data.size() != sizeof h + std::size_t{h.sample_count} * sizeof(std::int32_t)) return false;
  for (std::uint32_t i = 0; i < h.sample_count; ++i) {
    std::int32_t v;
    std::memcpy(&v, data.data() + sizeof h + i * sizeof v, sizeof v);
    if (v != demo::synth_sample(h.sensor, h.tick, i)) return false;
  }
  return true;
}

struct Totals {
  std::uint64_t frames = 0, bytes = 0, lost = 0, checksum_failures = 0, verify_failures = 0;
  // Sequence at which this reader joined: frames + lost == published - first_sequence.
  std::optional<std::uint64_t> first_sequence;
  double gain_seen = 0;
  std::uint32_t config_version_seen = 0;
  std::int64_t latency_max_ns = 0;
};

struct Interval {
  std::uint64_t frames = 0, bytes = 0;
  std::vector<std::int64_t> latencies;
  steady_clock::time_point start = steady_clock::now();
};

std::int64_t percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

void report(Segment& segment, const Settings& s, const Totals& t, Interval& iv, PeerState writer, bool final,
            const char* outcome) {
  const double secs = std::max(1e-9, duration<double>(steady_clock::now() - iv.start).count());
  const double fps = static_cast<double>(iv.frames) / secs;
  const double mbps = static_cast<double>(iv.bytes) / secs / 1e6;
  const double p50 = static_cast<double>(percentile(iv.latencies, 0.50)) / 1e3;
  const double p99 = static_cast<double>(percentile(iv.latencies, 0.99)) / 1e3;
  const double max = iv.latencies.empty() ? 0 : static_cast<double>(*std::max_element(iv.latencies.begin(), iv.latencies.end())) / 1e3;
  std::int64_t heartbeat_age = 0;
  std::uint64_t published = 0;
  try {
    const ChannelStatus st = channel_status(segment, demo::kChannel, s.stall);
    heartbeat_age = st.heartbeat_age_ns;
    published = st.published;
  } catch (const Error&) {
  }
  if (s.json) {
    JsonWriter j;
    j.begin_object()
        .field("final", final)
        .field("frames", t.frames)
        .field("lost", t.lost)
        .field("published", published)
        .field("first_sequence", t.first_sequence.value_or(0))
        .field("checksum_failures", t.checksum_failures)
        .field("verify_failures", t.verify_failures)
        .field("frames_per_s", fps)
        .field("mb_per_s", mbps)
        .field("latency_p50_us", p50)
        .field("latency_p99_us", p99)
        .field("latency_max_us", max)
        .field("writer", to_string(writer))
        .field("heartbeat_age_ms", static_cast<double>(heartbeat_age) / 1e6)
        .field("gain_seen", t.gain_seen)
        .field("config_version_seen", t.config_version_seen);
    if (outcome != nullptr) j.field("outcome", outcome);
    j.end_object();
    std::cout << j.str() << std::endl;
  } else {
    const bool tty = ::isatty(STDOUT_FILENO) != 0 && !final;
    std::printf("%s%8.0f frames/s %8.2f MB/s  latency p50 %7.1f us p99 %7.1f us max %8.1f us  lost %llu  crc-fail %llu"
                "  writer %s (heartbeat %.0f ms)%s",
                tty ? "\r\033[K" : "", fps, mbps, p50, p99, max, static_cast<unsigned long long>(t.lost),
                static_cast<unsigned long long>(t.checksum_failures), to_string(writer),
                static_cast<double>(heartbeat_age) / 1e6, tty ? "" : "\n");
    if (final)
      std::printf("shmkit-reader: %s: %llu frames received, %llu lost, %llu published, %llu checksum failures, %llu "
                  "verify failures\n",
                  outcome ? outcome : "done", static_cast<unsigned long long>(t.frames),
                  static_cast<unsigned long long>(t.lost), static_cast<unsigned long long>(published),
                  static_cast<unsigned long long>(t.checksum_failures),
                  static_cast<unsigned long long>(t.verify_failures));
    std::fflush(stdout);
  }
  iv = Interval{};
}

// --event-loop: the reader sleeps in epoll_wait on notification_fd() (and, with the writer's own
// eventfd, on writer_hangup_fd()) and drains with try_read(); no read() ever waits.
class EventLoop {
 public:
#if defined(__linux__)
  explicit EventLoop(BroadcastReader& reader) : reader_(reader), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_ < 0) throw Error(Errc::system, "epoll_create1 failed", errno);
    add(reader.notification_fd(), EPOLLIN | EPOLLET, 0);
    if (reader.writer_hangup_fd() >= 0) add(reader.writer_hangup_fd(), EPOLLRDHUP, 1);
  }
  ~EventLoop() { ::close(epoll_); }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // The next frame, or timeout once nothing came within `timeout` (closed, peer_gone as read()).
  ReadResult read(std::span<std::byte> buffer, nanoseconds timeout) {
    ReadResult r = reader_.try_read(buffer);  // an empty one arms the fd: then we may sleep
    if (r.status != Errc::timeout) return r;
    if (hung_up_) {
      r.status = Errc::peer_gone;  // drained after the writer's process hung up
      return r;
    }
    epoll_event got[2];
    const int ms = static_cast<int>(std::max<std::int64_t>(0, duration_cast<milliseconds>(timeout).count()));
    const int n = ::epoll_wait(epoll_, got, 2, ms);
    if (n < 0 && errno != EINTR) throw Error(Errc::system, "epoll_wait failed", errno);
    for (int i = 0; i < n; ++i) {
      ++wakeups_;
      if (got[i].data.u32 == 1) hung_up_ = true;
    }
    reader_.clear_notification();  // before the next try_read drains
    return r;
  }
  std::uint64_t wakeups() const noexcept { return wakeups_; }

 private:
  void add(int fd, std::uint32_t events, std::uint32_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = tag;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) throw Error(Errc::system, "epoll_ctl failed", errno);
  }
  BroadcastReader& reader_;
  int epoll_;
  bool hung_up_ = false;
  std::uint64_t wakeups_ = 0;
#else
  explicit EventLoop(BroadcastReader&) {
    throw Error(Errc::unsupported, "--event-loop needs Linux (epoll); read with --wait instead");
  }
  ReadResult read(std::span<std::byte>, nanoseconds) { return {}; }
  std::uint64_t wakeups() const noexcept { return 0; }
#endif
};

int run(const Settings& s) {
  auto [segment, reader] = connect(s);
  std::optional<EventLoop> loop;
  if (s.event_loop) {
    loop.emplace(reader);
    std::cerr << "shmkit-reader: event loop (epoll) on "
              << (reader.notification_uses_thread() ? "a notification thread's eventfd"
                                                    : "the writer's eventfd (no thread in this process)")
              << "\n";
  }
  apply_settings(segment, s);
  print_registry(segment, s.json);
  std::vector<std::byte> buffer(reader.max_frame());
  Totals t;
  Interval iv;
  const auto start = steady_clock::now();
  auto next_report = start + s.interval;
  const char* outcome = nullptr;
  int rc = 0;

  while (outcome == nullptr) {
    if (g_stop.load(std::memory_order_relaxed)) outcome = "interrupted";
    else if (s.count != 0 && t.frames >= s.count) outcome = "count reached";
    else if (s.duration.count() != 0 && steady_clock::now() - start >= s.duration) outcome = "duration reached";
    if (outcome != nullptr) break;

    const auto now = steady_clock::now();
    if (now >= next_report) {
      report(segment, s, t, iv, reader.writer_state(s.stall), false, nullptr);
      next_report += s.interval;
      if (next_report < now) next_report = now + s.interval;
    }
    ReadResult r;
    try {
      const nanoseconds wait = std::min<nanoseconds>(next_report - steady_clock::now(), 100ms);
      r = loop ? loop->read(buffer, wait) : reader.read(buffer, wait);
    } catch (const Error& e) {
      if (e.errc() != Errc::corrupt || std::string(e.what()).find("checksum") == std::string::npos) throw;
      ++t.checksum_failures;  // the frame is skipped; the channel itself is intact
      continue;
    }
    t.lost += r.lost;
    switch (r.status) {
      case Errc::ok: {
        if (!t.first_sequence) t.first_sequence = r.frame.sequence - r.lost;
        const std::int64_t latency =
            duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count() - r.frame.timestamp_ns;
        iv.latencies.push_back(latency);
        t.latency_max_ns = std::max(t.latency_max_ns, latency);
        ++t.frames;
        ++iv.frames;
        t.bytes += r.data.size();
        iv.bytes += r.data.size();
        demo::SensorFrame h{};
        if (r.data.size() >= sizeof h) {
          std::memcpy(&h, r.data.data(), sizeof h);
          t.gain_seen = h.gain;
          t.config_version_seen = std::max(t.config_version_seen, h.config_version);
        }
        if (s.verify && !verify_frame(r.data)) ++t.verify_failures;
        break;
      }
      case Errc::closed: outcome = "writer closed the channel"; break;
      case Errc::peer_gone:
        outcome = "writer died";
        rc = kExitWriterDied;
        break;
      default:
        if (reader.writer_state(s.stall) == PeerState::dead) {
          outcome = "writer died";
          rc = kExitWriterDied;
        }
        break;
    }
  }
  const PeerState final_state = reader.writer_state(s.stall);
  report(segment, s, t, iv, final_state, true, outcome);
  if (rc == kExitWriterDied) std::cerr << "shmkit-reader: writer died\n";
  return rc;
}

std::pair<std::string, double> parse_set(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos) throw std::invalid_argument("--set expects key=value, got '" + text + "'");
  const std::string key = text.substr(0, eq);
  if (key != "gain") throw std::invalid_argument("--set: unknown setting '" + key + "' (known: gain)");
  try {
    std::size_t used = 0;
    const double v = std::stod(text.substr(eq + 1), &used);
    if (used == text.size() - eq - 1 && demo::valid_gain(v)) return {key, v};
  } catch (const std::exception&) {
  }
  throw std::invalid_argument("--set " + key + ": '" + text.substr(eq + 1) + "' is not a gain from " +
                              std::string(demo::kGainRange));
}

}  // namespace

int main(int argc, char** argv) {
  apps::AppSpec spec;
  spec.name = "shmkit-reader";
  spec.summary = "read shmkit-writer's sensor frames and report rate, latency, losses and writer health";
  spec.usage =
      "  shmkit-reader                                 # segment 'shmkit-demo' (memfd, else named)\n"
      "  shmkit-reader --wait busy --verify            # busy-poll, check every payload\n"
      "  shmkit-reader --set gain=2 --count 1000       # change the writer's gain, read 1000 frames\n"
      "  shmkit-reader --event-loop                    # sleep in epoll on the writer's eventfd\n"
      "  shmkit-reader --socket /run/user/1000/shmkit/shmkit-demo.sock --json --duration 10s\n";
  spec.options.add_options()
      ("name", po::value<std::string>()->default_value("shmkit-demo"), "segment name")
      ("socket", po::value<std::string>()->default_value(""), "attach to the memfd segment served at PATH")
      ("backend", po::value<std::string>()->default_value("auto"), "auto (memfd, else named), memfd or named")
      ("wait", po::value<std::string>()->default_value("spin"), "busy (busy-poll), spin (spin then block) or block")
      ("start", po::value<std::string>()->default_value("newest"), "newest or oldest frame in the ring")
      ("count", po::value<apps::Count>()->default_value(apps::Count{0}), "exit 0 after this many frames (0: no limit)")
      ("duration", po::value<apps::Duration>()->default_value(apps::Duration{0ns}), "exit 0 after this long (0: no limit)")
      ("interval", po::value<apps::Duration>()->default_value(apps::Duration{1s}), "status line period")
      ("wait-for-writer", po::value<apps::Duration>()->default_value(apps::Duration{0ns}), "keep trying to attach this long (0: fail at once)")
      ("stall", po::value<apps::Duration>()->default_value(apps::Duration{1s}), "no heartbeat for this long = stalled")
      ("set", po::value<std::vector<std::string>>()->composing(), "change the writer's configuration: gain=2")
      ("verify", po::bool_switch(), "check every payload against the writer's generator")
      ("no-register", po::bool_switch(), "read without taking one of the writer's --max-readers places (not shown by shmkit-inspect)")
      ("event-loop", po::bool_switch(), "sleep in epoll on notification_fd() (the writer's eventfd where it serves the segment) instead of a blocking read")
      ("lossless", po::bool_switch(), "every frame: the writer waits for this reader (until it detaches it as too slow)")
      ("json", po::bool_switch(), "one JSON object per interval (and a final one) instead of text");
  return apps::run_app(argc, argv, spec, [](const po::variables_map& vm) {
    Settings s;
    s.name = vm["name"].as<std::string>();
    s.socket = vm["socket"].as<std::string>();
    s.backend = apps::parse_backend(vm["backend"].as<std::string>(), false);
    const std::string wait = vm["wait"].as<std::string>();
    if (wait == "busy") s.wait = WaitStrategy::busy_poll();
    else if (wait == "spin") s.wait = WaitStrategy::spin_then_block();
    else if (wait == "block") s.wait = WaitStrategy::block();
    else throw std::invalid_argument("--wait must be busy, spin or block, not '" + wait + "'");
    const std::string start = vm["start"].as<std::string>();
    if (start == "newest") s.start = StartAt::newest;
    else if (start == "oldest") s.start = StartAt::oldest;
    else throw std::invalid_argument("--start must be newest or oldest, not '" + start + "'");
    s.count = vm["count"].as<apps::Count>().value;
    s.duration = vm["duration"].as<apps::Duration>().value;
    s.interval = std::max<nanoseconds>(vm["interval"].as<apps::Duration>().value, 10ms);
    s.wait_for_writer = vm["wait-for-writer"].as<apps::Duration>().value;
    s.stall = vm["stall"].as<apps::Duration>().value;
    s.json = vm["json"].as<bool>();
    s.verify = vm["verify"].as<bool>();
    s.register_reader = !vm["no-register"].as<bool>();
    s.event_loop = vm["event-loop"].as<bool>();
    s.lossless = vm["lossless"].as<bool>();
    if (s.lossless && !s.register_reader) throw std::invalid_argument("--lossless needs a reader place: drop --no-register");
    if (vm.count("set")) for (const auto& text : vm["set"].as<std::vector<std::string>>()) s.sets.push_back(parse_set(text));
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    return run(s);
  });
}
