// Crash safety and hostile environments: kernel-enforced read-only views (another uid, exec'd),
// lock-free lookup racing a writer, reclaiming stale named segments after kill -9, and resource
// limits that must give an Error and leave nothing behind.
#define BOOST_TEST_MODULE reliability
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>
#include <thread>

#include "../helpers/reliability_types.hpp"
#include "backends.hpp"
#include "child_process.hpp"
#include "segment_header.hpp"
#include "shmkit/broadcast_channel.hpp"
#include "shmkit/segment_directory.hpp"
#include "shmkit/segment_view.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace {

constexpr std::uint32_t kNobody = 65534;

ChildProcess helper(std::vector<std::string> args) {
  return ChildProcess(helper_path("shmkit-test-reliability-helper"), args);
}

// Waits (bounded) for a condition another process makes true; the condition is the event.
template <class Pred>
bool await(Pred pred, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);  // a poll interval, not a synchronization
  }
  return true;
}

std::optional<SegmentListing> listing(const std::string& name) {
  for (SegmentListing& l : list_segments())
    if (l.backend == Backend::named && l.name == name) return std::move(l);
  return std::nullopt;
}

bool maps(const std::string& name, pid_t pid) {
  const auto l = listing(name);
  return l && std::find(l->users.begin(), l->users.end(), pid) != l->users.end();
}

bool shm_entry_exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

// What a segment of `backend` named `name` leaves in the file system: /dev/shm/<name>, or the file.
bool segment_entry_exists(Backend backend, const std::string& name) {
  struct stat st {};
  if (name_is_path(backend)) return ::stat(name.c_str(), &st) == 0;
  return shm_entry_exists(name);
}

template <class F>
Errc error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    BOOST_TEST_MESSAGE("error: " << e.what());
    return e.errc();
  }
  return Errc::ok;
}

}  // namespace

// A monitoring process of another uid gets a read-only view: lookups and a broadcast reader work,
// every way to write fails (API, mmap PROT_WRITE of its fd, mprotect, reopening the fd).
BOOST_DATA_TEST_CASE(read_only_view_for_another_uid, bdata::make(test_backends()), backend) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("needs root to run a child as uid " << kNobody << ": skipped");
    return;
  }
  const std::string name = unique_name("shmkit-ro", backend);
  SegmentOptions o = options_for(backend);
  std::string socket = "-";
  if (backend == Backend::memfd) {
    socket = "@" + name;  // abstract: only the policy guards it
    o.socket_path = socket;
    o.control.policy.allow_uid_read_only(kNobody);
  } else {
    o.permissions = 0644;  // others may open it (the shm object, the file), read-only
  }
  {
    Segment seg = Segment::create(name, 1 << 20, o);
    Record& r = seg.construct<Record>("record");
    fill(r);
    {
      ChannelConfig config;
      config.slots = 256;
      config.max_frame = kFrameBytes;
      auto writer = BroadcastWriter::create(seg, "frames", config);
      std::byte frame[kFrameBytes];
      for (std::uint64_t i = 0; i < kFrames; ++i) {
        make_frame(i, frame);
        writer.publish(frame);
      }
      writer.close();
    }
    // The reader must write nothing at all: compare every byte afterwards.
    const auto* base = reinterpret_cast<const std::byte*>(&seg.manager()) - detail::kManagerOffset;
    const std::vector<std::byte> before(base, base + seg.size());
    ChildProcess child("/usr/bin/setpriv",
                       {"--reuid=" + std::to_string(kNobody), "--regid=" + std::to_string(kNobody), "--clear-groups",
                        helper_path("shmkit-test-reliability-helper"), "read-only", to_string(backend), name, socket,
                        std::to_string(kNobody)});
    const ExitStatus st = child.wait(120s);
    BOOST_TEST(st.ok(), st.describe());
    BOOST_TEST((std::memcmp(before.data(), base, seg.size()) == 0), "the read-only process changed the segment");
    BOOST_TEST(intact(*seg.find<Record>("record")));
  }
  Segment::remove(name, backend);
}

// The lock-free lookup of a read-only view, racing a writer that keeps creating and destroying
// objects (shifting and regrowing the index): every answer is right, nothing is ever half-seen,
// and a lookup that meets an object being destroyed never misreads its freed block. Values are
// checked only on objects that outlive the race: a churned object's memory may be freed and
// reused between the lookup and the read, which is the caller's race, not the lookup's.
BOOST_AUTO_TEST_CASE(lockless_find_races_writer) {
  const std::string name = unique_name("shmkit-ro-race");
  Segment rw = Segment::create(name, 8 << 20);
  fill(rw.construct<Record>("stable"));
  // Names that sort between the churned ones, so every insert and removal moves them.
  for (std::uint64_t k = 0; k < 16; ++k) rw.construct<std::uint64_t>("obj-" + std::to_string(k * 4) + "-kept", k);
  const SegmentView view = SegmentView::open(name);
  const SegmentView& v = view;

  std::atomic<bool> done{false};
  std::string writer_error;
  std::thread writer([&] {
    try {
      for (std::uint64_t round = 0; round < 3000 && !done.load(); ++round) {
        const std::string n = "obj-" + std::to_string(round % 64);
        if (rw.find<std::uint64_t>(n) != nullptr) rw.destroy<std::uint64_t>(n);
        else rw.construct<std::uint64_t>(n, round % 64);
      }
    } catch (const std::exception& e) {
      writer_error = e.what();
    }
    done.store(true);
  });
  std::uint64_t lookups = 0, hits = 0, bad = 0;
  std::string reader_error;
  try {
    do {
      const Record* s = v.find<Record>("stable");
      if (s == nullptr || !intact(*s)) ++bad;
      const std::uint64_t k = lookups % 64;
      const auto [churned, count] = v.find_array<std::uint64_t>("obj-" + std::to_string(k));
      if (churned != nullptr) ++hits;
      if ((churned == nullptr) != (count == 0) || count > 1) ++bad;
      const std::uint64_t* kept = v.find<std::uint64_t>("obj-" + std::to_string(k % 16 * 4) + "-kept");
      if (kept == nullptr || *kept != k % 16) ++bad;
      ++lookups;
    } while (!done.load());
  } catch (const std::exception& e) {
    reader_error = e.what();
    done.store(true);
  }
  writer.join();
  BOOST_TEST(writer_error == "");
  BOOST_TEST(reader_error == "");
  BOOST_TEST(bad == 0u);
  BOOST_TEST(lookups > 0u);
  BOOST_TEST_MESSAGE(lookups << " lookups, " << hits << " hits");
  // Quiet now: the lock-free listing equals the locked one.
  const auto a = rw.objects();
  const auto b = view.objects();
  BOOST_TEST(a.size() == b.size());
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    BOOST_TEST(a[i].name == b[i].name);
    BOOST_TEST(a[i].type == b[i].type);
    BOOST_TEST(a[i].count == b[i].count);
  }
  Segment::remove(name);
}

// A creator killed with SIGKILL leaves its named segment; create(reclaim_stale) takes the name
// back, but never while any live process maps it.
BOOST_AUTO_TEST_CASE(reclaim_stale_after_kill_9) {
  const std::string name = unique_name("shmkit-stale");
  SegmentOptions reclaim;
  reclaim.reclaim_stale = true;
  {
    ChildProcess creator = helper({"create-hang", name});
    BOOST_REQUIRE(await([&] {
      const auto l = listing(name);
      return l && l->valid && l->creator_pid == creator.pid();
    }));
    // Live creator: never reclaimed.
    BOOST_TEST((error_of([&] { (void)Segment::create(name, 1 << 20, reclaim); }) == Errc::already_exists));
    creator.kill(SIGKILL);
    BOOST_TEST(creator.wait(30s).signal == SIGKILL);
  }
  // Dead creator, but a live process maps it: still never reclaimed.
  {
    ChildProcess user = helper({"map-hang", name});
    BOOST_REQUIRE(await([&] { return maps(name, user.pid()); }));
    BOOST_TEST((error_of([&] { (void)Segment::create(name, 1 << 20, reclaim); }) == Errc::already_exists));
    try {
      (void)Segment::create(name, 1 << 20, reclaim);
    } catch (const Error& e) {
      BOOST_TEST(std::string(e.what()).find(std::to_string(user.pid())) != std::string::npos, e.what());
    }
    Segment old = Segment::open(name);
    BOOST_TEST(!old.info().creator_alive);
    BOOST_TEST(intact(*old.find<Record>("record")));
    user.kill(SIGKILL);
    BOOST_TEST(user.wait(30s).signal == SIGKILL);
  }
  // Without reclaim_stale: already_exists, as always.
  BOOST_TEST((error_of([&] { (void)Segment::create(name, 1 << 20); }) == Errc::already_exists));
  // Stale: reclaimed.
  {
    Segment fresh = Segment::create(name, 1 << 20, reclaim);
    BOOST_TEST(fresh.info().creator_pid == ::getpid());
    BOOST_TEST(fresh.info().creator_alive);
    BOOST_TEST(fresh.find<Record>("record") == nullptr);
    // Ours and live: not reclaimable by anyone.
    BOOST_TEST((error_of([&] { (void)Segment::create(name, 1 << 20, reclaim); }) == Errc::already_exists));
  }
  Segment::remove(name);
  BOOST_TEST(!shm_entry_exists(name));
}

BOOST_DATA_TEST_CASE(file_size_limit, bdata::make(test_backends()), backend) {
  const std::string name = unique_name("shmkit-fsize", backend);
  const ExitStatus st = helper({"limit-fsize", to_string(backend), name}).wait(120s);
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(!segment_entry_exists(backend, name));
}

BOOST_DATA_TEST_CASE(address_space_limit, bdata::make(test_backends()), backend) {
  const std::string name = unique_name("shmkit-as", backend);
  const ExitStatus st = helper({"limit-as", to_string(backend), name}).wait(120s);
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(!segment_entry_exists(backend, name));
}

BOOST_DATA_TEST_CASE(fd_limit, bdata::make(test_backends()), backend) {
  const std::string name = unique_name("shmkit-nofile", backend);
  const ExitStatus st = helper({"limit-nofile", to_string(backend), name}).wait(120s);
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(!segment_entry_exists(backend, name));
}

// A reader at its fd limit: the kernel cuts the segment's fd from the server's reply
// (MSG_CTRUNC); the reader must blame its own limit, not the server.
BOOST_AUTO_TEST_CASE(memfd_reader_at_its_fd_limit) {
  if (!backend_available(Backend::memfd)) return;
  const std::string name = unique_name("shmkit-nofile-reader");
  SegmentOptions o;
  o.backend = Backend::memfd;
  Segment seg = Segment::create(name, 1 << 20, o);
  seg.construct<int>("answer", 42);
  const ExitStatus st = helper({"attach-nofile", name}).wait(120s);
  BOOST_TEST(st.ok(), st.describe());
}

BOOST_AUTO_TEST_CASE(full_dev_shm) {
  const std::string name = unique_name("shmkit-full");
  const ExitStatus st = helper({"full-shm", name}).wait(120s);
  if (st.exited && st.code == 77) {
    BOOST_TEST_MESSAGE("no mount namespace here (not root, or not permitted): skipped");
    return;
  }
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(!shm_entry_exists(name));
}

namespace {

// A memory cgroup of its own for one child (v1 memory hierarchy, or v2 with the memory
// controller enabled for this process's cgroup); removed when the test is done.
class MemoryCgroup {
 public:
  explicit MemoryCgroup(std::uint64_t limit) {
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line)) {
      const auto a = line.find(':'), b = line.find(':', a + 1);
      const std::string controllers = line.substr(a + 1, b - a - 1), rel = line.substr(b + 1);
      const std::string leaf = "/shmkit-test-" + std::to_string(::getpid());
      if (controllers == "memory" && try_make("/sys/fs/cgroup/memory" + rel + leaf, "memory.limit_in_bytes", limit))
        return;
      if (controllers.empty() && try_make("/sys/fs/cgroup" + rel + leaf, "memory.max", limit)) return;
    }
  }
  ~MemoryCgroup() {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;
  bool made() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

 private:
  bool try_make(const std::string& dir, const char* limit_file, std::uint64_t limit) {
    if (::mkdir(dir.c_str(), 0755) != 0) return false;
    std::ofstream f(dir + "/" + limit_file);
    f << limit;
    f.close();
    if (!f) {
      ::rmdir(dir.c_str());
      return false;
    }
    dir_ = dir;
    return true;
  }
  std::string dir_;
};

}  // namespace

// Inside a 256 MiB memory cgroup a 512 MiB segment is Error(out_of_memory) naming the cgroup,
// not an OOM kill, and leaves nothing behind; a segment that fits still works.
BOOST_DATA_TEST_CASE(memory_cgroup_limit, bdata::make(test_backends()), backend) {
  if (backend == Backend::file) {
    BOOST_TEST_MESSAGE("file segments are page cache written back to disk, not committed memory: skipped");
    return;
  }
  constexpr std::uint64_t kLimit = 256u << 20;
  MemoryCgroup cgroup(kLimit);
  if (!cgroup.made()) {
    BOOST_TEST_MESSAGE("cannot make a memory cgroup here (not root, or no memory controller): skipped");
    return;
  }
  const std::string name = unique_name("shmkit-cg", backend);
  ChildProcess child("/bin/sh", {"-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", cgroup.dir(),
                                 helper_path("shmkit-test-reliability-helper"), "memory-cgroup", to_string(backend),
                                 name, std::to_string(kLimit)});
  const ExitStatus st = child.wait(120s);
  BOOST_TEST(st.ok(), st.describe());
  BOOST_TEST(!segment_entry_exists(backend, name));
}

// Another user made our /tmp/shmkit-<uid> first (XDG_RUNTIME_DIR unset): the writer serves from
// a private fallback, openers and the listing find it; a listing alone creates no directory.
BOOST_AUTO_TEST_CASE(squatted_socket_directory) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("needs root to make a directory for another uid and run children as two uids: skipped");
    return;
  }
  // Uids no account uses, so no other process on the host shares their directories.
  const std::uint32_t victim = 54321 + static_cast<std::uint32_t>(::getpid() % 1000) * 2, lister = victim + 1;
  const std::string squatted = "/tmp/shmkit-" + std::to_string(victim);
  const std::string fallback = squatted + "-1";
  ::rmdir(fallback.c_str());
  BOOST_REQUIRE(::mkdir(squatted.c_str(), 0755) == 0);
  BOOST_REQUIRE(::chown(squatted.c_str(), kNobody, kNobody) == 0);
  auto as = [](std::uint32_t uid, std::vector<std::string> args) {
    std::vector<std::string> argv{"--reuid=" + std::to_string(uid), "--regid=" + std::to_string(uid), "--clear-groups",
                                  helper_path("shmkit-test-reliability-helper")};
    argv.insert(argv.end(), args.begin(), args.end());
    return ChildProcess("/usr/bin/setpriv", argv);
  };
  const ExitStatus st = as(victim, {"squatted", unique_name("shmkit-squat")}).wait(60s);
  BOOST_TEST(st.ok(), st.describe());
  const ExitStatus ls = as(lister, {"list-creates-nothing"}).wait(60s);
  BOOST_TEST(ls.ok(), ls.describe());
  ::rmdir(fallback.c_str());
  ::rmdir(squatted.c_str());
  ::rmdir(("/tmp/shmkit-" + std::to_string(lister)).c_str());
}

// A client checks who serves it: root's client refuses a segment served by uid 65534 on an
// abstract socket (which anyone can bind) unless it lists that uid as trusted.
BOOST_AUTO_TEST_CASE(client_checks_the_serving_uid) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("needs root to run the server as uid " << kNobody << ": skipped");
    return;
  }
  const std::string name = unique_name("shmkit-serving-uid");
  const std::string socket = "@" + name;
  ChildProcess server("/usr/bin/setpriv", {"--reuid=" + std::to_string(kNobody), "--regid=" + std::to_string(kNobody),
                                           "--clear-groups", helper_path("shmkit-test-reliability-helper"),
                                           "serve-abstract", name, socket});
  SegmentOptions o;
  o.backend = Backend::memfd;
  o.socket_path = socket;
  // Until the server listens, connecting says not_found; then the answer is the uid check's.
  Errc got = Errc::not_found;
  BOOST_REQUIRE(await([&] {
    got = error_of([&] { Segment::open(name, o); });
    return got != Errc::not_found;
  }));
  BOOST_TEST(got == Errc::permission_denied);
  o.trusted_server_uids = {kNobody};
  Segment seg = Segment::open(name, o);
  // The server listens from create() on; its record may be constructed a moment later.
  const Record* record = nullptr;
  BOOST_REQUIRE(await([&] { return (record = seg.find<Record>("record")) != nullptr; }));
  BOOST_TEST(intact(*record));
}

// A file segment in a directory the user cannot write: the message blames the directory.
BOOST_AUTO_TEST_CASE(unwritable_directory_is_named) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("needs root to run the creator as uid " << kNobody << ": skipped");
    return;
  }
  char dir_template[] = "/tmp/shmkit-unwritable-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  BOOST_REQUIRE(::chmod(dir.c_str(), 0755) == 0);  // root's: others may enter, not write
  const ExitStatus st = ChildProcess("/usr/bin/setpriv",
                                     {"--reuid=" + std::to_string(kNobody), "--regid=" + std::to_string(kNobody),
                                      "--clear-groups", helper_path("shmkit-test-reliability-helper"),
                                      "create-in-unwritable", dir + "/seg"})
                            .wait(60s);
  BOOST_TEST(st.ok(), st.describe());
  ::rmdir(dir.c_str());
}
