// The named backend's host-wide view on Linux: /dev/shm for the segments, /proc/*/maps for who
// maps them.
#include "named_directory.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "named_mapping.hpp"
#include "directory.hpp"
#include "unique_fd.hpp"
#include "process_identity.hpp"
#include "segment_header.hpp"

namespace shmkit::detail {

namespace {

constexpr const char* kShmDir = "/dev/shm";

// Pids of live processes that map `path` (a line of /proc/<pid>/maps ends with it). Processes
// whose maps we may not read are not seen: callers treat "unknown" conservatively.
std::vector<std::int32_t> processes_mapping(const std::string& path) {
  std::vector<std::int32_t> pids;
  for (const std::string& entry : directory_entries("/proc")) {
    if (!std::all_of(entry.begin(), entry.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    std::ifstream maps("/proc/" + entry + "/maps");
    std::string line;
    while (std::getline(maps, line)) {
      if (line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0 &&
          line[line.size() - path.size() - 1] == ' ') {
        pids.push_back(std::stoi(entry));
        break;
      }
    }
  }
  return pids;
}

// Reads the header of /dev/shm/<name>; false if it is not a shmkit segment at all.
bool read_named(const std::string& name, SegmentListing& out) {
  const std::string path = std::string(kShmDir) + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return false;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  alignas(SegmentHeader) unsigned char raw[sizeof(SegmentHeader)] = {};
  const ssize_t got = ::pread(fd.get(), raw, sizeof raw, 0);
  std::uint64_t magic = 0;
  if (got >= static_cast<ssize_t>(sizeof magic)) std::memcpy(&magic, raw, sizeof magic);
  if (magic != kSegmentMagic) return false;

  // Copy field by field: the bytes came from another process and are only looked at here.
  SegmentHeader h;
  std::memcpy(static_cast<void*>(&h), raw, sizeof raw);
  out.name = name;
  out.backend = Backend::named;
  out.location = path;
  out.size = static_cast<std::uint64_t>(st.st_size);
  out.creator_pid = h.creator_pid;
  out.creator_alive = h.creator_pid > 0 && process_alive(h.creator_pid, h.creator_start_time);
  out.users = processes_mapping(path);
  if (got < static_cast<ssize_t>(sizeof raw)) {
    out.problem = "truncated header";
  } else {
    try {
      validate_header(h, static_cast<std::size_t>(st.st_size), static_cast<std::size_t>(st.st_size), name);
      out.valid = true;
    } catch (const Error& e) {
      out.problem = e.what();
    }
  }
  out.stale = !out.creator_alive && out.users.empty();
  return true;
}

}  // namespace

std::vector<SegmentListing> list_named_segments() {
  std::vector<SegmentListing> out;
  // Hidden names too: older builds accepted names starting with '.'; the magic decides.
  for (const std::string& name : directory_entries(kShmDir, HiddenEntries::include)) {
    SegmentListing l;
    if (read_named(name, l)) out.push_back(std::move(l));
  }
  return out;
}

bool remove_named_if_stale(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) return false;
  // Serializes reclaimers (Segment::create with reclaim_stale, shmkit-inspect --gc): without it
  // one could find the old segment stale, another remove it and create a new one, and the first
  // then unlink the new, live one. Closing the fd releases the lock.
  // Advisory and bounded (2 s), so a stranger holding a lock on /dev/shm cannot stall us.
  const UniqueFd dir(::open(kShmDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  for (int waited_ms = 0; dir && waited_ms < 2000 && ::flock(dir.get(), LOCK_EX | LOCK_NB) != 0; waited_ms += 2) {
    if (errno != EWOULDBLOCK && errno != EINTR) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  SegmentListing l;
  if (!read_named(name, l)) return false;
  if (!l.stale) return false;
  return remove_named_mapping(name);
}

}  // namespace shmkit::detail
