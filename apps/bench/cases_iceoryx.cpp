// Eclipse iceoryx, measured beside shmkit by a companion program (iceoryx/companion.cpp, built
// only when CMake finds iceoryx). iceoryx needs its broker daemon: when iox-roudi is on PATH
// and none is running, the bench starts one for the companion's run and stops it afterwards.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <sstream>
#include <thread>

#include "cases.hpp"

namespace shmkit::bench {

namespace {

const char* const kIds[] = {"latency/iceoryx/busy/64", "throughput/iceoryx/64", "throughput/iceoryx/loan/1M"};

void add_skipped(Results& out, const Settings& s, const std::string& why) {
  for (const char* id : kIds) {
    if (!selected(s, id)) continue;
    const bool lat = std::string(id).rfind("latency", 0) == 0;
    Result r{.id = id, .group = "iceoryx", .metric = lat ? Metric::latency : Metric::throughput,
             .label = "iceoryx 2.0", .skipped = true, .note = why};
    out.add(r);
  }
}

bool on_path(const std::string& prog) {
  return std::system(("command -v " + prog + " >/dev/null 2>&1").c_str()) == 0;
}

// Parses the companion's lines: "<id> key=value key=value ...".
void parse_line(const std::string& line, Results& out) {
  std::istringstream in(line);
  std::string id;
  in >> id;
  if (id.rfind("latency/iceoryx", 0) != 0 && id.rfind("throughput/iceoryx", 0) != 0) return;
  Result r{.id = id, .group = "iceoryx", .label = "iceoryx 2.0"};
  r.metric = id.rfind("latency", 0) == 0 ? Metric::latency : Metric::throughput;
  std::vector<Repeat> reps;
  for (std::string kv; in >> kv;) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "label") {
      for (char& c : r.label = "iceoryx 2.0, " + v) if (c == '_') c = ' ';
    }
    else if (k == "size") r.size = std::stoull(v);
    else if (k == "median_ns") r.latency.median_ns = std::stod(v);
    else if (k == "p99_ns") r.latency.p99_ns = std::stod(v);
    else if (k == "max_ns") r.latency.max_ns = std::stod(v);
    else if (k == "samples") r.latency.samples = std::stoull(v);
    else if (k == "repeat") {  // frames:lost:seconds
      Repeat rep;
      std::sscanf(v.c_str(), "%lu:%lu:%lf", &rep.frames, &rep.lost, &rep.seconds);
      reps.push_back(rep);
    }
  }
  if (r.metric == Metric::throughput) {
    r.readers = 1;
    r.lossless = true;
    fill_throughput(r, reps);
  }
  out.add(r);
}

}  // namespace

void run_iceoryx(const Settings& s, Results& out) {
  bool any = false;
  for (const char* id : kIds) any = any || selected(s, id);
  if (!any) return;
  if (s.iceoryx_bin.empty()) return add_skipped(out, s, "companion not built (iceoryx not found at configure time)");
  if (!on_path("iox-roudi")) return add_skipped(out, s, "iox-roudi not on PATH");

  // Start a RouDi of our own unless one is up (a second one would refuse to start anyway).
  pid_t roudi = -1;
  if (std::system("pgrep -x iox-roudi >/dev/null 2>&1") != 0) {
    std::fflush(nullptr);
    roudi = ::fork();
    if (roudi == 0) {
      std::freopen("/dev/null", "w", stdout);
      std::freopen("/dev/null", "w", stderr);
      ::execlp("iox-roudi", "iox-roudi", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const std::string cmd = s.iceoryx_bin + (s.quick ? " --quick" : "") + " --cpus " + std::to_string(s.cpus) +
                          " --seconds " + std::to_string(s.case_seconds) + " --repeat-seconds " +
                          std::to_string(s.repeat_seconds) + " --repeats " + std::to_string(s.repeats) +
                          " --samples " + std::to_string(s.latency_samples) + " 2>&1";
  std::fflush(nullptr);
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string all;
  const std::size_t before = out.all().size();
  if (p != nullptr) {
    std::array<char, 4096> line{};
    while (std::fgets(line.data(), line.size(), p) != nullptr) {
      all += line.data();
      std::string l(line.data());
      if (!l.empty() && l.back() == '\n') l.pop_back();
      parse_line(l, out);
    }
    ::pclose(p);
  }
  if (roudi > 0) {
    ::kill(roudi, SIGINT);  // RouDi cleans up its shared memory on SIGINT
    int st = 0;
    ::waitpid(roudi, &st, 0);
  }
  if (out.all().size() == before) {
    std::fprintf(stderr, "\nshmkit-bench: the iceoryx companion produced no results:\n%s\n", all.c_str());
    add_skipped(out, s, "companion failed (see stderr)");
  }
}

}  // namespace shmkit::bench
