// The harness: clocks, statistics, child processes and the control block (see harness.hpp).
#include "harness.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace shmkit::bench {

// ---- Clocks ----

std::int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

namespace {
double g_ns_per_tick = 1.0;
}

void Ticks::calibrate() {
#if defined(__x86_64__) || defined(__i386__)
  // 20 ms against CLOCK_MONOTONIC: good to well under 0.1 %.
  const std::int64_t t0 = now_ns();
  const std::uint64_t c0 = __rdtsc();
  while (now_ns() - t0 < 20'000'000) {
  }
  const std::int64_t t1 = now_ns();
  const std::uint64_t c1 = __rdtsc();
  g_ns_per_tick = static_cast<double>(t1 - t0) / static_cast<double>(c1 - c0);
#endif
}

std::uint64_t Ticks::now() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(now_ns());
#endif
}

double Ticks::to_ns(std::uint64_t ticks) noexcept { return static_cast<double>(ticks) * g_ns_per_tick; }

// ---- Statistics ----

LatencySummary summarize(std::vector<double>& v) {
  LatencySummary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]; };
  s.median_ns = at(0.5);
  s.p99_ns = at(0.99);
  s.max_ns = v.back();
  s.samples = v.size();
  return s;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---- Results ----

Result& Results::add(Result r) {
  rows_.push_back(std::move(r));
  return rows_.back();
}

const Result* Results::find(const std::string& id) const {
  for (const auto& r : rows_)
    if (r.id == id) return &r;
  return nullptr;
}

// ---- Processes ----

void pin_to_cpu(int cpu, int cpus) {
  if (cpus < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu % cpus), &set);
  (void)sched_setaffinity(0, sizeof set, &set);  // best effort: a restricted container may refuse
}

std::string arg(const Args& a, const std::string& key, const std::string& fallback) {
  auto it = a.find(key);
  return it == a.end() ? fallback : it->second;
}

std::uint64_t arg_u64(const Args& a, const std::string& key, std::uint64_t fallback) {
  auto it = a.find(key);
  return it == a.end() ? fallback : std::stoull(it->second);
}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    this->~Child();
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

Child::~Child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

bool Child::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  pid_ = -1;
  return false;
}

void Child::join(double timeout_s) {
  if (pid_ <= 0) return;
  const std::int64_t deadline = now_ns() + static_cast<std::int64_t>(timeout_s * 1e9);
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      const pid_t was = pid_;
      pid_ = -1;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("child " + std::to_string(was) + " failed (status " + std::to_string(status) + ")");
      return;
    }
    if (now_ns() > deadline) throw std::runtime_error("child " + std::to_string(pid_) + " did not finish in time");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

Child spawn(const Settings& s, const std::string& role, const Args& args) {
  std::vector<std::string> words{s.self, "--child", role};
  for (const auto& [k, v] : args) words.push_back(k + "=" + v);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::execv(s.self.c_str(), argv.data());
    std::perror("shmkit-bench: exec");
    ::_exit(127);
  }
  return Child(pid);
}

namespace {
std::map<std::string, RoleFn>& role_table() {
  static std::map<std::string, RoleFn> t;
  return t;
}
}  // namespace

void register_role(const std::string& name, RoleFn fn) { role_table()[name] = std::move(fn); }

int child_main(int argc, char** argv) {
  if (argc < 3) return 2;
  Args a;
  for (int i = 3; i < argc; ++i) {
    const std::string w = argv[i];
    const auto eq = w.find('=');
    if (eq != std::string::npos) a[w.substr(0, eq)] = w.substr(eq + 1);
  }
  auto it = role_table().find(argv[2]);
  if (it == role_table().end()) {
    std::fprintf(stderr, "shmkit-bench: unknown child role %s\n", argv[2]);
    return 2;
  }
  if (a.count("cpu") != 0) pin_to_cpu(static_cast<int>(arg_u64(a, "cpu")), static_cast<int>(arg_u64(a, "cpus", 1)));
  try {
    return it->second(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmkit-bench child %s: %s\n", argv[2], e.what());
    return 1;
  }
}

// ---- Control block ----

void Control::reset() {
  ready.store(0);
  stop.store(0);
  line.store(0);
  futex_ping.store(0);
  futex_pong.store(0);
  start_ns.store(0);
  for (auto& c : child) {
    c.end_ns.store(0);
    c.received.store(0);
    c.lost.store(0);
    c.errors.store(0);
    c.finished.store(0);
  }
}

long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t val) {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, val, nullptr, nullptr, 0);
}

void futex_wait_change(std::atomic<std::uint32_t>& word, std::uint32_t old) {
  while (word.load(std::memory_order_acquire) == old) futex(word, FUTEX_WAIT, old);
}

void futex_store_wake_all(std::atomic<std::uint32_t>& word, std::uint32_t value) {
  word.store(value, std::memory_order_release);
  futex(word, FUTEX_WAKE, INT_MAX);
}

ControlMap ControlMap::create(const Settings& s) {
  const std::string name = "/" + s.tag + "-ctl";
  ::shm_unlink(name.c_str());
  const int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) throw std::runtime_error("shm_open " + name + ": " + std::strerror(errno));
  if (::ftruncate(fd, sizeof(Control)) != 0) {
    ::close(fd);
    throw std::runtime_error("ftruncate control block");
  }
  void* p = ::mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw std::runtime_error("mmap control block");
  auto* c = ::new (p) Control{};
  return ControlMap(c, name, true);
}

ControlMap ControlMap::open(const std::string& name) {
  const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) throw std::runtime_error("shm_open " + name + ": " + std::strerror(errno));
  void* p = ::mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw std::runtime_error("mmap control block");
  return ControlMap(static_cast<Control*>(p), name, false);
}

ControlMap::ControlMap(ControlMap&& o) noexcept : ctl_(o.ctl_), name_(std::move(o.name_)), owner_(o.owner_) {
  o.ctl_ = nullptr;
  o.owner_ = false;
}

ControlMap::~ControlMap() {
  if (ctl_ != nullptr) ::munmap(ctl_, sizeof(Control));
  if (owner_) ::shm_unlink(name_.c_str());
}

void await_ready(Control& ctl, std::uint32_t n, std::vector<Child*> children) {
  const std::int64_t deadline = now_ns() + 20'000'000'000;
  while (ctl.ready.load(std::memory_order_acquire) < n) {
    for (Child* c : children)
      if (!c->running()) throw std::runtime_error("a child exited during set-up");
    if (now_ns() > deadline) throw std::runtime_error("children did not get ready in 20 s");
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

bool spin_until(const std::function<bool()>& cond, double timeout_s) {
  const std::int64_t deadline = now_ns() + static_cast<std::int64_t>(timeout_s * 1e9);
  for (std::uint32_t i = 1;; ++i) {
    if (cond()) return true;
    if (i % 4096 == 0 && now_ns() > deadline) return false;
  }
}

// ---- Cases and rounds ----

void sample_batch(const Settings& s, std::vector<double>& out, const std::function<void()>& round_trip) {
  // Warm-up: caches, TLBs, page faults, branch predictors, the CPUs leaving idle states.
  const std::int64_t warm_end = now_ns() + (s.quick ? 5'000'000 : 20'000'000);
  for (int i = 0; i < 50 || now_ns() < warm_end; ++i) round_trip();
  const std::uint64_t n = s.latency_samples / static_cast<std::uint64_t>(s.repeats);
  const std::int64_t end = now_ns() + static_cast<std::int64_t>(s.case_seconds * 1e9) / s.repeats;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t t0 = Ticks::now();
    round_trip();
    const std::uint64_t t1 = Ticks::now();
    out.push_back(Ticks::to_ns(t1 - t0) / 2);
    if ((i & 63) == 63 && now_ns() > end) break;
  }
}

void run_rounds(const Settings& s, Cases& cases, Results& out) {
  std::vector<std::vector<double>> samples(cases.latency.size());
  std::vector<std::vector<Repeat>> reps(cases.stream.size());
  for (int round = 0; round < s.repeats; ++round) {
    for (std::size_t i = 0; i < cases.latency.size(); ++i) {
      if (s.verbose) std::fprintf(stderr, "\n  round %d %s", round, cases.latency[i].result.id.c_str());
      cases.latency[i].batch(s, cases.latency[i].result, samples[i]);
    }
    for (std::size_t i = 0; i < cases.stream.size(); ++i) {
      if (s.verbose) std::fprintf(stderr, "\n  round %d %s", round, cases.stream[i].result.id.c_str());
      reps[i].push_back(cases.stream[i].repeat(s, cases.stream[i].result));
    }
  }
  for (std::size_t i = 0; i < cases.latency.size(); ++i) {
    Result& r = cases.latency[i].result;
    r.metric = Metric::latency;
    r.latency = summarize(samples[i]);
    out.add(std::move(r));
  }
  for (std::size_t i = 0; i < cases.stream.size(); ++i) {
    Result& r = cases.stream[i].result;
    fill_throughput(r, reps[i]);
    out.add(std::move(r));
  }
  for (auto& r : cases.skipped) out.add(std::move(r));
}

void fill_throughput(Result& r, const std::vector<Repeat>& reps) {
  r.metric = Metric::throughput;
  for (const auto& rep : reps) {
    r.repeat_msgs_per_s.push_back(rep.seconds > 0 ? static_cast<double>(rep.frames) / rep.seconds : 0);
    r.frames += rep.frames;
    r.lost += rep.lost;
  }
  r.msgs_per_s = median_of(r.repeat_msgs_per_s);
  r.bytes_per_s = r.msgs_per_s * static_cast<double>(r.size);
}

}  // namespace shmkit::bench
