#include <sys/statvfs.h>

#include <cerrno>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include "memory_budget.hpp"

namespace shmkit::detail {

namespace {

std::string mib(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

std::optional<std::uint64_t> read_number(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word)) return std::nullopt;
  if (word == "max") return std::numeric_limits<std::uint64_t>::max();
  try {
    std::size_t used = 0;
    const unsigned long long v = std::stoull(word, &used);
    if (used != word.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// `key`'s value in a "key value" file (memory.stat); 0 when absent.
std::uint64_t stat_value(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string k;
  unsigned long long v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

// kB values from /proc/meminfo.
std::optional<std::uint64_t> meminfo(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    unsigned long long kb = 0;
    if (fields >> kb) return kb * 1024;
  }
  return std::nullopt;
}

struct CgroupFiles {
  std::string root;  // mount point of the hierarchy
  std::string path;  // this process's cgroup inside it
  const char* limit;
  const char* usage;
  const char* reclaimable;  // key in memory.stat
};

// This process's memory cgroups: the v1 memory hierarchy and the v2 unified one, where mounted.
std::vector<CgroupFiles> memory_cgroups() {
  std::vector<CgroupFiles> out;
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const auto a = line.find(':');
    const auto b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    if (controllers.empty()) {  // v2: pure (/sys/fs/cgroup) or hybrid (/sys/fs/cgroup/unified)
      for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"})
        out.push_back({root, path, "memory.max", "memory.current", "inactive_file"});
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      out.push_back({"/sys/fs/cgroup/memory", path, "memory.limit_in_bytes", "memory.usage_in_bytes",
                     "total_inactive_file"});
    }
  }
  return out;
}

}  // namespace

std::optional<MemoryBudget> committable_memory() {
  std::optional<MemoryBudget> best;
  auto consider = [&](std::uint64_t room, std::string what) {
    if (!best || room < best->bytes) best = MemoryBudget{room, std::move(what)};
  };
  if (const auto avail = meminfo("MemAvailable")) {
    const std::uint64_t swap = meminfo("SwapFree").value_or(0);
    consider(*avail + swap, "available memory (" + mib(*avail) + " MemAvailable + " + mib(swap) + " free swap)");
  }
  // Every level up to the root: a parent's limit binds its children too.
  for (const CgroupFiles& cg : memory_cgroups()) {
    std::string path = cg.path;
    while (true) {
      const std::string dir = cg.root + (path == "/" ? "" : path);
      const auto limit = read_number(dir + "/" + cg.limit);
      const auto usage = read_number(dir + "/" + cg.usage);
      // v1 reports "no limit" as a huge page-aligned number: anything past 2^62 is no limit.
      if (limit && usage && *limit < (std::uint64_t{1} << 62)) {
        const std::uint64_t reclaimable = stat_value(dir + "/memory.stat", cg.reclaimable);
        const std::uint64_t room = (*limit > *usage ? *limit - *usage : 0) + reclaimable;
        consider(room, "memory cgroup " + path + " (limit " + mib(*limit) + ", " + mib(*usage) + " in use)");
      }
      if (path.empty() || path == "/") break;
      const auto slash = path.rfind('/');
      path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    }
  }
  return best;
}

std::optional<std::uint64_t> free_file_space(int fd) noexcept {
  struct statvfs st {};
  int rc;
  do {
    rc = ::fstatvfs(fd, &st);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 || st.f_blocks == 0) return std::nullopt;  // f_blocks 0: tmpfs without a size limit
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace shmkit::detail
