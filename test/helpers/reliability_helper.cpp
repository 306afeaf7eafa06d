// Child process for reliability_test. Usage:
//   shmkit-test-reliability-helper read-only <backend> <segment-name> <socket-path|-> <expected-uid>
//   shmkit-test-reliability-helper create-hang <segment-name>      creates it, then waits to be killed
//   shmkit-test-reliability-helper map-hang <segment-name>         maps it, then waits to be killed
//   shmkit-test-reliability-helper limit-fsize <backend> <segment-name>
//   shmkit-test-reliability-helper limit-as <backend> <segment-name>
//   shmkit-test-reliability-helper limit-nofile <backend> <segment-name>
//   shmkit-test-reliability-helper attach-nofile <memfd-segment-name>
//   shmkit-test-reliability-helper full-shm <segment-name>
//   shmkit-test-reliability-helper squatted <segment-name>   (run as a uid whose /tmp/shmkit-<uid> another user made)
//   shmkit-test-reliability-helper list-creates-nothing
//   shmkit-test-reliability-helper serve-abstract <segment-name> <@socket>   (serves until killed; root may attach)
//   shmkit-test-reliability-helper memory-cgroup <backend> <segment-name> <cgroup-limit-bytes>
// <backend> as to_string() spells it (named, memfd, file, ...); a file segment's name is its path.
// Exit codes: 0 success, 2 check failed (details on stderr), 3 unexpected shmkit::Error,
// 4 usage, 77 the environment cannot run the check (no mount namespace), reported as skipped.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "reliability_types.hpp"
#include "shmkit/broadcast_channel.hpp"
#include "shmkit/control_server.hpp"
#include "shmkit/memfd_handle.hpp"
#include "shmkit/segment_directory.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/segment_view.hpp"

using namespace shmkit;
using namespace shmkit::test;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "helper: check failed: %s\n", what.c_str());
  ++failures;
}

// The backend named on the command line (main() has checked that it exists).
Backend backend_of(const std::string& backend) { return backend_from_string(backend).value_or(Backend::automatic); }

SegmentOptions options_for(const std::string& backend, const std::string& socket = "-") {
  SegmentOptions o;
  o.backend = backend_of(backend);
  if (socket != "-") o.socket_path = socket;
  return o;
}

template <class F>
void expect_error(Errc want, const std::string& what, F&& f) {
  try {
    f();
    check(false, what + ": no error");
  } catch (const Error& e) {
    check(e.errc() == want, what + ": got " + to_string(e.errc()) + " (" + e.what() + ")");
  }
}

// The fd of this process that refers to the segment (/proc/self/fd/N links to `target`).
int segment_fd(const std::string& target) {
  DIR* d = ::opendir("/proc/self/fd");
  int found = -1;
  while (const dirent* e = d != nullptr ? ::readdir(d) : nullptr) {
    if (e->d_name[0] == '.') continue;
    char link[512] = {};
    const std::string path = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
    if (n > 0 && std::string(link, static_cast<std::size_t>(n)).rfind(target, 0) == 0) found = std::atoi(e->d_name);
  }
  if (d != nullptr) ::closedir(d);
  return found;
}

// What /proc/self/fd/N links to for the segment's fd: the memfd, the /dev/shm object, the file.
std::string segment_fd_target(const std::string& backend, const std::string& name) {
  switch (backend_of(backend)) {
    case Backend::memfd: return "/memfd:shmkit:" + name;
    case Backend::file: {
      char resolved[PATH_MAX] = {};
      return ::realpath(name.c_str(), resolved) != nullptr ? std::string(resolved) : name;
    }
    default: return "/dev/shm/" + name;
  }
}

int read_only(const std::string& backend, const std::string& name, const std::string& socket, unsigned expected_uid) {
  check(::getuid() == expected_uid, "running as uid " + std::to_string(::getuid()) + ", expected " +
                                        std::to_string(expected_uid));
  SegmentOptions o = options_for(backend, socket);
  // Read-write is refused to this uid: by the server's policy (memfd) or the file mode (named, file).
  expect_error(Errc::permission_denied, "read-write open", [&] { (void)Segment::open(name, o); });
  const SegmentView seg = SegmentView::open(name, o);

  // Named lookup without the (writing) manager lock.
  const Record* r = seg.find<Record>("record");
  check(r != nullptr && intact(*r), "record missing or damaged");
  check(seg.find<Record>("no-such-object") == nullptr, "found an object that does not exist");
  expect_error(Errc::type_mismatch, "find with the wrong type", [&] { (void)seg.find<int>("record"); });
  bool listed = false;
  for (const ObjectInfo& info : seg.objects()) listed = listed || (info.name == "record" && info.count == 1);
  check(listed, "objects() does not list the record");

  // Writing through the API does not compile (test/compile_fail); writing past it is refused
  // ... and by the kernel: the fd is read-only, so neither a writable mapping nor mprotect works.
  const std::string target = segment_fd_target(backend, name);
  const int fd = segment_fd(target);
  check(fd >= 0, "no fd of this process refers to " + target);
  if (fd >= 0) {
    check((::fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY, "the segment fd is not O_RDONLY");
    errno = 0;
    void* w = ::mmap(nullptr, seg.size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check(w == MAP_FAILED && errno == EACCES, std::string("mmap PROT_WRITE: ") + std::strerror(errno));
    if (w != MAP_FAILED) ::munmap(w, seg.size());
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    const int rw = ::open(self.c_str(), O_RDWR | O_CLOEXEC);
    check(rw < 0 && errno == EACCES, std::string("reopening the fd read-write: ") + (rw < 0 ? std::strerror(errno) : "succeeded"));
    if (rw >= 0) ::close(rw);
  }
  const long page = ::sysconf(_SC_PAGESIZE);
  void* record_page = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(r) & ~static_cast<std::uintptr_t>(page - 1));
  errno = 0;
  check(::mprotect(record_page, static_cast<std::size_t>(page), PROT_READ | PROT_WRITE) != 0 && errno == EACCES,
        std::string("mprotect PROT_WRITE: ") + std::strerror(errno));

  // A broadcast reader that registers nothing works on the read-only view.
  ReaderOptions ro;
  ro.register_reader = false;
  ro.start = StartAt::oldest;
  BroadcastReader reader(seg, "frames", ro);
  std::byte buf[kFrameBytes];
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const ReadResult res = reader.read(buf, std::chrono::seconds(10));
    if (res.status != Errc::ok || res.frame.sequence != i || !frame_ok(i, res.data)) {
      check(false, "frame " + std::to_string(i) + ": " + to_string(res.status));
      break;
    }
  }
  const ReadResult end = reader.read(buf, std::chrono::seconds(10));
  check(end.status == Errc::closed, std::string("after the last frame: ") + to_string(end.status));
  check(reader.lost() == 0, "frames lost");
  expect_error(Errc::permission_denied, "register_reader on a read-only view",
               [&] { BroadcastReader registering(seg, "frames"); });
  return failures == 0 ? 0 : 2;
}

[[noreturn]] void wait_to_be_killed() {
  for (;;) ::pause();
}

int create_hang(const std::string& name) {
  Segment seg = Segment::create(name, 1 << 20);
  fill(seg.construct<Record>("record"));
  wait_to_be_killed();
}

int map_hang(const std::string& name) {
  Segment seg = Segment::open(name);
  wait_to_be_killed();
}

bool shm_entry_exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

bool socket_exists(const std::string& name) {
  struct stat st {};
  return ::stat(ControlServer::default_socket_path(name).c_str(), &st) == 0;
}

// A file segment's file, or the private file create() builds it in ("<path>.shmkit-new-...").
bool file_or_private_file_exists(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  DIR* d = ::opendir(dir.c_str());
  bool found = false;
  while (const dirent* e = d != nullptr ? ::readdir(d) : nullptr)
    if (std::string(e->d_name).rfind(base, 0) == 0) found = true;
  if (d != nullptr) ::closedir(d);
  return found;
}

void nothing_left(const std::string& backend, const std::string& name, const std::string& when) {
  switch (backend_of(backend)) {
    case Backend::file:
      check(!file_or_private_file_exists(name), when + ": " + name + " (or its private file) was left behind");
      break;
    case Backend::memfd:
      check(!socket_exists(name), when + ": the control socket file was left behind");
      [[fallthrough]];
    default:
      check(!shm_entry_exists(name), when + ": /dev/shm/" + name + " was left behind");
  }
}

// Expects create() to fail with `want` and a message naming `cause`; nothing may be left.
void expect_create_fails(const std::string& backend, const std::string& name, std::size_t size, Errc want,
                         const std::string& cause) {
  try {
    Segment seg = Segment::create(name, size, options_for(backend));
    check(false, "create of " + std::to_string(size) + " bytes succeeded");
  } catch (const Error& e) {
    std::fprintf(stderr, "helper: create failed as expected: %s\n", e.what());
    check(e.errc() == want, std::string("errc ") + to_string(e.errc()) + ", expected " + to_string(want));
    check(std::string(e.what()).find(cause) != std::string::npos, "message does not name '" + cause + "'");
  }
  nothing_left(backend, name, "after the failed create");
}

// What a refused create's message must name: the limit. The file backend's messages name only
// the OS error (strerror: `os_reason`), not the limit: checked by that until they do (reported
// as a library gap; the named and memfd backends name the limit).
std::string named_cause(const std::string& backend, const std::string& limit, const std::string& os_reason) {
  return backend_of(backend) == Backend::file ? os_reason : limit;
}

int limit_fsize(const std::string& backend, const std::string& name) {
  ::signal(SIGXFSZ, SIG_IGN);  // the kernel also signals: we want the EFBIG
  const rlimit lim{1 << 20, 1 << 20};
  check(::setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit RLIMIT_FSIZE");
  expect_create_fails(backend, name, 8 << 20, Errc::resource_limit,
                      named_cause(backend, "RLIMIT_FSIZE", std::strerror(EFBIG)));
  return failures == 0 ? 0 : 2;
}

std::size_t vm_size() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmSize:", 0) == 0) return std::stoull(line.substr(7)) * 1024;
  return 0;
}

int limit_as(const std::string& backend, const std::string& name) {
  // Room for what this process may still allocate (server thread stack included), not for 1 GiB.
  const rlim_t room = vm_size() + (64u << 20);
  const rlimit lim{room, room};
  check(::setrlimit(RLIMIT_AS, &lim) == 0, "setrlimit RLIMIT_AS");
  expect_create_fails(backend, name, std::size_t{1} << 30, Errc::out_of_memory,
                      named_cause(backend, "RLIMIT_AS", std::strerror(ENOMEM)));
  return failures == 0 ? 0 : 2;
}

// Open fds below `limit` (no fd needed to count them).
int open_fds(int limit) {
  int n = 0;
  for (int fd = 0; fd < limit; ++fd) n += ::fcntl(fd, F_GETFD) >= 0;
  return n;
}

int limit_nofile(const std::string& backend, const std::string& name) {
  // Take every fd slot under a low limit, then free them one by one: from "no fd left" to
  // "enough", each create either works or fails with resource_limit naming the cause, and leaves
  // no file, socket or fd behind.
  constexpr int kSteps = 16;
  int highest = 0;
  for (int fd = 0; fd < 4096; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0) highest = fd;
  const int limit = highest + 1 + kSteps;
  const rlimit lim{static_cast<rlim_t>(limit), 4096};
  check(::setrlimit(RLIMIT_NOFILE, &lim) == 0, "setrlimit RLIMIT_NOFILE");
  std::vector<int> fillers;
  for (int fd; (fd = ::fcntl(0, F_DUPFD_CLOEXEC, 0)) >= 0;) fillers.push_back(fd);
  check(errno == EMFILE, "filling the fd table did not end in EMFILE");
  int failed = 0, worked = 0;
  for (int free_slots = 0; free_slots <= kSteps && !fillers.empty(); ++free_slots) {
    if (free_slots > 0) {
      ::close(fillers.back());
      fillers.pop_back();
    }
    const int before = open_fds(limit);
    try {
      Segment seg = Segment::create(name, 1 << 20, options_for(backend));
      ++worked;
    } catch (const Error& e) {
      ++failed;
      check(e.errc() == Errc::resource_limit, std::to_string(free_slots) + " free fds: errc " + to_string(e.errc()) +
                                                  " (" + e.what() + ")");
      check(std::string(e.what()).find("open files") != std::string::npos,
            std::to_string(free_slots) + " free fds: message does not name the cause: " + e.what());
    }
    Segment::remove(name, options_for(backend).backend);  // after the successful ones (named)
    nothing_left(backend, name, "with " + std::to_string(free_slots) + " free fds");
    check(open_fds(limit) == before, "with " + std::to_string(free_slots) + " free fds: " +
                                         std::to_string(open_fds(limit) - before) + " fds leaked");
  }
  for (int fd : fillers) ::close(fd);
  check(failed > 0 && worked > 0, "expected both failures and successes: " + std::to_string(failed) + " failed, " +
                                      std::to_string(worked) + " worked");
  std::fprintf(stderr, "helper: %d creates failed, %d worked\n", failed, worked);
  return failures == 0 ? 0 : 2;
}

// Attaches to the memfd segment `name` (served by the test) under a low fd limit, from no fd
// free to enough: a refusal is resource_limit naming RLIMIT_NOFILE, never the server's fault.
int attach_nofile(const std::string& name) {
  constexpr int kSteps = 8;
  int highest = 0;
  for (int fd = 0; fd < 4096; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0) highest = fd;
  const int limit = highest + 1 + kSteps;
  const rlimit lim{static_cast<rlim_t>(limit), 4096};
  check(::setrlimit(RLIMIT_NOFILE, &lim) == 0, "setrlimit RLIMIT_NOFILE");
  std::vector<int> fillers;
  for (int fd; (fd = ::fcntl(0, F_DUPFD_CLOEXEC, 0)) >= 0;) fillers.push_back(fd);
  check(errno == EMFILE, "filling the fd table did not end in EMFILE");
  int failed = 0, worked = 0, cut_by_kernel = 0;
  for (int free_slots = 0; free_slots <= kSteps && !fillers.empty(); ++free_slots) {
    if (free_slots > 0) {
      ::close(fillers.back());
      fillers.pop_back();
    }
    const int before = open_fds(limit);
    try {
      Segment seg = Segment::open(name, options_for("memfd"));
      check(seg.find<int>("answer") != nullptr && *seg.find<int>("answer") == 42, "attached, but the data is wrong");
      ++worked;
    } catch (const Error& e) {
      ++failed;
      const std::string what = e.what();
      check(e.errc() == Errc::resource_limit, std::to_string(free_slots) + " free fds: errc " + to_string(e.errc()) +
                                                  " (" + what + ")");
      check(what.find("RLIMIT_NOFILE") != std::string::npos && what.find("broke the protocol") == std::string::npos,
            std::to_string(free_slots) + " free fds: message does not name the fd limit: " + what);
      cut_by_kernel += what.find("cannot receive the segment") != std::string::npos;
    }
    check(open_fds(limit) == before, "with " + std::to_string(free_slots) + " free fds: " +
                                         std::to_string(open_fds(limit) - before) + " fds leaked");
  }
  for (int fd : fillers) ::close(fd);
  check(failed > 0 && worked > 0 && cut_by_kernel > 0,
        "expected failures (one with the segment's fd cut by the kernel) and successes: " + std::to_string(failed) +
            " failed (" + std::to_string(cut_by_kernel) + " cut), " + std::to_string(worked) + " worked");
  std::fprintf(stderr, "helper: %d attaches failed (%d with the fd cut by the kernel), %d worked\n", failed,
               cut_by_kernel, worked);
  return failures == 0 ? 0 : 2;
}

int full_shm(const std::string& name) {
  // A private mount namespace with a 1 MiB /dev/shm: the host's is untouched.
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=1777") != 0) {
    std::fprintf(stderr, "helper: cannot mount a small tmpfs on /dev/shm here: %s\n", std::strerror(errno));
    return 77;
  }
  expect_create_fails("named", name, 4 << 20, Errc::out_of_memory, "/dev/shm");
  // What fits still works, and a second segment that does not fit fails cleanly beside it.
  {
    Segment small = Segment::create(name + "-a", 512 << 10);
    fill(small.construct<Record>("record"));
    expect_create_fails("named", name + "-b", 768 << 10, Errc::out_of_memory, "/dev/shm");
    check(intact(*small.find<Record>("record")), "the segment that fit was damaged");
  }
  Segment::remove(name + "-a");
  return failures == 0 ? 0 : 2;
}

// Run inside a memory cgroup of `limit` bytes (the test puts it there): a segment twice the
// limit is refused with out_of_memory naming the cgroup, before anything is reserved; one that
// fits still works.
int memory_cgroup(const std::string& backend, const std::string& name, const std::string& limit_text) {
  const std::size_t limit = std::stoull(limit_text);
  expect_create_fails(backend, name, 2 * limit, Errc::out_of_memory, "memory cgroup");
  {
    Segment small = Segment::create(name, limit / 8, options_for(backend));
    fill(small.construct<Record>("record"));
    check(intact(*small.find<Record>("record")), "the segment that fit was damaged");
  }
  if (backend_of(backend) == Backend::named) Segment::remove(name);
  nothing_left(backend, name, "after the segment that fit was removed");
  return failures == 0 ? 0 : 2;
}

// Our /tmp/shmkit-<uid> belongs to someone else: a memfd writer serves from the next private
// fallback directory, openers by name find it there, and the listing shows it.
int squatted(const std::string& name) {
  const std::string squatted_dir = "/tmp/shmkit-" + std::to_string(::geteuid());
  SegmentOptions o;
  o.backend = Backend::memfd;
  Segment seg = Segment::create(name, 1 << 20, o);
  fill(seg.construct<Record>("record"));
  const std::string path = seg.handle<MemfdHandle>()->socket_path();
  check(path.rfind(squatted_dir + "-1/", 0) == 0, "served at " + path + ", expected under " + squatted_dir + "-1/");
  Segment peer = Segment::open(name, o);
  check(intact(*peer.find<Record>("record")), "the opener did not find the record");
  bool listed = false;
  for (const SegmentListing& l : list_segments()) listed = listed || (l.backend == Backend::memfd && l.name == name && l.valid);
  check(listed, "the segment is not listed as live");
  return failures == 0 ? 0 : 2;
}

// Serves a memfd segment on an abstract socket, letting root attach, until killed.
int serve_abstract(const std::string& name, const std::string& socket) {
  SegmentOptions o;
  o.backend = Backend::memfd;
  o.socket_path = socket;
  o.control.policy = AccessPolicy::same_user().allow_uid(0);
  Segment seg = Segment::create(name, 1 << 20, o);
  fill(seg.construct<Record>("record"));
  for (;;) ::pause();
}

// Creating a file segment in a directory this user cannot write blames the directory.
int create_in_unwritable(const std::string& path) {
  expect_create_fails("file", path, 1 << 20, Errc::permission_denied, "its directory");
  return failures == 0 ? 0 : 2;
}

// Listing (what --list and --gc do first) creates no directory.
int list_creates_nothing() {
  (void)list_segments();
  struct stat st {};
  const std::string dir = "/tmp/shmkit-" + std::to_string(::geteuid());
  check(::lstat(dir.c_str(), &st) != 0 && errno == ENOENT, "listing created " + dir);
  return failures == 0 ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  const bool takes_backend = a.size() >= 2 && (a[0] == "read-only" || a[0] == "memory-cgroup" || a[0].rfind("limit-", 0) == 0);
  if (takes_backend && !backend_from_string(a[1])) {
    std::fprintf(stderr, "helper: unknown backend '%s'\n", a[1].c_str());
    return 4;
  }
  try {
    if (a.size() == 5 && a[0] == "read-only")
      return read_only(a[1], a[2], a[3], static_cast<unsigned>(std::stoul(a[4])));
    if (a.size() == 2 && a[0] == "create-hang") return create_hang(a[1]);
    if (a.size() == 2 && a[0] == "map-hang") return map_hang(a[1]);
    if (a.size() == 3 && a[0] == "limit-fsize") return limit_fsize(a[1], a[2]);
    if (a.size() == 3 && a[0] == "limit-as") return limit_as(a[1], a[2]);
    if (a.size() == 3 && a[0] == "limit-nofile") return limit_nofile(a[1], a[2]);
    if (a.size() == 2 && a[0] == "attach-nofile") return attach_nofile(a[1]);
    if (a.size() == 2 && a[0] == "full-shm") return full_shm(a[1]);
    if (a.size() == 2 && a[0] == "squatted") return squatted(a[1]);
    if (a.size() == 1 && a[0] == "list-creates-nothing") return list_creates_nothing();
    if (a.size() == 2 && a[0] == "create-in-unwritable") return create_in_unwritable(a[1]);
    if (a.size() == 3 && a[0] == "serve-abstract") return serve_abstract(a[1], a[2]);
    if (a.size() == 4 && a[0] == "memory-cgroup") return memory_cgroup(a[1], a[2], a[3]);
  } catch (const Error& e) {
    std::fprintf(stderr, "helper: unexpected shmkit::Error (%s): %s\n", to_string(e.errc()), e.what());
    return 3;
  }
  std::fprintf(stderr, "helper: bad usage\n");
  return 4;
}
