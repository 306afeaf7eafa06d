// shmkit-bench: measures shmkit's channels and shared state against the physical floor and
// the alternatives (pipes, Unix sockets, Boost message_queue, futex, a naive ring, iceoryx),
// all in one run on one machine, and computes the goal ratios from that run. See
// docs/benchmarks.md.
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "../common/cli.hpp"
#include "cases.hpp"
#include "report.hpp"

namespace po = boost::program_options;
using namespace shmkit::bench;

namespace shmkit::bench {

std::string size_name(std::uint64_t b) {
  if (b >= (1u << 30) && b % (1u << 30) == 0) return std::to_string(b >> 30) + "G";
  if (b >= (1u << 20) && b % (1u << 20) == 0) return std::to_string(b >> 20) + "M";
  if (b >= 1024 && b % 1024 == 0) return std::to_string(b >> 10) + "K";
  return std::to_string(b);
}

bool selected(const Settings& s, const std::string& id) {
  if (s.only.empty()) return true;
  // A comma-separated list of substrings; a case runs if its id contains any of them.
  std::size_t pos = 0;
  for (;;) {
    const std::size_t comma = s.only.find(',', pos);
    const std::string part = s.only.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!part.empty() && id.find(part) != std::string::npos) return true;
    if (comma == std::string::npos) return false;
    pos = comma + 1;
  }
}

}  // namespace shmkit::bench

namespace {

void register_all_roles() {
  register_floor_roles();
  register_ipc_roles();
  register_ring_roles();
  register_channel_roles();
  register_syscall_roles();
  register_eventfd_roles();
  register_state_roles();
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

std::string self_path(const char* argv0) {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
  return argv0;
}

}  // namespace

int main(int argc, char** argv) {
  register_all_roles();
  if (argc >= 2 && std::string(argv[1]) == "--child") return child_main(argc, argv);

  shmkit::apps::AppSpec spec;
  spec.name = "shmkit-bench";
  spec.summary = "benchmark shmkit channels and shared state against the floor and the alternatives";
  spec.usage =
      "  shmkit-bench                      full run (under 10 minutes on 2 cores)\n"
      "  shmkit-bench --quick --json q.json   smoke run (under a minute)\n"
      "  shmkit-bench --only latency/       only the cases whose id contains 'latency/'";
  spec.options.add_options()
      ("quick", "short run: fewer samples and repeats (a smoke test, not for publishing)")
      ("json", po::value<std::string>(), "also write the results and goals as JSON to this file")
      ("only", po::value<std::string>()->default_value(""), "run only cases whose id contains one of these comma-separated texts")
      ("repeats", po::value<int>(), "throughput repeats / latency batches (default 5, quick 2)")
      ("no-iceoryx", "skip the iceoryx companion even when it is built")
      ("verbose,v", "print each case as it starts");
  return shmkit::apps::run_app(argc, argv, spec, [&](const po::variables_map& vm) {
    Settings s;
    s.quick = vm.count("quick") != 0;
    s.only = vm["only"].as<std::string>();
    s.verbose = vm.count("verbose") != 0;
    s.cpus = usable_cpus();
    s.self = self_path(argv[0]);
    s.tag = "shmkit-bench-" + std::to_string(::getpid());
    if (s.quick) {
      s.case_seconds = 0.1;
      s.repeat_seconds = 0.02;
      s.repeats = 2;
      s.latency_samples = 20'000;
    } else {
      s.case_seconds = 1.5;
      s.repeat_seconds = 0.25;
      s.repeats = 5;
      s.latency_samples = 300'000;
    }
    if (vm.count("repeats") != 0) s.repeats = std::max(1, vm["repeats"].as<int>());
    if (vm.count("no-iceoryx") == 0) {
      const std::string dir = s.self.substr(0, s.self.rfind('/') + 1);
      if (::access((dir + "shmkit-bench-iceoryx").c_str(), X_OK) == 0) s.iceoryx_bin = dir + "shmkit-bench-iceoryx";
    }

    Machine m = describe_machine();
    m.cpus = s.cpus;
    const std::int64_t t0 = now_ns();
    Ticks::calibrate();
    // The parent is participant 0 of every case: it stays on CPU 0, its peers go elsewhere.
    pin_to_cpu(0, s.cpus);

    // A case that throws leaves its shared objects behind: remove everything under our tag
    // (segments, rings, control blocks, message queues live in /dev/shm on Linux).
    struct Cleanup {
      std::string tag;
      ~Cleanup() {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec))
          if (e.path().filename().string().rfind(tag + "-", 0) == 0) std::filesystem::remove(e.path(), ec);
      }
    } cleanup{s.tag};

    Results results;
    {
      // Latency and throughput cases run in interleaved rounds (harness.hpp, run_rounds).
      Cases cases;
      add_floor_cases(s, cases);
      add_ipc_cases(s, cases);
      add_ring_cases(s, cases);
      add_channel_cases(s, cases);
      add_eventfd_cases(s, cases);
      add_iceoryx_cases(s, cases);
      bool any_iceoryx = false;
      for (const auto& c : cases.latency) any_iceoryx = any_iceoryx || c.result.group == "iceoryx";
      for (const auto& c : cases.stream) any_iceoryx = any_iceoryx || c.result.group == "iceoryx";
      std::optional<IceoryxSession> iceoryx;  // RouDi, for the rounds' iceoryx cases
      if (any_iceoryx) iceoryx.emplace(s);
      const std::int64_t f0 = now_ns();
      std::fprintf(stderr, "shmkit-bench: %zu latency and %zu throughput cases in %d rounds...",
                   cases.latency.size(), cases.stream.size(), s.repeats);
      run_rounds(s, cases, results);
      std::fprintf(stderr, " %.1f s\n", static_cast<double>(now_ns() - f0) / 1e9);
    }
    struct Family {
      const char* name;
      void (*run)(const Settings&, Results&);
    };
    const Family families[] = {{"syscalls", run_syscalls}, {"eventfd publish", run_eventfd_publish}, {"named state", run_state}};
    for (const auto& f : families) {
      const std::int64_t f0 = now_ns();
      std::fprintf(stderr, "shmkit-bench: %s...", f.name);
      f.run(s, results);
      std::fprintf(stderr, " %.1f s\n", static_cast<double>(now_ns() - f0) / 1e9);
    }

    m.seconds = static_cast<double>(now_ns() - t0) / 1e9;
    ::getloadavg(m.load_end, 3);
    const auto goals = evaluate_goals(results);
    print_table(results, goals, m);
    if (vm.count("json") != 0) {
      std::ofstream out(vm["json"].as<std::string>());
      out << to_json(results, goals, m, s);
      if (!out) throw std::runtime_error("cannot write " + vm["json"].as<std::string>());
    }
    return 0;
  });
}
