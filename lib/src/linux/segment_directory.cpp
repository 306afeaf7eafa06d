// Host-wide view of shmkit segments on Linux: /dev/shm for named segments, /proc/*/maps for who
// maps them, the default control-socket directory for memfd segments.
#include "shmkit/segment_directory.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "linux/unique_fd.hpp"
#include "process_identity.hpp"
#include "segment_header.hpp"
#include "shmkit/control_server.hpp"

namespace shmkit {

namespace {

constexpr const char* kShmDir = "/dev/shm";

std::vector<std::string> directory_entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  ::closedir(d);
  return names;
}

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
  detail::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return false;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  alignas(detail::SegmentHeader) unsigned char raw[sizeof(detail::SegmentHeader)] = {};
  const ssize_t got = ::pread(fd.get(), raw, sizeof raw, 0);
  std::uint64_t magic = 0;
  if (got >= static_cast<ssize_t>(sizeof magic)) std::memcpy(&magic, raw, sizeof magic);
  if (magic != detail::kSegmentMagic) return false;

  // Copy field by field: the bytes came from another process and are only looked at here.
  detail::SegmentHeader h;
  std::memcpy(static_cast<void*>(&h), raw, sizeof raw);
  out.name = name;
  out.backend = Backend::named;
  out.location = path;
  out.size = static_cast<std::uint64_t>(st.st_size);
  out.creator_pid = h.creator_pid;
  out.creator_alive = h.creator_pid > 0 && detail::process_alive(h.creator_pid, h.creator_start_time);
  out.users = processes_mapping(path);
  if (got < static_cast<ssize_t>(sizeof raw)) {
    out.problem = "truncated header";
  } else {
    try {
      detail::validate_header(h, static_cast<std::size_t>(st.st_size), name);
      out.valid = true;
    } catch (const Error& e) {
      out.problem = e.what();
    }
  }
  out.stale = !out.creator_alive && out.users.empty();
  return true;
}

bool socket_answers(const std::string& path) {
  detail::UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // A live server accepts (and drops us after its handshake timeout); a stale file refuses.
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

std::string socket_directory() {
  const std::string probe = ControlServer::default_socket_path("probe");
  return probe.substr(0, probe.rfind('/'));
}

}  // namespace

std::vector<SegmentListing> list_segments() {
  std::vector<SegmentListing> out;
  for (const std::string& name : directory_entries(kShmDir)) {
    SegmentListing l;
    if (read_named(name, l)) out.push_back(std::move(l));
  }
  const std::string dir = socket_directory();
  for (const std::string& file : directory_entries(dir)) {
    if (file.size() <= 5 || file.compare(file.size() - 5, 5, ".sock") != 0) continue;
    SegmentListing l;
    l.name = file.substr(0, file.size() - 5);
    l.backend = Backend::memfd;
    l.location = dir + "/" + file;
    l.valid = socket_answers(l.location);
    if (!l.valid) l.problem = "nobody answers on the socket (its server died)";
    l.stale = !l.valid;
    out.push_back(std::move(l));
  }
  std::sort(out.begin(), out.end(), [](const SegmentListing& a, const SegmentListing& b) {
    return a.name != b.name ? a.name < b.name : a.backend < b.backend;
  });
  return out;
}

bool remove_if_stale(std::string_view name, Backend backend) {
  if (backend == Backend::memfd) return Segment::remove(name, Backend::memfd);  // removes dead sockets only
  if (backend != Backend::named)
    throw Error(Errc::unsupported, std::string("remove_if_stale: backend '") + to_string(backend) +
                                       "' has no host-wide names to reclaim");
  if (name.empty() || name.find('/') != std::string_view::npos) return false;
  // Serializes reclaimers (Segment::create with reclaim_stale, shmkit-inspect --gc): without it
  // one could find the old segment stale, another remove it and create a new one, and the first
  // then unlink the new, live one. Closing the fd releases the lock.
  // Advisory and bounded (2 s), so a stranger holding a lock on /dev/shm cannot stall us.
  const detail::UniqueFd dir(::open(kShmDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  for (int waited_ms = 0; dir && waited_ms < 2000 && ::flock(dir.get(), LOCK_EX | LOCK_NB) != 0; waited_ms += 2) {
    if (errno != EWOULDBLOCK && errno != EINTR) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  SegmentListing l;
  if (!read_named(std::string(name), l)) return false;
  if (!l.stale) return false;
  return Segment::remove(name, Backend::named);
}

}  // namespace shmkit
