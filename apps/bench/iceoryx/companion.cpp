// shmkit-bench-iceoryx: iceoryx 2.0 measured the way shmkit-bench measures shmkit.
//  - latency/iceoryx/busy/64: ping-pong of 64-byte samples between two processes that
//    busy-poll take(); one-way = half the round trip;
//  - throughput/iceoryx/64: lossless streaming (publisher waits for the subscriber, subscriber
//    queue blocks the producer), loan + memcpy of 64 B per sample, the subscriber copies out;
//  - throughput/iceoryx/64/r2: the same with two subscribers (each sample written once, every
//    subscriber gets it; the publisher waits for the slower): the figure is the slower's rate;
//  - throughput/iceoryx/loan/1M: zero-copy 1 MiB samples, written in place by the publisher and
//    read in place (every word) by the subscriber.
// Prints one line per case: "<id> key=value ...". Peers are this program re-executed with
// --peer. Needs a running iox-roudi (shmkit-bench starts one).
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "../read_in_place.hpp"
#include <vector>

#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace {

struct Options {
  bool quick = false;
  int cpus = 1;
  double seconds = 1.0;         // latency sampling budget
  double repeat_seconds = 0.25;
  int repeats = 5;
  std::uint64_t samples = 200000;
  std::string only;          // latency, rate64, rate64r2 or loan1M: one case (shmkit-bench runs one per round)
  std::string samples_file;  // latency: also write the raw one-way samples (doubles, ns) here
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double g_ns_per_tick = 1.0;
std::uint64_t ticks() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(now_ns());
#endif
}
void calibrate() {
  const std::int64_t t0 = now_ns();
  const std::uint64_t c0 = ticks();
  while (now_ns() - t0 < 20'000'000) {
  }
  g_ns_per_tick = static_cast<double>(now_ns() - t0) / static_cast<double>(ticks() - c0);
}

void pin(int cpu, int cpus) {
  if (cpus < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu % cpus), &set);
  (void)sched_setaffinity(0, sizeof set, &set);
}

void init_runtime(const std::string& role) {
  const std::string name = "sbi-" + role + "-" + std::to_string(::getpid());
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
}

iox::capro::ServiceDescription service(const std::string& instance, const std::string& event) {
  return {"shmkitbench", iox::capro::IdString_t(iox::cxx::TruncateToCapacity, instance.c_str()),
          iox::capro::IdString_t(iox::cxx::TruncateToCapacity, event.c_str())};
}

iox::popo::PublisherOptions pub_options(bool lossless) {
  iox::popo::PublisherOptions o;
  if (lossless) o.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  return o;
}

iox::popo::SubscriberOptions sub_options(bool lossless, std::uint64_t size) {
  iox::popo::SubscriberOptions o;
  // The default RouDi pools hold ten 4 MiB chunks (where 1 MiB samples land): keep few queued.
  o.queueCapacity = size >= (1u << 20) ? 4 : 256;
  if (lossless) o.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  return o;
}

void* loan_spin(iox::popo::UntypedPublisher& p, std::uint32_t size) {
  for (;;) {
    auto r = p.loan(size);
    if (!r.has_error()) return r.value();
    std::this_thread::yield();  // out of chunks: the subscriber still holds them
  }
}

const void* take_spin(iox::popo::UntypedSubscriber& s, std::int64_t deadline) {
  for (std::uint32_t i = 0;; ++i) {
    auto r = s.take();
    if (!r.has_error()) return r.value();
    if ((i & 1023) == 0 && now_ns() > deadline) return nullptr;
  }
}

// take_spin for a subscriber that shares a CPU: spins 20 us (as shmkit's spin_then_block
// readers do in the same situation), then sleeps in the WaitSet until data arrives.
const void* take_spin_then_wait(iox::popo::UntypedSubscriber& s, iox::popo::WaitSet<>& ws, std::int64_t deadline) {
  for (;;) {
    const std::int64_t spin_end = now_ns() + 20'000;
    for (std::uint32_t i = 0;; ++i) {
      auto r = s.take();
      if (!r.has_error()) return r.value();
      if ((i & 63) == 63 && now_ns() > spin_end) break;
    }
    if (now_ns() > deadline) return nullptr;
    (void)ws.timedWait(iox::units::Duration::fromMilliseconds(100));
  }
}

// ---- peers ----

int peer(int argc, char** argv) {
  // --peer <echo|sink> <instance> <size> <loan:0|1> <lossless:0|1> <report fd> <cpu> <cpus> [spin]
  if (argc < 10) return 2;
  const bool spin_then_wait = argc > 10 && std::string(argv[10]) == "spin";
  const std::string role = argv[2], inst = argv[3];
  const auto size = static_cast<std::uint32_t>(std::stoul(argv[4]));
  const bool loan = std::string(argv[5]) == "1", lossless = std::string(argv[6]) == "1";
  const int report = std::stoi(argv[7]);
  pin(std::stoi(argv[8]), std::stoi(argv[9]));
  init_runtime(role);
  iox::popo::UntypedSubscriber in(service(inst, "ping"), sub_options(lossless, size));
  std::vector<std::byte> buf(size);
  if (role == "echo") {
    iox::popo::UntypedPublisher out(service(inst, "pong"), pub_options(lossless));
    for (;;) {
      const void* p = take_spin(in, now_ns() + 30'000'000'000);
      if (p == nullptr) return 1;
      const bool last = static_cast<const unsigned char*>(p)[0] == 1;
      void* q = loan_spin(out, size);
      std::memcpy(q, p, size);
      in.release(p);
      out.publish(q);
      if (last) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the parent take it
        return 0;
      }
    }
  }
  // Subscribed (RouDi connected us to the publisher): from now on no sample passes us by.
  const std::int64_t subscribe_deadline = now_ns() + 10'000'000'000;
  while (in.getSubscriptionState() != iox::SubscribeState::SUBSCRIBED) {
    if (now_ns() > subscribe_deadline) return 1;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  std::optional<iox::popo::WaitSet<>> ws;
  if (spin_then_wait) {
    ws.emplace();
    if (ws->attachState(in, iox::popo::SubscriberState::HAS_DATA).has_error()) return 1;
  }
  // Ready only now: the WaitSet's set-up (a request to RouDi) is not part of the timed run.
  if (::write(report, "r", 1) != 1) return 1;
  std::uint64_t n = 0, x = 0;
  for (;;) {
    const std::int64_t deadline = now_ns() + 30'000'000'000;
    const void* p = ws ? take_spin_then_wait(in, *ws, deadline) : take_spin(in, deadline);
    if (p == nullptr) return 1;
    const auto* b = static_cast<const unsigned char*>(p);
    const bool last = b[0] == 1;
    if (loan) {
      x ^= shmkit::bench::read_in_place(b, size);
    } else {
      std::memcpy(buf.data(), p, size);
    }
    in.release(p);
    if (last) break;
    ++n;
  }
  asm volatile("" : : "r"(x));
  char line[128];
  const int len = std::snprintf(line, sizeof line, "%llu %lld\n", static_cast<unsigned long long>(n),
                                static_cast<long long>(now_ns()));
  if (::write(report, line, static_cast<std::size_t>(len)) != len) return 1;
  return 0;
}

pid_t spawn_peer(const char* self, const std::string& role, const std::string& inst, std::uint32_t size, bool loan,
                 bool lossless, int report_fd, const Options& o, bool spin_then_wait = false, int cpu = 1) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    (void)::fcntl(report_fd, F_SETFD, 0);  // the one pipe end the peer keeps across exec
    const std::string a[] = {self, "--peer", role, inst, std::to_string(size), loan ? "1" : "0",
                             lossless ? "1" : "0", std::to_string(report_fd), std::to_string(cpu), std::to_string(o.cpus),
                             spin_then_wait ? "spin" : "busy"};
    std::vector<char*> argv;
    for (const auto& s : a) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    ::execv(self, argv.data());
    ::_exit(127);
  }
  return pid;
}

bool join(pid_t pid) {
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// ---- cases ----

void latency(const char* self, const Options& o) {
  const std::string inst = "lat" + std::to_string(::getpid());
  iox::popo::UntypedPublisher ping(service(inst, "ping"), pub_options(false));
  iox::popo::UntypedSubscriber pong(service(inst, "pong"), sub_options(false, 64));
  const pid_t child = spawn_peer(self, "echo", inst, 64, false, false, 1, o);
  auto round_trip = [&](unsigned char flag, std::int64_t timeout_ns) {
    void* p = loan_spin(ping, 64);
    std::memset(p, 0, 64);
    static_cast<unsigned char*>(p)[0] = flag;
    ping.publish(p);
    const void* q = take_spin(pong, now_ns() + timeout_ns);
    if (q != nullptr) pong.release(q);
    return q != nullptr;
  };
  // Until both sides are connected (RouDi matches them asynchronously) pings may go nowhere.
  const std::int64_t connect_deadline = now_ns() + 10'000'000'000;
  while (!round_trip(0, 50'000'000))
    if (now_ns() > connect_deadline) {
      std::printf("# iceoryx latency: peer never answered\n");
      return;
    }
  const std::int64_t warm_end = now_ns() + (o.quick ? 10'000'000 : 50'000'000);
  while (now_ns() < warm_end) round_trip(0, 5'000'000'000);
  std::vector<double> samples;
  const std::int64_t end = now_ns() + static_cast<std::int64_t>(o.seconds * 1e9);
  for (std::uint64_t i = 0; i < o.samples; ++i) {
    const std::uint64_t t0 = ticks();
    if (!round_trip(0, 5'000'000'000)) break;
    samples.push_back(static_cast<double>(ticks() - t0) * g_ns_per_tick / 2);
    if ((i & 63) == 63 && now_ns() > end) break;
  }
  round_trip(1, 5'000'000'000);
  join(child);
  if (samples.empty()) return;
  if (!o.samples_file.empty()) {
    // Raw samples, so that shmkit-bench pools them across rounds like its own cases.
    if (FILE* f = std::fopen(o.samples_file.c_str(), "wb")) {
      std::fwrite(samples.data(), sizeof(double), samples.size(), f);
      std::fclose(f);
    }
  }
  std::sort(samples.begin(), samples.end());
  const auto at = [&](double q) { return samples[std::min(samples.size() - 1, static_cast<std::size_t>(q * static_cast<double>(samples.size())))]; };
  std::printf("latency/iceoryx/busy/64 label=busy-poll_take size=64 median_ns=%.1f p99_ns=%.1f max_ns=%.1f samples=%zu\n",
              at(0.5), at(0.99), samples.back(), samples.size());
}

// `readers` subscribers (processes), each sample written once; the figure is the slowest's.
void throughput(const char* self, const Options& o, const char* id, const char* label, std::uint32_t size, bool loan,
                int readers = 1) {
  std::string line = std::string(id) + " label=" + label + " size=" + std::to_string(size);
  std::vector<std::byte> src(size, std::byte{0x42});
  src[0] = std::byte{0};
  for (int rep = 0; rep < o.repeats; ++rep) {
    const std::string inst = "tp" + std::to_string(::getpid()) + "x" + std::to_string(rep);
    iox::popo::UntypedPublisher pub(service(inst, "ping"), pub_options(true));
    std::vector<int> reports;
    std::vector<pid_t> children;
    // On failure: no sink left running (each holds our stdout, shmkit-bench's pipe) and no fd.
    auto abandon = [&](const char* why) {
      std::printf("# iceoryx throughput: %s\n", why);
      for (const pid_t c : children) ::kill(c, SIGKILL);
      for (const pid_t c : children) join(c);
      for (const int fd : reports) ::close(fd);
    };
    for (int i = 0; i < readers; ++i) {
      int fds[2];
      // Close-on-exec: a later sink does not inherit an earlier one's pipe (spawn_peer clears
      // the flag on the sink's own end).
      if (::pipe2(fds, O_CLOEXEC) != 0) return abandon("no pipe");
      // Placed and waiting as shmkit-bench's readers are: subscriber i on CPU (1 + i) mod CPUs,
      // and where they would share a CPU they spin briefly and then sleep.
      children.push_back(spawn_peer(self, "sink", inst, size, loan, true, fds[1], o, readers + 1 > o.cpus, 1 + i));
      ::close(fds[1]);
      reports.push_back(fds[0]);
    }
    // Each sink says "r" once subscribed: every one of them is connected before the clock starts.
    for (const int fd : reports) {
      char ready = 0;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 15'000) != 1 || ::read(fd, &ready, 1) != 1 || ready != 'r')
        return abandon("a subscriber never connected");
    }
    const std::int64_t t0 = now_ns();
    const std::int64_t end = t0 + static_cast<std::int64_t>(o.repeat_seconds * 1e9);
    std::uint64_t sent = 0;
    const std::uint64_t check_every = size >= 4096 ? 1 : 64;
    do {
      void* p = loan_spin(pub, size);
      if (loan) {
        std::memset(p, static_cast<int>(sent & 0xff), size);
        static_cast<unsigned char*>(p)[0] = 0;
      } else {
        std::memcpy(p, src.data(), size);
      }
      pub.publish(p);
      ++sent;
    } while (sent % check_every != 0 || now_ns() < end);
    void* p = loan_spin(pub, size);
    std::memset(p, 1, size);  // the end marker
    pub.publish(p);
    unsigned long long got = ~0ULL;
    long long end_ns = 0;
    bool ok = true;
    for (std::size_t i = 0; i < reports.size(); ++i) {
      char buf[128] = {};
      const ssize_t n = ::read(reports[i], buf, sizeof buf - 1);
      ::close(reports[i]);
      ok = join(children[i]) && ok;
      unsigned long long one = 0;
      long long one_end = 0;
      if (n <= 0 || std::sscanf(buf, "%llu %lld", &one, &one_end) != 2) ok = false;
      got = std::min(got, one);
      end_ns = std::max(end_ns, one_end);
    }
    if (!ok) return;
    char rep_s[96];
    std::snprintf(rep_s, sizeof rep_s, " repeat=%llu:%llu:%.6f", got, static_cast<unsigned long long>(sent - std::min<std::uint64_t>(sent, got)),
                  static_cast<double>(end_ns - t0) / 1e9);
    line += rep_s;
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--peer") return peer(argc, argv);
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--quick") o.quick = true;
    else if (a == "--cpus") o.cpus = std::stoi(next());
    else if (a == "--seconds") o.seconds = std::stod(next());
    else if (a == "--repeat-seconds") o.repeat_seconds = std::stod(next());
    else if (a == "--repeats") o.repeats = std::stoi(next());
    else if (a == "--samples") o.samples = std::stoull(next());
    else if (a == "--only") o.only = next();
    else if (a == "--samples-file") o.samples_file = next();
  }
  calibrate();
  pin(0, o.cpus);
  init_runtime("main");
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = '\0';
  if (o.only.empty() || o.only == "latency") latency(self, o);
  std::fflush(stdout);
  if (o.only.empty() || o.only == "rate64")
    throughput(self, o, "throughput/iceoryx/64", "loan+memcpy,_lossless", 64, false);
  if (o.only.empty() || o.only == "rate64r2")
    throughput(self, o, "throughput/iceoryx/64/r2", "loan+memcpy,_lossless,_2_subscribers", 64, false, 2);
  if (o.only.empty() || o.only == "loan1M")
    throughput(self, o, "throughput/iceoryx/loan/1M", "zero-copy_loan,_lossless", 1u << 20, true);
  return 0;
}
