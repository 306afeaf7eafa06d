// shmkit-bench harness: settings, clocks, statistics, result records, child processes and the
// control block they share. Every case file (cases_*.cpp) builds on this.
//
// Process model: every case runs its peers as real processes. A peer is this executable
// re-executed in a child role (`shmkit-bench --child <role> key=value...`), so it starts with
// a fresh address space and maps every shared object itself, at whatever address it gets.
// Parent and children meet in a small POSIX shared-memory control block (Control below).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shmkit::bench {

// ---- Settings ----

struct Settings {
  bool quick = false;
  double case_seconds = 1.0;      // latency: at most this long sampling one case
  double repeat_seconds = 0.25;   // throughput: the writer's sending time per repeat
  int repeats = 5;                // throughput repeats (median reported); latency batches
  std::uint64_t latency_samples = 200'000;  // latency: at most this many round trips per case
  int cpus = 1;                   // online CPUs this process may use
  std::string self;               // this executable, for re-exec in child roles
  std::string tag;                // unique prefix for shared-object names: "shmkit-bench-<pid>"
  std::string only;               // run only cases whose id contains this
  std::string iceoryx_bin;        // companion benchmark; empty when not built
  bool verbose = false;
};

// ---- Clocks ----

// Steady-clock nanoseconds (CLOCK_MONOTONIC: the same clock in every process).
std::int64_t now_ns() noexcept;

// A cheap cycle counter for round-trip samples (rdtsc on x86: ~10 ns to read, where
// clock_gettime costs 20-40 ns on a VM, which would blur a 200 ns floor). Calibrated once.
class Ticks {
 public:
  static void calibrate();
  static std::uint64_t now() noexcept;
  static double to_ns(std::uint64_t ticks) noexcept;
};

// ---- Statistics ----

struct LatencySummary {
  double median_ns = 0, p99_ns = 0, max_ns = 0;
  std::uint64_t samples = 0;
};
LatencySummary summarize(std::vector<double>& samples);  // sorts in place
double median_of(std::vector<double> values);

// ---- Results ----

enum class Metric { latency, throughput, time };

// One row of the table / one object in the JSON.
struct Result {
  std::string id{};   // stable key: "latency/channel/broadcast/busy/64"
  std::string group{};  // floor, ipc, ring, channel, state, syscalls, iceoryx
  Metric metric = Metric::latency;
  std::string label{};  // what the table shows
  std::uint64_t size = 0;  // frame bytes (0: n/a)
  int readers = 0;
  LatencySummary latency{};  // Metric::latency (one-way ns) and Metric::time (ns per op)
  double msgs_per_s = 0;   // Metric::throughput: median of repeats
  double bytes_per_s = 0;
  std::vector<double> repeat_msgs_per_s{};
  bool lossless = false;   // a lossless path: lost must be 0
  std::uint64_t lost = 0;  // frames lost (broadcast: overwritten before read) over all repeats
  std::uint64_t frames = 0;  // frames delivered over all repeats
  std::map<std::string, double> extra{};  // per-case figures (syscalls per frame, ...)
  bool skipped = false;
  std::string note{};  // why skipped, or a caveat
};

class Results {
 public:
  Result& add(Result r);
  const Result* find(const std::string& id) const;
  const std::vector<Result>& all() const { return rows_; }

 private:
  std::vector<Result> rows_;
};

// ---- Processes ----

// Pins the calling process to `cpu` (mod the CPU count); a no-op on a 1-CPU machine.
void pin_to_cpu(int cpu, int cpus);
// The CPU a case's participant `index` (0 = the parent) runs on: distinct while there are
// enough CPUs, wrapping around otherwise.
inline int cpu_for(int index, int cpus) { return cpus > 0 ? index % cpus : 0; }

using Args = std::map<std::string, std::string>;
std::string arg(const Args& a, const std::string& key, const std::string& fallback = "");
std::uint64_t arg_u64(const Args& a, const std::string& key, std::uint64_t fallback = 0);

// A child process running this executable in a role. The destructor kills a child still
// running (a case that failed half-way leaves nothing behind).
class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();
  // Waits for exit; throws if the child failed or did not exit within `timeout_s`.
  void join(double timeout_s = 30);
  bool running();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// fork + exec of settings.self as `--child role key=value...`. File descriptors the parent
// created without O_CLOEXEC (pipes, sockets, eventfds) are inherited: pass their numbers in args.
Child spawn(const Settings& s, const std::string& role, const Args& args);

// Runs the child role named on the command line (argv[1] == "--child"); returns the exit code.
using RoleFn = std::function<int(const Args&)>;
void register_role(const std::string& name, RoleFn fn);
int child_main(int argc, char** argv);

// ---- Control block ----

struct alignas(64) ChildReport {
  std::atomic<std::int64_t> end_ns{0};      // steady ns when it received the last frame
  std::atomic<std::uint64_t> received{0};   // frames delivered
  std::atomic<std::uint64_t> lost{0};       // frames reported lost
  std::atomic<std::uint64_t> errors{0};     // payload or order errors found
  std::atomic<std::uint32_t> finished{0};
};

// Shared by a case's parent and children (POSIX shm "/<tag>-ctl"). Each flag on its own line.
struct Control {
  alignas(64) std::atomic<std::uint32_t> ready{0};  // children that finished setting up
  alignas(64) std::atomic<std::uint32_t> stop{0};
  alignas(64) std::atomic<std::uint64_t> line{0};   // the ping-pong cache line (floor)
  alignas(64) std::atomic<std::uint32_t> futex_ping{0};
  alignas(64) std::atomic<std::uint32_t> futex_pong{0};
  alignas(64) std::atomic<std::int64_t> start_ns{0};  // the writer's start, for throughput
  ChildReport child[8];
  void reset();
};

// Futex on a word of the control block (shared between processes, so not FUTEX_PRIVATE_FLAG).
long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t val);
// Sleeps until `word` no longer holds `old`.
void futex_wait_change(std::atomic<std::uint32_t>& word, std::uint32_t old);
// Stores `value` and wakes every process sleeping on `word`.
void futex_store_wake_all(std::atomic<std::uint32_t>& word, std::uint32_t value);

// Maps (and, as owner, creates and finally unlinks) the control block.
class ControlMap {
 public:
  static ControlMap create(const Settings& s);
  static ControlMap open(const std::string& name);
  ControlMap(ControlMap&& o) noexcept;
  ControlMap(const ControlMap&) = delete;
  ControlMap& operator=(const ControlMap&) = delete;
  ~ControlMap();
  Control& operator*() const { return *ctl_; }
  Control* operator->() const { return ctl_; }
  const std::string& name() const { return name_; }

 private:
  ControlMap(Control* c, std::string n, bool owner) : ctl_(c), name_(std::move(n)), owner_(owner) {}
  Control* ctl_ = nullptr;
  std::string name_;
  bool owner_ = false;
};

// Waits (sleeping briefly) until ctl.ready reaches n; throws if a child died or 20 s passed.
void await_ready(Control& ctl, std::uint32_t n, std::vector<Child*> children);

// A spin-wait with a deadline check every few thousand turns; false on timeout.
bool spin_until(const std::function<bool()>& cond, double timeout_s);

// ---- Cases and rounds ----

// Samples `round_trip()` (one message there and back) after a short warm-up, appending
// one-way times (half the round trip) until the batch's share of samples or time is used.
void sample_batch(const Settings& s, std::vector<double>& out, const std::function<void()>& round_trip);

// One streaming repeat: frames delivered, frames lost, seconds from the writer's first frame
// to the (slowest) reader's last.
struct Repeat {
  std::uint64_t frames = 0;
  std::uint64_t lost = 0;
  double seconds = 0;
};
void fill_throughput(Result& r, const std::vector<Repeat>& reps);

// A latency case: each batch sets its peers up, samples, and tears them down again.
struct LatencyCase {
  Result result;
  std::function<void(const Settings&, Result&, std::vector<double>&)> batch;
};
// A throughput case: each call is one repeat, with fresh peers.
struct StreamCase {
  Result result;
  std::function<Repeat(const Settings&, Result&)> repeat;
};

struct Cases {
  std::vector<LatencyCase> latency;
  std::vector<StreamCase> stream;
  std::vector<Result> skipped;  // cases that cannot run here, with the reason
};

// Runs every case in `settings.repeats` rounds, round-robin: one batch (or repeat) of each case
// per round. On a shared machine the load drifts over minutes; interleaving spreads that drift
// over every case alike, so the ratios between cases stay meaningful. Adds one Result per case.
void run_rounds(const Settings& s, Cases& cases, Results& out);

}  // namespace shmkit::bench
