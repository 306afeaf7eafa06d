// File backend: a shmkit segment in a regular file, mapped MAP_SHARED (POSIX). See file_mapping.hpp
// for the session protocol and docs/persistence.md for what is promised after a crash.
#include "file_mapping.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <thread>

#include "directory.hpp"
#include "file_space.hpp"
#include "process_identity.hpp"
#include "file_state.hpp"
#include "reservation_check.hpp"
#include "segment_header.hpp"
#include "shmkit/error.hpp"
#include "unique_fd.hpp"

namespace shmkit::detail {
namespace {

// ---- File descriptor and session lock ----

enum class LockKind { shared, exclusive };

// Non-blocking; false if another process holds a conflicting lock. OFD locks (Linux) belong to
// the open file, not the process: two opens in one process are two sessions' members, and a
// lock converts from exclusive to shared atomically. flock elsewhere (conversion not atomic).
bool try_lock(int fd, LockKind kind) {
  for (;;) {
#ifdef F_OFD_SETLK
    struct flock fl {};
    fl.l_type = kind == LockKind::exclusive ? F_WRLCK : F_RDLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return true;
    const char* what = "fcntl(F_OFD_SETLK) on a file segment";
#else
    if (::flock(fd, (kind == LockKind::exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) return true;
    const char* what = "flock on a file segment";
#endif
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EACCES || errno == EWOULDBLOCK) return false;
    throw_os_error(what, errno);
  }
}

class FileMapping final : public Mapping {
 public:
  FileMapping(UniqueFd fd, void* data, std::size_t size, std::size_t backing_size, bool first, bool writable = true)
      : fd_(std::move(fd)), backing_size_(backing_size) {
    set(data, size, writable);
    report_.first_in_session = first;
  }
  std::size_t backing_size() const noexcept override { return backing_size_.load(std::memory_order_relaxed); }
  bool refresh_backing_size() const noexcept override {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0 || static_cast<std::size_t>(st.st_size) <= backing_size_.load(std::memory_order_relaxed)) return false;
    backing_size_.store(static_cast<std::size_t>(st.st_size), std::memory_order_relaxed);
    return true;
  }
  void extend(std::uint64_t bytes, const std::string& what) override {
    extend_file(fd_.get(), bytes, ReservationKind::disk, what);
  }
  ~FileMapping() override {
    end_session();
    ::munmap(data(), size());
  }

  int fd() const noexcept { return fd_.get(); }
  FileSessionReport& report() noexcept { return report_; }
  const FileSessionReport& report() const noexcept { return report_; }
  void mark_attached() noexcept { attached_ = true; }

 private:
  // Orderly close: everything written reaches the disk before the file says "nobody attached".
  void end_session() noexcept {
    if (!attached_) return;
    auto& header = *reinterpret_cast<SegmentHeader*>(data());
    FileState& file = file_state(header);
    ::msync(data(), std::min<std::size_t>(size(), header.total_size.load(std::memory_order_acquire)), MS_SYNC);
    if (file.writers.fetch_sub(1, std::memory_order_acq_rel) == 1)
      file.last_clean_close_unix_ns = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count());
    ::msync(data(), kManagerOffset, MS_SYNC);
  }

  UniqueFd fd_;  // closing it releases the session lock, also when the process dies
  mutable std::atomic<std::size_t> backing_size_;  // refreshed by refresh_backing_size(), from any thread
  FileSessionReport report_;
  bool attached_ = false;
};

}  // namespace

void validate_path(const std::string& path) {
  if (path.empty() || path.size() > 4000 || path.find('\0') != std::string::npos)
    throw Error(Errc::invalid_argument, "file segment path '" + path + "' must have 1 to 4000 characters and no NUL");
}

namespace {

[[noreturn]] void throw_open_error(const std::string& path, int err) {
  if (err == ENOENT) throw Error(Errc::not_found, "no file segment at '" + path + "'");
  if (err == EISDIR) throw Error(Errc::invalid_argument, "'" + path + "' is a directory, not a file segment");
  if (err == EACCES || err == EPERM)
    throw Error(Errc::permission_denied, "cannot open file segment '" + path + "' for reading and writing", err);
  throw_os_error("cannot open file segment '" + path + "'", err);
}

void* map_file(int fd, std::size_t size, const std::string& path, bool writable = true) {
  void* p = ::mmap(nullptr, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw_os_error("cannot map file segment '" + path + "'", errno);
  return p;
}


constexpr std::string_view kLeftoverMark = ".shmkit-new-";

// "<target>.shmkit-new-<pid>-<start time>-<n>": the creator is in the name, so anyone can tell a
// dead creator's leftover from a create in progress.
struct LeftoverName {
  std::string target;
  std::int32_t pid = 0;
  std::uint64_t start_time = 0;
};

std::optional<LeftoverName> parse_leftover(const std::string& path) {
  const auto mark = path.rfind(kLeftoverMark);
  if (mark == std::string::npos || mark == 0) return std::nullopt;
  unsigned long long pid = 0, start = 0, n = 0;
  int used = 0;
  const std::string rest = path.substr(mark + kLeftoverMark.size());
  if (std::sscanf(rest.c_str(), "%llu-%llu-%llu%n", &pid, &start, &n, &used) != 3 ||
      static_cast<std::size_t>(used) != rest.size() || pid == 0 || pid > 0x7fffffffULL)
    return std::nullopt;
  return LeftoverName{path.substr(0, mark), static_cast<std::int32_t>(pid), start};
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::optional<SegmentListing> read_leftover(const std::string& path) {
  const std::optional<LeftoverName> name = parse_leftover(path);
  if (!name) return std::nullopt;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  SegmentListing l;
  l.name = path;
  l.backend = Backend::file;
  l.location = path;
  l.size = static_cast<std::uint64_t>(st.st_size);
  l.problem = "unfinished create of '" + name->target + "'";
  l.creator_pid = name->pid;
  l.creator_alive = process_alive(name->pid, name->start_time);
  l.stale = !l.creator_alive;
  return l;
}

// Removes the leftovers of earlier creates of `path` whose creator is dead.
void remove_dead_leftovers_of(const std::string& path) {
  const std::string dir = directory_of(path);
  const std::string prefix = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1) +
                             std::string(kLeftoverMark);
  for (const std::string& entry : directory_entries(dir, HiddenEntries::include)) {
    if (entry.rfind(prefix, 0) != 0) continue;
    const std::optional<SegmentListing> l = read_leftover(dir + "/" + entry);
    if (l && l->stale) ::unlink(l->location.c_str());
  }
}

}  // namespace

std::vector<SegmentListing> list_file_leftovers(const std::string& directory) {
  std::vector<SegmentListing> out;
  for (const std::string& entry : directory_entries(directory, HiddenEntries::include)) {
    if (entry.find(kLeftoverMark) == std::string::npos) continue;
    if (std::optional<SegmentListing> l = read_leftover(directory + "/" + entry)) out.push_back(std::move(*l));
  }
  return out;
}

bool remove_file_leftover_if_stale(const std::string& path) {
  validate_path(path);
  const std::optional<SegmentListing> l = read_leftover(path);
  if (!l || !l->stale) return false;
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  throw_os_error("cannot remove '" + path + "', left by an unfinished create", errno);
}

std::unique_ptr<Mapping> create_file_mapping(const std::string& path, std::size_t size, std::size_t max_size,
                                             unsigned permissions, const std::function<void(Mapping&)>& format) {
  validate_path(path);
  if (::access(path.c_str(), F_OK) == 0)
    throw Error(Errc::already_exists, "file segment '" + path + "' already exists: open it, or remove it first");
  // Built under a private name in the same directory, then linked into place: an opener finds
  // either no file or a complete one, and a crash during create leaves only the private file.
  remove_dead_leftovers_of(path);
  static std::atomic<unsigned> counter{0};
  const ProcessIdentity me = current_process();
  const std::string tmp = path + std::string(kLeftoverMark) + std::to_string(me.pid) + "-" +
                          std::to_string(me.start_time) + "-" + std::to_string(counter++);
  UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, permissions & 0777));
  if (fd.get() < 0) {
    const int e = errno;
    // The file does not exist yet: a refusal here is the directory's, not the file's.
    if (e == EACCES || e == EPERM || e == EROFS) {
      const auto slash = path.rfind('/');
      const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
      throw Error(Errc::permission_denied,
                  "cannot create file segment '" + path + "': its directory '" + dir +
                      (e == EROFS ? "' is on a read-only file system" : "' is not writable by this user") +
                      " (choose another directory, or change its permissions)",
                  e);
    }
    throw_open_error(path, e);
  }
  struct Unlinker {
    const std::string& p;
    ~Unlinker() { ::unlink(p.c_str()); }
  } unlink_tmp{tmp};
  if (::fchmod(fd.get(), permissions & 0777) != 0) throw_os_error("cannot set the mode of '" + path + "'", errno);
  check_reservation(size, ReservationKind::disk, fd.get(), "file segment '" + path + "'");
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
    throw_os_error("cannot size file segment '" + path + "' to " + std::to_string(size) + " bytes", errno);
  // Reserve the blocks now: a full disk is an error here, not a SIGBUS on some later write.
  const int rc = reserve_file_space(fd.get(), size);
  if (rc != 0 && rc != EOPNOTSUPP)
    throw Error(rc == ENOSPC ? Errc::out_of_memory : errc_from_errno(rc),
                "cannot reserve " + std::to_string(size) + " bytes on disk for file segment '" + path + "'", rc);
  if (!try_lock(fd.get(), LockKind::exclusive))
    throw Error(Errc::busy, "file segment '" + path + "': its private file is locked by another process");
  // The maximum is mapped (address space only: the file's size decides what is backed).
  void* data = map_file(fd.get(), max_size, path);
  auto mapping = std::make_unique<FileMapping>(std::move(fd), data, max_size, size, true);
  format(*mapping);
  if (::msync(mapping->data(), size, MS_SYNC) != 0) throw_os_error("cannot write file segment '" + path + "'", errno);
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST)
      throw Error(Errc::already_exists, "file segment '" + path + "' already exists: open it, or remove it first");
    throw_os_error("cannot put file segment '" + path + "' in place (link)", errno);
  }
  return mapping;
}

// The size of the segment file behind `fd`, checked to be a regular file that can hold one.
std::size_t checked_file_size(int fd, const std::string& path);

// The bytes to map for the segment file behind `fd` of `size` bytes: its header's maximum.
std::size_t file_map_size(int fd, std::size_t size) {
  SegmentHeader header{};
  const ssize_t got = ::pread(fd, &header, sizeof header, 0);
  return size_to_map(&header, got < 0 ? 0 : static_cast<std::size_t>(got), size);
}

std::size_t checked_file_size(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_os_error("cannot stat file segment '" + path + "'", errno);
  if (!S_ISREG(st.st_mode)) throw Error(Errc::invalid_argument, "'" + path + "' is not a regular file");
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size < kManagerOffset + 1024)
    throw Error(Errc::too_small, "file '" + path + "' is " + std::to_string(size) +
                                     " bytes: too small to be a shmkit segment (truncated, or not made by shmkit)");
  return size;
}

std::unique_ptr<Mapping> peek_file_mapping(const std::string& path) {
  validate_path(path);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw_open_error(path, errno);
  const std::size_t size = checked_file_size(fd.get(), path);
  const std::size_t map_size = file_map_size(fd.get(), size);
  void* data = map_file(fd.get(), map_size, path, false);
  return std::make_unique<FileMapping>(std::move(fd), data, map_size, size, false, false);
}

std::unique_ptr<Mapping> open_file_mapping(const std::string& path, DeadlineNs deadline) {
  validate_path(path);
  remove_dead_leftovers_of(path);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) throw_open_error(path, errno);
  const std::size_t size = checked_file_size(fd.get(), path);
  // Alone (exclusive) starts a session; otherwise join it (shared). Neither: someone is starting
  // a session right now, which takes moments.
  bool first = false;
  std::chrono::microseconds pause{50};
  for (;;) {
    if (try_lock(fd.get(), LockKind::exclusive)) {
      first = true;
      break;
    }
    if (try_lock(fd.get(), LockKind::shared)) break;
    if (steady_now_ns() >= deadline)
      throw Error(Errc::timeout, "file segment '" + path + "' stayed locked by a process starting a session; "
                                 "try again or raise SegmentOptions::open_timeout");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds{5000});
  }
  const std::size_t map_size = file_map_size(fd.get(), size);
  void* data = map_file(fd.get(), map_size, path);
  return std::make_unique<FileMapping>(std::move(fd), data, map_size, size, first);
}

const FileSessionReport& begin_file_session(Mapping& mapping, SegmentManager& manager) {
  auto& fm = dynamic_cast<FileMapping&>(mapping);
  FileSessionReport& r = fm.report();
  record_session_start(mapping, manager, r);
  fm.mark_attached();
  // On disk, the file says "in use" before this process changes a byte of it.
  if (::msync(mapping.data(), kManagerOffset, MS_SYNC) != 0)
    throw_os_error("cannot write the header of a file segment", errno);
  if (r.first_in_session && !try_lock(fm.fd(), LockKind::shared))
    throw Error(Errc::system, "cannot turn the exclusive session lock of a file segment into a shared one");
  return r;
}

const FileSessionReport* file_session_report(const Mapping& mapping) noexcept {
  const auto* fm = dynamic_cast<const FileMapping*>(&mapping);
  return fm != nullptr ? &fm->report() : nullptr;
}

void flush_mapping(Mapping& mapping, bool synchronous) {
  if (dynamic_cast<FileMapping*>(&mapping) == nullptr) return;
  const auto& header = *reinterpret_cast<const SegmentHeader*>(mapping.data());
  const std::size_t size = std::min<std::size_t>(mapping.size(), header.total_size.load(std::memory_order_acquire));
  if (::msync(mapping.data(), size, synchronous ? MS_SYNC : MS_ASYNC) != 0)
    throw_os_error("msync of a file segment failed", errno);
}

bool remove_file_segment(const std::string& path) {
  validate_path(path);
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  throw_os_error("cannot remove file segment '" + path + "'", errno);
}

}  // namespace shmkit::detail
