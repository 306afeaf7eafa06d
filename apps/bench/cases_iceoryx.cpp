// Eclipse iceoryx, measured beside shmkit by a companion program (iceoryx/companion.cpp, built
// only when CMake finds iceoryx). Its four cases take part in the interleaved rounds like every
// other case: each round runs the companion once per case (--only), so iceoryx's figures are
// taken under the same load as shmkit's. iceoryx needs its broker daemon: when iox-roudi is on
// PATH and none is running, IceoryxSession starts one for the rounds and stops it afterwards.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "cases.hpp"

namespace shmkit::bench {

namespace {

bool on_path(const std::string& prog) {
  return std::system(("command -v " + prog + " >/dev/null 2>&1").c_str()) == 0;
}

// Runs the companion with `args`; returns its output (stdout and stderr), or nothing on failure.
bool run_companion(const Settings& s, const std::string& args, std::string& output) {
  const std::string cmd = s.iceoryx_bin + (s.quick ? " --quick" : "") + " --cpus " + std::to_string(s.cpus) + " " +
                          args + " 2>&1";
  std::fflush(nullptr);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return false;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) output += buf.data();
  return ::pclose(p) == 0;
}

void fail(Result& r, const std::string& output) {
  if (r.skipped) return;
  r.skipped = true;
  r.note = "companion failed";
  std::fprintf(stderr, "\nshmkit-bench: the iceoryx companion failed (%s):\n%s\n", r.id.c_str(), output.c_str());
}

void latency_batch(const Settings& s, Result& r, std::vector<double>& samples) {
  if (r.skipped) return;
  const std::string file = "/tmp/" + s.tag + "-iox-samples";
  std::string out;
  const bool ok = run_companion(s, "--only latency --seconds " + std::to_string(s.case_seconds / s.repeats) +
                                       " --samples " + std::to_string(s.latency_samples / s.repeats) +
                                       " --samples-file " + file, out);
  FILE* f = ok ? std::fopen(file.c_str(), "rb") : nullptr;
  if (f == nullptr) return fail(r, out);
  double v;
  while (std::fread(&v, sizeof v, 1, f) == 1) samples.push_back(v);
  std::fclose(f);
  ::unlink(file.c_str());
}

// One repeat: the companion's "repeat=frames:lost:seconds" field.
Repeat stream_repeat(const Settings& s, Result& r, const std::string& which) {
  if (r.skipped) return {};
  std::string out;
  const bool ok = run_companion(s, "--only " + which + " --repeats 1 --repeat-seconds " + std::to_string(s.repeat_seconds), out);
  const auto at = out.find(" repeat=");
  Repeat rep;
  if (!ok || at == std::string::npos ||
      std::sscanf(out.c_str() + at + 8, "%lu:%lu:%lf", &rep.frames, &rep.lost, &rep.seconds) != 3) {
    fail(r, out);
    return {};
  }
  return rep;
}

}  // namespace

IceoryxSession::IceoryxSession(const Settings& s) {
  if (s.iceoryx_bin.empty() || !on_path("iox-roudi")) return;
  // Start a RouDi of our own unless one is up (a second one would refuse to start anyway).
  if (std::system("pgrep -x iox-roudi >/dev/null 2>&1") == 0) return;
  std::fflush(nullptr);
  roudi_ = ::fork();
  if (roudi_ == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    ::execlp("iox-roudi", "iox-roudi", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
}

IceoryxSession::~IceoryxSession() {
  if (roudi_ <= 0) return;
  ::kill(roudi_, SIGINT);  // RouDi cleans up its shared memory on SIGINT
  int st = 0;
  ::waitpid(roudi_, &st, 0);
}

void add_iceoryx_cases(const Settings& s, Cases& out) {
  std::string why;
  if (s.iceoryx_bin.empty()) why = "companion not built (iceoryx not found at configure time)";
  else if (!on_path("iox-roudi")) why = "iox-roudi not on PATH";

  Result lat{.id = "latency/iceoryx/busy/64", .group = "iceoryx", .metric = Metric::latency,
             .label = "iceoryx 2.0, busy-poll take", .size = 64, .readers = 1};
  Result rate{.id = "throughput/iceoryx/64", .group = "iceoryx", .metric = Metric::throughput,
              .label = "iceoryx 2.0, loan+memcpy, lossless", .size = 64, .readers = 1, .lossless = true};
  Result rate2{.id = "throughput/iceoryx/64/r2", .group = "iceoryx", .metric = Metric::throughput,
               .label = "iceoryx 2.0, loan+memcpy, lossless, 2 subscribers", .size = 64, .readers = 2, .lossless = true};
  Result loan{.id = "throughput/iceoryx/loan/1M", .group = "iceoryx", .metric = Metric::throughput,
              .label = "iceoryx 2.0, zero-copy loan, lossless", .size = 1u << 20, .readers = 1, .lossless = true};
  if (!why.empty()) {
    for (Result* r : {&lat, &rate, &rate2, &loan}) {
      if (!selected(s, r->id)) continue;
      r->skipped = true;
      r->note = why;
      out.skipped.push_back(*r);
    }
    return;
  }
  if (selected(s, lat.id)) out.latency.push_back({lat, latency_batch});
  if (selected(s, rate.id))
    out.stream.push_back({rate, [](const Settings& st, Result& r) { return stream_repeat(st, r, "rate64"); }});
  if (selected(s, rate2.id))
    out.stream.push_back({rate2, [](const Settings& st, Result& r) { return stream_repeat(st, r, "rate64r2"); }});
  if (selected(s, loan.id))
    out.stream.push_back({loan, [](const Settings& st, Result& r) { return stream_repeat(st, r, "loan1M"); }});
}

}  // namespace shmkit::bench
