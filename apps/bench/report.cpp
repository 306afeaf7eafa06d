// Table, goals and JSON (see report.hpp).
#include "report.hpp"

#include <sys/utsname.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>

#include "../common/json_writer.hpp"

namespace shmkit::bench {

namespace {

// The figure a ratio uses: one-way latency or ns per operation (median), or frames/s.
double figure(const Result& r) {
  return r.metric == Metric::throughput ? r.msgs_per_s : r.latency.median_ns;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string fmt_ns(double ns) {
  if (ns <= 0) return "-";
  if (ns < 10'000) return fmt("%.0f ns", ns);
  if (ns < 10'000'000) return fmt("%.1f us", ns / 1e3);
  return fmt("%.1f ms", ns / 1e6);
}

std::string fmt_rate(double r) {
  if (r <= 0) return "-";
  if (r >= 1e6) return fmt("%.2f M/s", r / 1e6);
  if (r >= 1e3) return fmt("%.1f k/s", r / 1e3);
  return fmt("%.0f /s", r);
}

std::string fmt_size(std::uint64_t b) {
  if (b == 0) return "";
  if (b >= (1u << 30) && b % (1u << 30) == 0) return std::to_string(b >> 30) + " GiB";
  if (b >= (1u << 20) && b % (1u << 20) == 0) return std::to_string(b >> 20) + " MiB";
  if (b >= 1024 && b % 1024 == 0) return std::to_string(b >> 10) + " KiB";
  return std::to_string(b) + " B";
}

}  // namespace

std::vector<Goal> evaluate_goals(const Results& res) {
  std::vector<Goal> goals;
  // ratio goal: figure(a) / figure(b) compared with limit.
  auto ratio = [&](std::string id, std::string text, const std::string& a, const std::string& b, double limit,
                   bool at_most, bool info = false) {
    Goal g{std::move(id), std::move(text), 0, limit, at_most, "n/a", false, ""};
    g.informational = info;
    const Result* ra = res.find(a);
    const Result* rb = res.find(b);
    if (ra == nullptr || rb == nullptr || ra->skipped || rb->skipped || figure(*rb) <= 0) {
      g.detail = "not measured: " + std::string(ra == nullptr || ra->skipped ? a : b);
    } else {
      g.value = figure(*ra) / figure(*rb);
      g.status = info ? "info" : (at_most ? g.value <= limit : g.value >= limit) ? "PASS" : "MISS";
      const bool tp = ra->metric == Metric::throughput;
      g.detail = a + " " + (tp ? fmt_rate(figure(*ra)) : fmt_ns(figure(*ra))) + " vs " + b + " " +
                 (tp ? fmt_rate(figure(*rb)) : fmt_ns(figure(*rb)));
    }
    goals.push_back(g);
  };

  const std::string floor = "latency/floor/cacheline";
  ratio("latency-busy", "busy-poll one-way latency, 64 B broadcast <= 1.3x cache-line floor",
        "latency/channel/broadcast/busy/64", floor, 1.3, true);
  ratio("latency-spin", "spin-then-block reader, frame inside the spin window <= 2x floor",
        "latency/channel/broadcast/spin/64", floor, 2.0, true);
  ratio("latency-block", "blocked (asleep) reader <= 1.1x raw futex wake-up",
        "latency/channel/broadcast/block/64", "latency/ipc/futex", 1.1, true);
  ratio("latency-epoll-eventfd", "reader asleep in epoll on the writer's eventfd <= 1.1x raw eventfd ping-pong",
        "latency/channel/broadcast/epoll-eventfd/64", "latency/ipc/eventfd", 1.1, true);
  // Its ceiling: the same eventfd ping-pong with each side in epoll_wait before its read (an
  // event loop's wait costs a system call more per wake-up than a blocking read).
  ratio("latency-epoll-eventfd-ceiling", "info: the ceiling: raw eventfd ping-pong through epoll_wait vs with a blocking read",
        "latency/ipc/eventfd-epoll", "latency/ipc/eventfd", 1.1, true, true);
  ratio("latency-epoll-eventfd-vs-ceiling", "info: reader asleep in epoll on the writer's eventfd vs that ceiling",
        "latency/channel/broadcast/epoll-eventfd/64", "latency/ipc/eventfd-epoll", 1.1, true, true);
  ratio("latency-epoll-vs-thread", "info: epoll on the writer's eventfd vs on the notification thread's fd",
        "latency/channel/broadcast/epoll-eventfd/64", "latency/channel/broadcast/epoll-thread/64", 1.0, true, true);
  // The 64 B rate goals, with publish_batch (16 frames per call: one clock reading and one
  // check for sleepers per batch) and with one publish() per frame.
  for (const char* k : {"queue", "broadcast"}) {
    const std::string id = std::string("throughput/channel/") + k + "/copy+batch16/64/r1";
    ratio(std::string("rate-64-") + k + "-vs-mq", std::string("64 B ") + k + " frames/s (publish_batch of 16) >= 5x message_queue",
          id, "throughput/ipc/mq/64", 5.0, false);
    ratio(std::string("rate-64-") + k + "-vs-ring", std::string("64 B ") + k + " frames/s (publish_batch of 16) >= 2x naive ring",
          id, "throughput/ring/64", 2.0, false);
  }
  for (const char* k : {"queue", "broadcast"}) {
    const std::string id = std::string("throughput/channel/") + k + "/copy/64/r1";
    ratio(std::string("rate-64-") + k + "-single-vs-mq",
          std::string("info: 64 B ") + k + " frames/s, one publish() per frame, vs message_queue", id,
          "throughput/ipc/mq/64", 5.0, false, true);
    ratio(std::string("rate-64-") + k + "-single-vs-ring",
          std::string("64 B ") + k + " frames/s, one publish() per frame, >= 2x naive ring", id,
          "throughput/ring/64", 2.0, false);
  }
  // The ceiling for one-line frames (cases_ring.cpp): its ratio to the ring bounds what any
  // channel that moves a line per frame could show against the ring in this run.
  ratio("ceiling-64-vs-ring", "info: line stream (one line per frame, the ceiling) vs naive ring",
        "throughput/floor/stream/64", "throughput/ring/64", 2.0, false, true);
  // The writer alone (no reader) bounds every 64 B rate: below 2x the ring, no reader can get 2x.
  ratio("writer-64-vs-ring", "info: 64 B broadcast writer with no reader (the writer's ceiling) vs naive ring",
        "throughput/channel/broadcast/writer-alone/64", "throughput/ring/64", 2.0, false, true);
  for (const char* k : {"queue", "broadcast"})
    ratio(std::string("rate-64-") + k + "-vs-ceiling",
          std::string("info: 64 B ") + k + " frames/s (publish_batch of 16) as a share of the line stream's",
          std::string("throughput/channel/") + k + "/copy+batch16/64/r1", "throughput/floor/stream/64", 1.0, false, true);
  // Lossless broadcast: each frame written once for every reader, against one queue reader
  // (the same single-copy path) and against the copy-per-reader it replaces.
  ratio("lossless-64-r2-vs-queue", "64 B lossless broadcast, 2 readers, frames/s >= 0.8x one queue reader's",
        "throughput/channel/lossless/copy/64/r2", "throughput/channel/queue/copy/64/r1", 0.8, false);
  ratio("lossless-64-r2-vs-2queues", "64 B lossless broadcast, 2 readers, frames/s >= 2x two queues fed the same frames",
        "throughput/channel/lossless/copy/64/r2", "throughput/channel/queue-x2/copy/64/r2", 2.0, false);
  ratio("lossless-64-r2-batch-vs-queue", "info: same, publish_batch of 16, vs one queue reader (batches of 16)",
        "throughput/channel/lossless/copy+batch16/64/r2", "throughput/channel/queue/copy+batch16/64/r1", 0.8, false, true);
  ratio("lossless-64-r2-batch-vs-2queues", "info: same, publish_batch of 16, vs two queues (batches of 16)",
        "throughput/channel/lossless/copy+batch16/64/r2", "throughput/channel/queue-x2/copy+batch16/64/r2", 2.0, false,
        true);
  // The ceiling of both lossless goals: the same two readers behind a writer that never waits
  // (lossy broadcast; the slowest reader's delivered frames/s). Where they share CPUs with the
  // writer this, not the writer's copies, sets the rate, and no lossless design can exceed it.
  ratio("lossless-64-r2-ceiling-vs-queue",
        "info: the ceiling: lossy broadcast, 2 readers (slowest reader's frames/s) vs one queue reader's",
        "throughput/channel/broadcast/copy/64/r2", "throughput/channel/queue/copy/64/r1", 0.8, false, true);
  ratio("lossless-64-r2-ceiling-vs-2queues",
        "info: the ceiling: lossy broadcast, 2 readers (slowest reader's frames/s) vs two queues fed the same frames",
        "throughput/channel/broadcast/copy/64/r2", "throughput/channel/queue-x2/copy/64/r2", 2.0, false, true);
  ratio("lossless-64-r2-vs-ceiling", "info: lossless broadcast, 2 readers, as a share of that ceiling",
        "throughput/channel/lossless/copy/64/r2", "throughput/channel/broadcast/copy/64/r2", 1.0, false, true);
  ratio("lossless-64-r2-vs-r1", "info: 64 B lossless broadcast, 2 readers vs 1 (what the second reader costs)",
        "throughput/channel/lossless/copy/64/r2", "throughput/channel/lossless/copy/64/r1", 1.0, false, true);
  // Zero-copy hand-over: a loaned frame's one-way latency should not grow with its size when
  // the reader looks at its first line only.
  ratio("handover-1M-touch", "1 MiB loaned frame, reader touches one line: one-way latency <= 1.5x the 64 B one",
        "latency/handover/loan-touch/1M", "latency/handover/loan-touch/64", 1.5, true);
  ratio("handover-16M-touch", "16 MiB loaned frame, reader touches one line: one-way latency <= 2x the 64 B one",
        "latency/handover/loan-touch/16M", "latency/handover/loan-touch/64", 2.0, true);
  for (const char* size : {"64K", "1M", "16M"})
    ratio(std::string("handover-") + size + "-read-vs-copy",
          std::string("info: ") + size + " hand-over, loan filled and read in full vs copied in and out (latency)",
          std::string("latency/handover/loan-read/") + size, std::string("latency/handover/copy/") + size, 1.0, true,
          true);
  ratio("bw-1M-copy", "1 MiB copy-in/copy-out GB/s >= naive ring (queue)", "throughput/channel/queue/copy/1M/r1",
        "throughput/ring/1M", 1.0, false);
  ratio("bw-1M-loan", "info: 1 MiB zero-copy (loan + read in place) vs naive ring (queue)",
        "throughput/channel/queue/loan/1M/r1", "throughput/ring/1M", 2.0, false, true);
  // The bare in-place transfer bounds the zero-copy goal: a loan can at best match it.
  ratio("bw-1M-inplace-vs-ring", "info: 1 MiB filled and read in place, nothing else (the zero-copy ceiling) vs naive ring",
        "throughput/floor/in-place/1M", "throughput/ring/1M", 2.0, false, true);
  ratio("bw-1M-loan-vs-inplace", "1 MiB zero-copy (queue, loan + full read) >= 0.95x the in-place ceiling",
        "throughput/channel/queue/loan/1M/r1", "throughput/floor/in-place/1M", 0.95, false);
  // Broadcast at 1 MiB: the writer never waits, so these measure how often it laps the reader
  // (lossy by design) more than the channel's bandwidth; shown, not counted.
  ratio("bw-1M-copy-broadcast", "info: 1 MiB copy, broadcast (lossy) vs naive ring",
        "throughput/channel/broadcast/copy/1M/r1", "throughput/ring/1M", 1.0, false, true);
  ratio("bw-1M-loan-broadcast", "info: 1 MiB zero-copy, broadcast (lossy) vs naive ring",
        "throughput/channel/broadcast/loan/1M/r1", "throughput/ring/1M", 2.0, false, true);

  {
    // Zero system calls per publish with no blocked reader: the writers' own counters over
    // every busy-poll run, and strace where it could run.
    Goal g{"syscalls-per-publish", "publishing with no blocked reader: 0 system calls per frame", 0, 0, true, "n/a", false, ""};
    double worst = -1;
    std::string where;
    for (const auto& r : res.all()) {
      if (r.group != "channel" || r.label.find("busy") == std::string::npos) continue;
      auto it = r.extra.find("wake_calls_per_frame");
      if (it != r.extra.end() && it->second > worst) {
        worst = it->second;
        where = r.id;
      }
    }
    if (const Result* st = res.find("syscalls/publish/strace"); st != nullptr && !st->skipped) {
      const double v = st->extra.at("syscalls_per_frame");
      g.detail = "strace: " + fmt("%.6f", v) + " per frame; ";
      if (v > worst) worst = v;
    } else {
      g.detail = "strace: n/a; ";
    }
    if (worst >= 0) {
      g.value = worst;
      g.status = worst == 0 ? "PASS" : "MISS";
      g.detail += "wake_calls per frame, worst busy-poll case: " + fmt("%.6f", worst) + " (" + where + ")";
    }
    goals.push_back(g);
  }
  {
    // Eventfd subscribers that are awake (not armed) cost the writer nothing either: strace of
    // the publishing thread with 0, 1 and 4 of them, and its own count of eventfd writes.
    Goal g{"syscalls-per-publish-fd-awake", "publishing with eventfd subscribers awake (0, 1, 4): 0 system calls per frame",
           0, 0, true, "n/a", false, ""};
    double worst = -1;
    std::string detail;
    for (const char* k : {"0", "1", "4"}) {
      if (const Result* st = res.find(std::string("syscalls/publish/fd-subscribers/") + k + "/awake");
          st != nullptr && !st->skipped) {
        const double v = st->extra.at("syscalls_per_frame");
        detail += std::string("strace ") + k + ": " + fmt("%.6f", v) + "; ";
        worst = std::max(worst, v);
      }
    }
    if (worst >= 0) {
      g.value = worst;
      g.status = worst == 0 ? "PASS" : "MISS";
      g.detail = detail + "per frame (the publishing thread)";
    } else {
      g.detail = "not measured: syscalls/publish/fd-subscribers (strace unavailable?)";
    }
    goals.push_back(g);
  }

  ratio("map-10k", "named map insert, 10k keys, shmkit::btree_map + Mutex <= 1.5x std::map + std::mutex",
        "state/map/10k/insert/shmkit-btree", "state/map/10k/insert/std", 1.5, true);
  ratio("map-10k-rbtree", "info: same, shmkit::map (Boost red-black tree, stock allocator)",
        "state/map/10k/insert/shmkit", "state/map/10k/insert/std", 1.5, true, true);
  ratio("map-10k-pooled", "info: same, shmkit::map's tree over a pooled node allocator",
        "state/map/10k/insert/shmkit-pooled", "state/map/10k/insert/std", 1.5, true, true);
  ratio("map-1M", "named map insert, 1M keys, shmkit::btree_map + Mutex <= 1.1x std::map + std::mutex",
        "state/map/1M/insert/shmkit-btree", "state/map/1M/insert/std", 1.1, true);
  ratio("map-1M-rbtree", "info: same, shmkit::map (Boost red-black tree)", "state/map/1M/insert/shmkit",
        "state/map/1M/insert/std", 1.1, true, true);
  ratio("map-1M-pooled", "info: same, pooled node allocator", "state/map/1M/insert/shmkit-pooled",
        "state/map/1M/insert/std", 1.1, true, true);
  // A memfd attach hands an fd over a socket: the bare hand-over (fd passed, mapped, nothing
  // else) is its floor. The named open is shown beside it.
  ratio("attach-64M-vs-fd", "attach over memfd <= 1.2x the bare fd hand-over floor, 64 MiB", "state/attach/memfd/64M",
        "state/attach/floor-fd-pass/64M", 1.2, true);
  ratio("attach-1G-vs-fd", "attach over memfd <= 1.2x the bare fd hand-over floor, 1 GiB", "state/attach/memfd/1G",
        "state/attach/floor-fd-pass/1G", 1.2, true);
  // Every attach reads the segment's header, so it also pays the kernel's first fault on a fresh
  // mapping (page tables built for it). The bare hand-over with that one read bounds the goals
  // above: at 1.2x the bare hand-over or more, no attach that validates a header can meet them.
  for (const auto& [size, size_text] : {std::pair{"64M", "64 MiB"}, std::pair{"1G", "1 GiB"}}) {
    ratio(std::string("attach-") + size + "-touch-bound",
          std::string("info: ") + size_text +
              ", bare fd hand-over + map + first read vs the bare hand-over (the ceiling: every attach reads its header)",
          std::string("state/attach/floor-fd-touch/") + size, std::string("state/attach/floor-fd-pass/") + size, 1.2,
          true, true);
    ratio(std::string("attach-") + size + "-vs-fd-touch",
          std::string("info: ") + size_text + ", attach over memfd vs the bare hand-over + first read (shmkit's own share)",
          std::string("state/attach/memfd/") + size, std::string("state/attach/floor-fd-touch/") + size, 1.2, true,
          true);
  }
  ratio("attach-64M", "info: attach over memfd vs named open-by-name, 64 MiB", "state/attach/memfd/64M",
        "state/attach/named/64M", 2.0, true, true);
  ratio("attach-1G", "info: attach over memfd vs named open-by-name, 1 GiB", "state/attach/memfd/1G",
        "state/attach/named/1G", 2.0, true, true);
  ratio("attach-growable", "attach over memfd, 1 GiB maximum with 64 MiB in use <= 1.2x a fixed 64 MiB segment",
        "state/attach/memfd/1G-max-64M-used", "state/attach/memfd/64M", 1.2, true);
  // The kernel's share of that: first touch of a 1 GiB mapping against a 64 MiB one of the same fd.
  ratio("attach-growable-floor", "info: bare fd hand-over, map and first read, 1 GiB mapped vs 64 MiB (the kernel's cost of the wider mapping)",
        "state/attach/floor-fd-touch/1G-max-64M-used", "state/attach/floor-fd-touch/64M", 1.2, true, true);
  // What the fd handoff itself costs bounds the attach goals: shmkit's memfd attach at its very
  // best is the named attach with the bare shm_open + map swapped for a bare fd handoff + map.
  for (const auto& [size, size_text] : {std::pair{"64M", "64 MiB"}, std::pair{"1G", "1 GiB"}}) {
    Goal g{std::string("attach-") + size + "-bound",
           std::string("info: ") + size_text +
               ", the best memfd/named ratio any fd-over-socket attach could show (bare handoff, no checks)",
           0, 2.0, true, "n/a", true, ""};
    const std::string base = "state/attach/";
    const Result* n = res.find(base + "named/" + size);
    const Result* fs = res.find(base + "floor-shm-open/" + size);
    const Result* ff = res.find(base + "floor-fd-pass/" + size);
    if (n != nullptr && fs != nullptr && ff != nullptr && !n->skipped && !fs->skipped && !ff->skipped &&
        figure(*n) > 0) {
      g.value = (figure(*n) - figure(*fs) + figure(*ff)) / figure(*n);
      g.status = "info";
      g.detail = "(named " + fmt_ns(figure(*n)) + " - bare shm_open+map " + fmt_ns(figure(*fs)) + " + bare fd handoff+map " +
                 fmt_ns(figure(*ff)) + ") / named";
    } else {
      g.detail = "not measured: the attach floors";
    }
    goals.push_back(g);
  }
  // Any attach in which the server takes part pays at least one wake-up of a sleeping process.
  for (const auto& [size, size_text] : {std::pair{"64M", "64 MiB"}, std::pair{"1G", "1 GiB"}})
    ratio(std::string("attach-") + size + "-wake",
          std::string("info: ") + size_text +
              ", one wake-up of a sleeping server as a multiple of the named attach (at 2 or more no attach "
              "the server takes part in can meet the goal)",
          std::string("state/attach/floor-wake/") + size, std::string("state/attach/named/") + size, 2.0, true, true);
  {
    Goal g{"attach-64M-abs", "attach over memfd at 64 MiB under 100 us", 0, 100, true, "n/a", false, ""};
    if (const Result* r = res.find("state/attach/memfd/64M"); r != nullptr && !r->skipped) {
      g.value = r->latency.median_ns / 1e3;
      g.status = g.value < 100 ? "PASS" : "MISS";
      g.detail = "median " + fmt_ns(r->latency.median_ns) + " (value in us)";
    }
    goals.push_back(g);
  }
  ratio("iceoryx-latency", "busy-poll one-way latency <= 0.5x iceoryx's", "latency/channel/broadcast/busy/64",
        "latency/iceoryx/busy/64", 0.5, true);
  ratio("iceoryx-rate-64", "64 B lossless frames/s >= 3x iceoryx's", "throughput/channel/queue/copy/64/r1",
        "throughput/iceoryx/64", 3.0, false);
  ratio("iceoryx-lossless-r2", "64 B lossless broadcast, 2 readers, frames/s >= 3x iceoryx's with 2 subscribers",
        "throughput/channel/lossless/copy/64/r2", "throughput/iceoryx/64/r2", 3.0, false);
  ratio("iceoryx-loan-1M", "zero-copy 1 MiB frames/s >= iceoryx's", "throughput/channel/queue/loan/1M/r1",
        "throughput/iceoryx/loan/1M", 1.0, false);
  return goals;
}

Machine describe_machine() {
  Machine m;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      m.cpu_model = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  if (::uname(&u) == 0) m.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
  ::getloadavg(m.load_start, 3);
  return m;
}

void print_table(const Results& results, const std::vector<Goal>& goals, const Machine& m) {
  std::printf("\nshmkit-bench on %s, %d CPUs, %s; load %.2f %.2f %.2f at start, %.2f %.2f %.2f at end; %.0f s\n",
              m.cpu_model.c_str(), m.cpus, m.kernel.c_str(), m.load_start[0], m.load_start[1], m.load_start[2],
              m.load_end[0], m.load_end[1], m.load_end[2], m.seconds);
  auto section = [&](Metric metric, const char* title, const char* header) {
    std::printf("\n%s\n%s\n", title, header);
    for (const auto& r : results.all()) {
      if (r.metric != metric) continue;
      std::string id = r.id;
      if (r.skipped) {
        std::printf("%-46s %-9s skipped: %s\n", id.c_str(), fmt_size(r.size).c_str(), r.note.c_str());
        continue;
      }
      if (metric == Metric::throughput) {
        std::printf("%-46s %-9s %10s %9s %10s  %s\n", id.c_str(), fmt_size(r.size).c_str(), fmt_rate(r.msgs_per_s).c_str(),
                    fmt("%.2f", r.bytes_per_s / 1e9).c_str(), r.lost == 0 ? "0" : std::to_string(r.lost).c_str(),
                    r.label.c_str());
      } else {
        std::printf("%-46s %-9s %10s %10s %10s %9llu  %s\n", id.c_str(), fmt_size(r.size).c_str(),
                    fmt_ns(r.latency.median_ns).c_str(), fmt_ns(r.latency.p99_ns).c_str(),
                    fmt_ns(r.latency.max_ns).c_str(), static_cast<unsigned long long>(r.latency.samples),
                    r.label.c_str());
      }
    }
  };
  section(Metric::latency, "One-way latency (half a round trip)",
          "case                                           size          median        p99        max   samples  what");
  section(Metric::throughput, "Throughput (median of repeats; the slowest reader)",
          "case                                           size        frames/s      GB/s       lost  what");
  section(Metric::time, "Named state and costs (per operation)",
          "case                                           size          median   p99/worst        max   samples  what");
  std::printf("\nGoals (ratios from this run)\n");
  int pass = 0, miss = 0;
  for (const auto& g : goals) {
    std::printf("%-5s %-24s %8s  (%s %g)  %s\n      %s\n", g.status.c_str(), g.id.c_str(),
                g.status == "n/a" ? "-" : fmt("%.3f", g.value).c_str(), g.at_most ? "<=" : ">=", g.limit,
                g.text.c_str(), g.detail.c_str());
    pass += g.status == "PASS";
    miss += g.status == "MISS";
  }
  int info = 0;
  for (const auto& g : goals) info += g.status == "info";
  std::printf("\n%d PASS, %d MISS, %d n/a (and %d informational ratios)\n", pass, miss,
              static_cast<int>(goals.size()) - pass - miss - info, info);
}

std::string to_json(const Results& results, const std::vector<Goal>& goals, const Machine& m, const Settings& s) {
  apps::JsonWriter j;
  j.begin_object();
  j.key("machine").begin_object();
  j.field("cpu", m.cpu_model).field("cpus", m.cpus).field("kernel", m.kernel);
  j.key("load_start").begin_array().value(m.load_start[0]).value(m.load_start[1]).value(m.load_start[2]).end_array();
  j.key("load_end").begin_array().value(m.load_end[0]).value(m.load_end[1]).value(m.load_end[2]).end_array();
  j.field("seconds", m.seconds);
  j.end_object();
  j.key("settings").begin_object();
  j.field("quick", s.quick).field("repeats", s.repeats).field("case_seconds", s.case_seconds)
      .field("repeat_seconds", s.repeat_seconds).field("latency_samples", s.latency_samples);
  j.end_object();
  j.key("results").begin_array();
  for (const auto& r : results.all()) {
    j.begin_object();
    j.field("id", r.id).field("group", r.group).field("label", r.label);
    j.field("metric", r.metric == Metric::latency ? "latency" : r.metric == Metric::throughput ? "throughput" : "time");
    j.field("size", r.size).field("readers", r.readers).field("skipped", r.skipped);
    if (!r.note.empty()) j.field("note", r.note);
    if (r.metric == Metric::throughput) {
      j.field("msgs_per_s", r.msgs_per_s).field("bytes_per_s", r.bytes_per_s).field("frames", r.frames);
      j.field("lost", r.lost).field("lossless", r.lossless);
      j.key("repeats").begin_array();
      for (double v : r.repeat_msgs_per_s) j.value(v);
      j.end_array();
    } else {
      j.field("median_ns", r.latency.median_ns).field("p99_ns", r.latency.p99_ns).field("max_ns", r.latency.max_ns);
      j.field("samples", r.latency.samples);
    }
    if (!r.extra.empty()) {
      j.key("extra").begin_object();
      for (const auto& [k, v] : r.extra) j.field(k, v);
      j.end_object();
    }
    j.end_object();
  }
  j.end_array();
  j.key("goals").begin_array();
  for (const auto& g : goals) {
    j.begin_object();
    j.field("id", g.id).field("text", g.text).field("status", g.status).field("value", g.value);
    j.field("limit", g.limit).field("at_most", g.at_most).field("informational", g.informational);
    j.field("detail", g.detail);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str() + "\n";
}

}  // namespace shmkit::bench
