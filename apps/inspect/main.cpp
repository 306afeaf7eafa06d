// shmkit-inspect: look inside a running shmkit system.
//   shmkit-inspect NAME                 header, named objects and channels of a segment
//   shmkit-inspect --socket PATH        the same for a memfd segment served at PATH
//   shmkit-inspect --list               every shmkit segment on this host
//   shmkit-inspect --gc [--dry-run]     remove named segments whose creator is dead and that
//                                       no process maps any more
//   --list/--gc --dir DIR               also unfinished file segment creates in DIR
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "../common/cli.hpp"
#include "../common/json_writer.hpp"
#include "../common/segment_target.hpp"
#include "shmkit/channel.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/segment_directory.hpp"

namespace po = boost::program_options;
using namespace shmkit;
using shmkit::apps::JsonWriter;

namespace {

std::string local_time(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::localtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string age(std::int64_t ns) {
  char buf[32];
  if (ns < 1'000'000)
    std::snprintf(buf, sizeof buf, "%lld us", static_cast<long long>(ns / 1000));
  else if (ns < 10'000'000'000LL)
    std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(ns) / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ns) / 1e9);
  return buf;
}

std::vector<ChannelStatus> channels_of(const SegmentView& segment, const std::vector<ObjectInfo>& objects,
                                       std::chrono::nanoseconds stall) {
  std::vector<ChannelStatus> out;
  for (const ObjectInfo& o : objects) {
    try {
      out.push_back(channel_status(segment, o.name, stall));
    } catch (const Error& e) {
      if (e.errc() != Errc::type_mismatch && e.errc() != Errc::not_found) throw;  // not a channel
    }
  }
  return out;
}

void print_segment_text(const SegmentView& segment, const std::vector<ObjectInfo>& objects,
                        const std::vector<ChannelStatus>& channels) {
  const SegmentInfo info = segment.info();
  std::printf("segment   %s (%s)\n", info.name.c_str(), to_string(info.backend));
  std::printf("format    %u (Boost %u.%u.%u)\n", info.format_version, info.boost_version / 100000,
              info.boost_version / 100 % 1000, info.boost_version % 100);
  std::printf("size      %s, %s free (%.1f%% used)\n", apps::format_bytes(static_cast<double>(info.size)).c_str(),
              apps::format_bytes(static_cast<double>(info.free_memory)).c_str(),
              info.size ? 100.0 * static_cast<double>(info.size - info.free_memory) / static_cast<double>(info.size)
                        : 0.0);
  std::printf("creator   pid %d, uid %u, %s, created %s\n", info.creator_pid, info.creator_uid,
              info.creator_alive ? "running" : "no longer running", local_time(info.created).c_str());
  if (info.backend == Backend::file)
    std::printf("file      %s, %llu sessions (%llu unclean), %u attached\n",
                info.opened_clean ? "opened clean" : "NOT closed cleanly by a previous process",
                static_cast<unsigned long long>(info.sessions), static_cast<unsigned long long>(info.unclean_sessions),
                info.attached);

  std::printf("\nobjects (%zu)\n", objects.size());
  std::printf("  %-28s %10s %12s  %s\n", "NAME", "COUNT", "BYTES", "TYPE");
  for (const ObjectInfo& o : objects)
    std::printf("  %-28s %10zu %12zu  %s\n", o.name.c_str(), o.count, o.bytes, o.type.c_str());

  if (channels.empty()) return;
  std::printf("\nchannels (%zu)\n", channels.size());
  for (const ChannelStatus& c : channels) {
    std::printf("  %s: %s, %u slots x %u B, checksum %s, published %llu\n", c.name.c_str(), to_string(c.kind),
                c.config.slots, c.config.max_frame, to_string(c.config.checksum),
                static_cast<unsigned long long>(c.published));
    std::printf("    writer pid %d: %s, heartbeat %s ago; %u reader(s) blocked", c.writer_pid, to_string(c.writer),
                age(c.heartbeat_age_ns).c_str(), c.blocked_readers);
    if (c.fd_sleepers != 0) std::printf(", %u asleep on the writer's eventfd", c.fd_sleepers);
    std::printf("\n");
    if (c.kind == ChannelKind::queue) {
      std::printf("    reader pid %d: %s, consumed %llu, %llu behind\n", c.reader_pid, to_string(c.reader),
                  static_cast<unsigned long long>(c.consumed),
                  static_cast<unsigned long long>(c.published - std::min(c.published, c.consumed)));
    }
    if (c.kind == ChannelKind::broadcast) {
      std::size_t lossless = 0;
      for (const ChannelReaderStatus& r : c.readers) lossless += r.delivery == Delivery::lossless ? 1 : 0;
      if (lossless != 0 || c.detached_dead != 0 || c.detached_slow != 0)
        std::printf("    lossless: %zu reader(s) the writer waits for; detached %llu dead, %llu slow\n", lossless,
                    static_cast<unsigned long long>(c.detached_dead), static_cast<unsigned long long>(c.detached_slow));
    }
    for (const ChannelReaderStatus& r : c.readers)
      std::printf("    reader pid %d: %s%s, delivered %llu, lost %llu, %llu behind\n", r.pid, r.alive ? "alive" : "dead",
                  r.delivery == Delivery::lossless ? ", lossless" : r.detached ? ", detached from lossless" : "",
                  static_cast<unsigned long long>(r.delivered), static_cast<unsigned long long>(r.lost),
                  static_cast<unsigned long long>(c.published - std::min(c.published, r.cursor)));
  }
}

void print_segment_json(const SegmentView& segment, const std::vector<ObjectInfo>& objects,
                        const std::vector<ChannelStatus>& channels) {
  const SegmentInfo info = segment.info();
  JsonWriter j;
  j.begin_object()
      .field("name", info.name)
      .field("backend", to_string(info.backend))
      .field("format", info.format_version)
      .field("boost_version", info.boost_version)
      .field("size", info.size)
      .field("free", info.free_memory)
      .field("creator_pid", info.creator_pid)
      .field("creator_uid", info.creator_uid)
      .field("creator_alive", info.creator_alive)
      .field("created_unix_s", std::chrono::duration_cast<std::chrono::seconds>(info.created.time_since_epoch()).count());
  if (info.backend == Backend::file) j.field("opened_clean", info.opened_clean).field("unclean_sessions", info.unclean_sessions);
  j.key("objects").begin_array();
  for (const ObjectInfo& o : objects)
    j.begin_object().field("name", o.name).field("type", o.type).field("count", o.count).field("bytes", o.bytes).end_object();
  j.end_array().key("channels").begin_array();
  for (const ChannelStatus& c : channels) {
    j.begin_object()
        .field("name", c.name)
        .field("kind", to_string(c.kind))
        .field("slots", c.config.slots)
        .field("max_frame", c.config.max_frame)
        .field("checksum", to_string(c.config.checksum))
        .field("published", c.published)
        .field("writer_pid", c.writer_pid)
        .field("writer", to_string(c.writer))
        .field("heartbeat_age_ns", c.heartbeat_age_ns)
        .field("blocked_readers", c.blocked_readers)
        .field("fd_sleepers", c.fd_sleepers);
    if (c.kind == ChannelKind::queue)
      j.field("consumed", c.consumed).field("reader_pid", c.reader_pid).field("reader", to_string(c.reader));
    else
      j.field("detached_dead", c.detached_dead).field("detached_slow", c.detached_slow);
    j.key("readers").begin_array();
    for (const ChannelReaderStatus& r : c.readers)
      j.begin_object()
          .field("pid", r.pid)
          .field("alive", r.alive)
          .field("cursor", r.cursor)
          .field("delivered", r.delivered)
          .field("lost", r.lost)
          .field("behind", c.published - std::min(c.published, r.cursor))
          .field("delivery", r.delivery == Delivery::lossless ? "lossless" : "lossy")
          .field("detached", r.detached)
          .end_object();
    j.end_array().end_object();
  }
  j.end_array().end_object();
  std::cout << j.str() << "\n";
}

// Host-wide segments, plus what file segment creates left in `dirs`.
std::vector<SegmentListing> all_segments(const std::vector<std::string>& dirs) {
  std::vector<SegmentListing> out = list_segments();
  for (const std::string& dir : dirs) {
    std::vector<SegmentListing> some = list_segments_in(dir);
    out.insert(out.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  return out;
}

int list(bool json, const std::vector<std::string>& dirs) {
  const auto segments = all_segments(dirs);
  if (json) {
    JsonWriter j;
    j.begin_array();
    for (const auto& s : segments) {
      j.begin_object()
          .field("name", s.name)
          .field("backend", to_string(s.backend))
          .field("location", s.location)
          .field("size", s.size)
          .field("valid", s.valid)
          .field("creator_pid", s.creator_pid)
          .field("creator_alive", s.creator_alive)
          .field("stale", s.stale);
      j.key("users").begin_array();
      for (auto pid : s.users) j.value(pid);
      j.end_array();
      if (!s.problem.empty()) j.field("problem", s.problem);
      j.end_object();
    }
    j.end_array();
    std::cout << j.str() << "\n";
    return 0;
  }
  std::printf("%-32s %-6s %10s %8s %-8s %6s  %s\n", "NAME", "KIND", "SIZE", "CREATOR", "STATE", "USERS", "WHERE");
  for (const auto& s : segments) {
    const char* state = s.stale ? "stale" : !s.valid ? "broken" : "live";
    std::printf("%-32s %-6s %10s %8d %-8s %6zu  %s%s%s\n", s.name.c_str(), to_string(s.backend),
                s.size ? apps::format_bytes(static_cast<double>(s.size)).c_str() : "-", s.creator_pid, state,
                s.users.size(), s.location.c_str(), s.problem.empty() ? "" : ": ", s.problem.c_str());
  }
  if (segments.empty()) std::printf("(no shmkit segments)\n");
  return 0;
}

int gc(bool dry_run, const std::vector<std::string>& dirs) {
  int removed = 0;
  for (const auto& s : all_segments(dirs)) {
    if (!s.stale) continue;
    if (dry_run) {
      std::printf("would remove %s (%s, creator pid %d dead, no users)\n", s.location.c_str(), to_string(s.backend),
                  s.creator_pid);
      ++removed;
    } else if (remove_if_stale(s.name, s.backend)) {
      std::printf("removed %s (%s, creator pid %d dead, no users)\n", s.location.c_str(), to_string(s.backend),
                  s.creator_pid);
      ++removed;
    }
  }
  std::printf("%d stale segment(s) %s\n", removed, dry_run ? "found" : "removed");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  apps::AppSpec spec;
  spec.name = "shmkit-inspect";
  spec.summary = "show a shmkit segment's header, named objects and channels; list or clean up segments";
  spec.usage =
      "  shmkit-inspect sensors                  # a segment by name (memfd socket, else named)\n"
      "  shmkit-inspect --socket /run/user/1000/shmkit/sensors.sock --json\n"
      "  shmkit-inspect --list                   # every shmkit segment on this host\n"
      "  shmkit-inspect --gc --dry-run           # what --gc would remove\n"
      "  shmkit-inspect --gc --dir /var/lib/app  # also unfinished file segment creates there\n";
  spec.options.add_options()
      ("name", po::value<std::string>()->value_name("NAME"), "segment name (or file path with --backend file)")
      ("socket", po::value<std::string>()->value_name("PATH"), "attach to the memfd segment served at PATH")
      ("backend", po::value<std::string>()->default_value("auto"), "auto, named, memfd or file")
      ("list", po::bool_switch(), "list shmkit segments on this host")
      ("gc", po::bool_switch(), "remove stale named segments (creator dead, nobody maps them) and dead sockets")
      ("dry-run", po::bool_switch(), "with --gc: only say what would be removed")
      ("dir", po::value<std::vector<std::string>>()->value_name("DIR")->composing(),
       "with --list/--gc: also the files unfinished file segment creates left in DIR (repeatable)")
      ("stall", po::value<apps::Duration>()->default_value(apps::Duration{std::chrono::seconds(1)}),
       "a writer without heartbeat for longer is reported stalled")
      ("json", po::bool_switch(), "print JSON instead of text");
  spec.positional.add("name", 1);
  return apps::run_app(argc, argv, spec, [](const po::variables_map& vm) {
    const bool json = vm["json"].as<bool>();
    const std::vector<std::string> dirs =
        vm.count("dir") ? vm["dir"].as<std::vector<std::string>>() : std::vector<std::string>{};
    if (vm["list"].as<bool>()) return list(json, dirs);
    if (vm["gc"].as<bool>()) return gc(vm["dry-run"].as<bool>(), dirs);
    const std::string name = vm.count("name") ? vm["name"].as<std::string>() : "";
    const std::string socket = vm.count("socket") ? vm["socket"].as<std::string>() : "";
    if (name.empty() && socket.empty())
      throw std::invalid_argument("give a segment NAME, --socket PATH, --list or --gc");
    // Read-only: inspecting never takes part in the segment (a file segment's crash report survives).
    const SegmentView segment =
        apps::open_target_view(name, socket, apps::parse_backend(vm["backend"].as<std::string>(), true));
    const auto objects = segment.objects();
    const auto channels = channels_of(segment, objects, vm["stall"].as<apps::Duration>().value);
    if (json)
      print_segment_json(segment, objects, channels);
    else
      print_segment_text(segment, objects, channels);
    return 0;
  });
}
