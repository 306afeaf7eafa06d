// System calls per publish with no reader blocked. Two witnesses:
//  - WriterStats::wake_calls, the writer's own count of wake-ups it made (in the channel cases'
//    JSON as wake_calls_per_frame);
//  - strace -c around a child that only publishes: run it with a small and a large frame count
//    and divide the difference in system calls by the difference in frames, so that set-up
//    (mapping the segment, creating the channel) cancels out.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "cases.hpp"
#include "channel_endpoints.hpp"

namespace shmkit::bench {

namespace {

// Child: publishes `count` 64-byte frames on a broadcast channel that no reader is blocked on
// (the waiter count stays zero, as with readers that poll or are busy elsewhere).
int publish_only(const Args& a) {
  const std::string name = arg(a, "segment");
  Segment::remove(name);
  std::uint64_t published = 0, wakes = 0;
  {
    Segment seg = Segment::create(name, 4u << 20);
    auto w = BroadcastWriter::create(seg, "data", {.slots = 1024, .max_frame = 64});
    std::vector<std::byte> frame(64, std::byte{7});
    const std::uint64_t n = arg_u64(a, "count");
    for (std::uint64_t i = 0; i < n; ++i) w.publish(frame);
    published = w.stats().published;
    wakes = w.stats().wake_calls;
  }
  Segment::remove(name);
  return published == arg_u64(a, "count") && wakes == 0 ? 0 : 1;
}

// The "total" line of strace -c: "100.00  0.000123  1  123  5 total" -> 123.
long strace_total_calls(const std::string& path) {
  std::ifstream in(path);
  std::string line, last_total;
  while (std::getline(in, line))
    if (line.find(" total") != std::string::npos) last_total = line;
  std::istringstream words(last_total);
  std::vector<std::string> w;
  for (std::string x; words >> x;) w.push_back(x);
  if (w.size() < 5) return -1;
  return std::stol(w[3]);
}

// Runs `strace -f -c` on a publish-only child; -1 if strace is missing or not permitted.
long traced_calls(const Settings& s, std::uint64_t frames) {
  const std::string out = "/tmp/" + s.tag + "-strace.txt";
  return run_strace({"strace", "-f", "-c", "-o", out, s.self, "--child", "publish-only",
                     "count=" + std::to_string(frames), "segment=" + s.tag + "-sys"},
                    out);
}

}  // namespace

long run_strace(std::vector<std::string> words, const std::string& out) {
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen("/dev/null", "w", stderr);
    ::execvp("strace", argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  const long calls = strace_total_calls(out);
  ::unlink(out.c_str());
  return calls;
}

void register_syscall_roles() { register_role("publish-only", publish_only); }

void run_syscalls(const Settings& s, Results& out) {
  Result r{.id = "syscalls/publish/strace", .group = "syscalls", .metric = Metric::time,
           .label = "syscalls per publish, no reader blocked (strace -c)", .size = 64};
  if (!selected(s, r.id)) return;
  const std::uint64_t small = 1000, large = s.quick ? 101'000 : 1'001'000;
  const long a = traced_calls(s, small), b = traced_calls(s, large);
  if (a < 0 || b < 0) {
    r.skipped = true;
    r.note = "strace not available or not permitted here; see wake_calls_per_frame";
  } else {
    r.extra["syscalls_small_run"] = static_cast<double>(a);
    r.extra["syscalls_large_run"] = static_cast<double>(b);
    r.extra["syscalls_per_frame"] = static_cast<double>(b - a) / static_cast<double>(large - small);
    r.note = std::to_string(b - a) + " more syscalls for " + std::to_string(large - small) + " more frames";
  }
  out.add(r);
}

}  // namespace shmkit::bench
