// Named state: shared containers under a process-shared mutex, named lookup, and attach cost.
//  - map<uint64_t, uint64_t> insert and lookup under shmkit::Mutex in a segment, against
//    std::map + std::mutex in private memory, at 10k keys (cache-resident) and 1M keys: the goals
//    take shmkit::btree_map; shmkit::map (Boost's red-black tree), alone and over a pooled node
//    allocator, is measured beside it;
//  - Segment::find<T>(name) among 1000 named objects;
//  - attach: open (memfd: connect, receive the fd, validate, map) plus find of a named object,
//    against open-by-name on the named backend, at 64 MiB and 1 GiB, with the creator in
//    another process; beside them the bare floor of each path (shm_open + map, and an fd handed
//    over a Unix socket + map, with no checks and nothing validated) and one wake-up of a
//    sleeping server, which every attach the server takes part in pays.
#include <linux/futex.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <cstring>
#include <algorithm>
#include <boost/interprocess/allocators/private_node_allocator.hpp>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "cases.hpp"
#include "shmkit/btree_map.hpp"
#include "shmkit/containers.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/segment_view.hpp"

namespace shmkit::bench {

namespace {

using Pair = std::pair<const std::uint64_t, std::uint64_t>;
using StockMap = shmkit::map<std::uint64_t, std::uint64_t>;
// The B+ tree for trivially copyable keys and values (shmkit/btree_map.hpp).
using BtreeMap = shmkit::btree_map<std::uint64_t, std::uint64_t>;
// Nodes from a pool kept in the segment: one segment-manager allocation per 256 nodes instead
// of one (with the manager's lock) per node. No pool lock: the map's Mutex already serialises.
using PooledMap = boost::container::map<
    std::uint64_t, std::uint64_t, std::less<>,
    boost::interprocess::private_node_allocator<Pair, detail::SegmentManager, 256>>;

}  // namespace
}  // namespace shmkit::bench

// Its pool and nodes live in the segment, linked by offset pointers, like shmkit::map's.
template <>
inline constexpr bool shmkit::enable_shareable<shmkit::bench::PooledMap> = true;

namespace shmkit::bench {
namespace {

std::vector<std::uint64_t> shuffled_keys(std::size_t n) {
  std::vector<std::uint64_t> k(n);
  std::iota(k.begin(), k.end(), std::uint64_t{0});
  std::mt19937_64 rng(42);
  std::shuffle(k.begin(), k.end(), rng);
  for (auto& x : k) x = x * 0x9E3779B97F4A7C15ULL;  // spread them over the key space
  return k;
}

struct MapTimes {
  double insert_ns = 0, lookup_ns = 0;
};

template <class Map, class Lock>
MapTimes time_map(Map& m, Lock& lock, const std::vector<std::uint64_t>& keys, bool warm) {
  MapTimes t;
  // Steady state: a first fill and clear faults the pages in and leaves the nodes' memory in
  // the allocator's free lists (the heap's or the segment's), as in a long-running process.
  if (warm) {
    for (std::uint64_t k : keys) m.emplace(k, k);
    m.clear();
  }
  std::int64_t t0 = now_ns();
  for (std::uint64_t k : keys) {
    std::lock_guard<Lock> g(lock);
    m.emplace(k, k);
  }
  t.insert_ns = static_cast<double>(now_ns() - t0) / static_cast<double>(keys.size());
  std::uint64_t sum = 0;
  t0 = now_ns();
  for (std::uint64_t k : keys) {
    std::lock_guard<Lock> g(lock);
    sum += m.find(k)->second;
  }
  t.lookup_ns = static_cast<double>(now_ns() - t0) / static_cast<double>(keys.size());
  asm volatile("" : : "r"(sum));
  return t;
}

// A lock that does nothing: isolates the container's own cost from the mutex's.
struct NoLock {
  void lock() noexcept {}
  void unlock() noexcept {}
};

void map_cases(const Settings& s, Results& out, std::size_t n) {
  const std::string nk = n >= 1'000'000 ? "1M" : std::to_string(n / 1000) + "k";
  if (!selected(s, "state/map/" + nk)) return;
  // Variants: the baseline, shmkit::map, it over a pooled allocator, two that split its gap into
  // the mutex's share and the container's (offset pointers, segment allocator), and btree_map
  // (the goals' subject).
  constexpr int kVariants = 6;
  const std::string ids[kVariants] = {"std", "shmkit", "shmkit-pooled", "std-map+shmkit-mutex", "shmkit-map+no-lock",
                                      "shmkit-btree"};
  const char* labels[kVariants] = {"std::map + std::mutex (private)", "shmkit::map + shmkit::Mutex (stock allocator)",
                                   "map + shmkit::Mutex (pooled node allocator)",
                                   "std::map + shmkit::Mutex (the mutex's share)",
                                   "shmkit::map, no lock (the container's share)",
                                   "shmkit::btree_map + shmkit::Mutex"};
  const auto keys = shuffled_keys(n);
  const int repeats = n >= 1'000'000 ? (s.quick ? 1 : 3) : s.repeats;
  // --quick at 1M keys: only the goal's pair, without the warm-up fill (a smoke test's figures
  // include first-touch page faults; the full run's do not).
  const bool short_run = s.quick && n >= 1'000'000;
  const bool warm = !short_run;
  std::vector<double> ins[kVariants], look[kVariants];
  const std::string seg_name = s.tag + "-state";
  const std::size_t seg_bytes = std::max<std::size_t>(64u << 20, n * 160);
  auto record = [&](int v, const MapTimes& t) {
    ins[v].push_back(t.insert_ns);
    look[v].push_back(t.lookup_ns);
  };
  for (int rep = 0; rep < repeats; ++rep) {
    {
      std::map<std::uint64_t, std::uint64_t> m;
      std::mutex mu;
      record(0, time_map(m, mu, keys, warm));
    }
    Segment::remove(seg_name);
    {
      Segment seg = Segment::create(seg_name, seg_bytes);
      auto& mu = seg.construct<Mutex>("lock");
      {
        auto& bt = seg.construct<BtreeMap>("btree");
        record(5, time_map(bt, mu, keys, warm));
        seg.destroy<BtreeMap>("btree");
      }
      auto& m = seg.construct<StockMap>("map");
      if (!short_run) {
        record(1, time_map(m, mu, keys, warm));
        auto& m2 = seg.construct<PooledMap>("pooled", std::less<>(), PooledMap::allocator_type(&seg.manager()));
        m.clear();
        record(2, time_map(m2, mu, keys, warm));
        m2.clear();
        NoLock none;
        record(4, time_map(m, none, keys, warm));
        std::map<std::uint64_t, std::uint64_t> private_map;
        record(3, time_map(private_map, mu, keys, warm));
      }
    }
    Segment::remove(seg_name);
  }
  for (int i = 0; i < kVariants; ++i) {
    if (ins[i].empty()) continue;
    for (int op = 0; op < 2; ++op) {
      const std::string what = op == 0 ? "insert" : "lookup";
      Result r{.id = "state/map/" + nk + "/" + what + "/" + ids[i], .group = "state", .metric = Metric::time,
               .label = std::string(labels[i]) + ", " + what + " " + nk};
      std::vector<double>& v = op == 0 ? ins[i] : look[i];
      r.latency.median_ns = median_of(v);
      r.latency.p99_ns = *std::max_element(v.begin(), v.end());
      r.latency.max_ns = r.latency.p99_ns;
      r.latency.samples = v.size();
      r.note = "ns per operation, median of " + std::to_string(v.size()) + " runs of " + std::to_string(n);
      out.add(r);
    }
  }
}

// Find by name through shmkit's object directory, on a writable segment and on a read-only view,
// against Boost's own named index (locked, as Segment::find did before the directory) in the
// same rounds, so the ratio compares like with like.
void find_by_name(const Settings& s, Results& out) {
  const char* ids[3] = {"state/find-by-name", "state/find-by-name/view", "state/find-by-name/boost-index"};
  const char* labels[3] = {"Segment::find<T>(name), 1000 objects (object directory)",
                           "SegmentView::find<T>(name), 1000 objects (object directory)",
                           "Boost index find (segment manager lock), 1000 objects"};
  bool any = false;
  for (const char* id : ids) any = any || selected(s, id);
  if (!any) return;
  const std::string seg_name = s.tag + "-names";
  Segment::remove(seg_name);
  std::vector<double> samples[3];
  {
    Segment seg = Segment::create(seg_name, 8u << 20);
    std::vector<std::string> names;
    for (int i = 0; i < 1000; ++i) {
      names.push_back("sensor/" + std::to_string(i * 7919) + "/value");
      seg.construct<std::uint64_t>(names.back(), std::uint64_t(i));
    }
    const SegmentView view = SegmentView::open(seg_name);
    std::uint64_t sum = 0;
    const int rounds = s.quick ? 20 : 100;
    for (int round = 0; round < rounds; ++round) {
      std::int64_t t0 = now_ns();
      for (const auto& n : names) sum += *seg.find<std::uint64_t>(n);
      samples[0].push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(names.size()));
      t0 = now_ns();
      for (const auto& n : names) sum += *view.find<std::uint64_t>(n);
      samples[1].push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(names.size()));
      t0 = now_ns();
      for (const auto& n : names) sum += seg.manager().find<shmkit::detail::ObjectUnit>(n.c_str()).second;
      samples[2].push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(names.size()));
    }
    asm volatile("" : : "r"(sum));
  }
  Segment::remove(seg_name);
  const double boost_median = median_of(samples[2]);
  for (int i = 0; i < 3; ++i) {
    Result r{.id = ids[i], .group = "state", .metric = Metric::time, .label = labels[i]};
    r.latency = summarize(samples[i]);
    r.note = "ns per find; p99/max over rounds of 1000 finds";
    if (i < 2 && boost_median > 0) {
      r.extra["vs_boost_index"] = median_of(samples[i]) / boost_median;
      r.note += "; " + std::to_string(median_of(samples[i]) / boost_median).substr(0, 4) +
                "x the Boost index lookup in the same rounds";
    }
    if (selected(s, ids[i])) out.add(r);
  }
}

// Child: creates the segment (memfd: serves it on its own thread) and waits for `stop`.
int attach_server(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  SegmentOptions o;
  o.backend = arg(a, "backend") == "memfd" ? Backend::memfd : Backend::named;
  o.max_size = arg_u64(a, "max", 0);  // 0: a fixed size; else a segment that may grow to it
  const std::string name = arg(a, "segment");
  Segment::remove(name, o.backend);
  {
    Segment seg = Segment::create(name, arg_u64(a, "bytes"), o);
    seg.construct<std::uint64_t>("root", std::uint64_t{42});
    ctl->ready.fetch_add(1);
    // Asleep until told to stop, like the floor server: a thread that woke every millisecond
    // would keep this CPU out of idle and make the server's wake-up look cheaper than it is.
    futex_wait_change(ctl->stop, 0);
  }
  Segment::remove(name, o.backend);
  return 0;
}

// One byte with room for one fd (SCM_RIGHTS): the floor's only message, both ways.
struct FdMessage {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  FdMessage() {
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
  }
  FdMessage(const FdMessage&) = delete;  // m points into this object
  FdMessage& operator=(const FdMessage&) = delete;
};

// Child: the floor of both attach paths. Holds a memfd and a POSIX shm object of `bytes` each
// and hands the memfd to whoever connects to `socket` (SCM_RIGHTS; no handshake, no checks).
// It sleeps in epoll_wait(), as shmkit's server does, so each attach wakes it.
int fd_server(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  const auto bytes = static_cast<off_t>(arg_u64(a, "bytes"));
  const std::string shm = arg(a, "shm"), path = arg(a, "socket");
  const int memfd = ::memfd_create("shmkit-bench-floor", MFD_CLOEXEC);
  const int shmfd = ::shm_open(shm.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (memfd < 0 || shmfd < 0 || ::ftruncate(memfd, bytes) != 0 || ::ftruncate(shmfd, bytes) != 0) return 1;
  ::close(shmfd);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return 1;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  ::unlink(path.c_str());
  const int listener = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (listener < 0 || ::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 16) != 0)
    return 1;
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  if (ep < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) != 0) return 1;
  ctl->ready.fetch_add(1);
  for (;;) {
    epoll_event got{};
    if (::epoll_wait(ep, &got, 1, -1) < 0 && errno != EINTR) return 1;
    const int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
      std::fprintf(stderr, "fd-server: accept4: %s\n", std::strerror(errno));
      return 1;
    }
    if (ctl->stop.load() != 0) {  // the parent's last connect only wakes us
      ::close(c);
      break;
    }
    FdMessage msg;
    cmsghdr* cm = CMSG_FIRSTHDR(&msg.m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
    if (::sendmsg(c, &msg.m, MSG_NOSIGNAL) < 0) std::fprintf(stderr, "fd-server: sendmsg: %s\n", std::strerror(errno));
    ::close(c);
  }
  ::close(ep);
  ::close(listener);
  ::unlink(path.c_str());
  ::shm_unlink(shm.c_str());
  ::close(memfd);
  return 0;
}

// Child: the floor under every attach in which the server acts. Asleep in futex_wait on
// futex_ping; each change is answered in futex_pong. The parent spins on the answer, so what it
// times is one wake-up of a sleeping process (and the two cache lines), nothing else.
int wake_server(const Args& a) {
  ControlMap ctl = ControlMap::open(arg(a, "ctl"));
  ctl->ready.fetch_add(1);
  std::uint32_t seen = 0;
  for (;;) {
    futex_wait_change(ctl->futex_ping, seen);
    seen = ctl->futex_ping.load(std::memory_order_acquire);
    if (ctl->stop.load() != 0) return 0;
    ctl->futex_pong.store(seen, std::memory_order_release);
  }
}

// True while every thread of process `pid` sleeps (state S in /proc/<pid>/task/*/stat).
bool asleep(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* tasks = ::opendir(dir.c_str());
  if (tasks == nullptr) return false;
  bool all = true, any = false;
  while (const dirent* e = ::readdir(tasks)) {
    if (e->d_name[0] == '.') continue;
    std::FILE* f = std::fopen((dir + "/" + e->d_name + "/stat").c_str(), "r");
    if (f == nullptr) continue;  // that thread just ended
    char line[512] = {};
    const std::size_t n = std::fread(line, 1, sizeof line - 1, f);
    std::fclose(f);
    const char* close_paren = std::strrchr(line, ')');  // the command name may hold spaces and ')'
    any = true;
    all = all && n > 0 && close_paren != nullptr && close_paren[1] == ' ' && close_paren[2] == 'S';
  }
  ::closedir(tasks);
  return any && all;
}

// Waits (untimed) until `server` sleeps: an attach wakes an idle server, not one still busy
// with the previous client's detach (which would make its wake-up look cheaper than it is).
void await_asleep(const Child& server) {
  if (!spin_until([&] { return asleep(server.pid()); }, 10.0))
    throw std::runtime_error("attach: the server process never went to sleep");
}

// Wakes the wake server and spins until it answers (timed).
void wake_and_wait(Control& ctl) {
  const std::uint32_t next = ctl.futex_ping.load(std::memory_order_relaxed) + 1;
  ctl.futex_ping.store(next, std::memory_order_release);
  futex(ctl.futex_ping, FUTEX_WAKE, 1);
  if (!spin_until([&] { return ctl.futex_pong.load(std::memory_order_acquire) == next; }, 10.0))
    throw std::runtime_error("attach wake floor: the wake server did not answer in 10 s");
}

// A mapping made by a floor attach; unmapped outside the timed part.
struct FloorMap {
  void* p = MAP_FAILED;
  std::size_t bytes = 0;
  ~FloorMap() {
    if (p != MAP_FAILED) ::munmap(p, bytes);
  }
};

// fstat for the size, map, close: what both floors do once they hold an fd. `map_bytes` (when
// not 0) maps that much instead of the object's size; `touch` reads the first page, which makes
// the kernel build the mapping's page tables as any real attach does.
void map_fd(int fd, FloorMap& m, std::size_t map_bytes = 0, bool touch = false) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0)
    throw std::runtime_error(std::string("attach floor: no fd to map: ") + std::strerror(errno));
  m.bytes = map_bytes != 0 ? map_bytes : static_cast<std::size_t>(st.st_size);
  m.p = ::mmap(nullptr, m.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (m.p == MAP_FAILED) throw std::runtime_error("attach floor: mmap failed");
  if (touch) (void)*static_cast<const volatile std::uint64_t*>(m.p);
}

// Connects to the floor server and receives its fd; throws if it sent none (saying what came).
int receive_floor_fd(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), std::min(path.size(), sizeof addr.sun_path - 1));
  const int sock = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (sock < 0 || ::connect(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (sock >= 0) ::close(sock);
    throw std::runtime_error("attach floor: connect failed");
  }
  FdMessage msg;
  msghdr& m = msg.m;
  int fd = -1;
  // Spins on the reply (as shmkit's client does for its first 50 us): the server's wake-up is
  // in the floor, the client's own is not.
  ssize_t got;
  while ((got = ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)) < 0 && (errno == EAGAIN || errno == EINTR)) {
  }
  // The server sends and closes at once: a non-blocking recvmsg that saw the queue empty and
  // then the close reports EOF with the packet queued behind it (see receive_packet in
  // lib/src/linux/control_protocol.cpp). Look once more.
  if (got == 0) {
    m.msg_controllen = sizeof msg.control;  // the first recvmsg set it to the 0 bytes it received
    got = ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  }
  const int e = errno;
  if (got > 0)
    if (const cmsghdr* cm = CMSG_FIRSTHDR(&m); cm != nullptr && cm->cmsg_type == SCM_RIGHTS)
      std::memcpy(&fd, CMSG_DATA(cm), sizeof(int));
  ::close(sock);
  if (fd < 0)
    throw std::runtime_error("attach floor: no fd (recvmsg " + std::to_string(got) + ", " +
                             (got < 0 ? std::strerror(e) : "flags " + std::to_string(m.msg_flags)) + ")");
  return fd;
}

// Both backends' creators and the two floor servers run at once (they sleep), and the parent
// alternates batches of attaches between the ways, so load drift hits all alike. At 64 MiB a
// memfd segment that may grow to 1 GiB (all of it mapped by each attach) is attached as well.
void attach_cost(const Settings& s, Results& out, std::uint64_t bytes) {
  enum Way { named, memfd, floor_shm, floor_fd, floor_wake, memfd_growable, floor_touch, floor_touch_wide, kWays };
  constexpr std::uint64_t kGrowableMax = std::uint64_t{1} << 30;
  const bool growable = bytes < kGrowableMax;
  const char* ids[kWays] = {"named", "memfd", "floor-shm-open", "floor-fd-pass", "floor-wake", "memfd",
                            "floor-fd-touch", "floor-fd-touch"};
  const char* labels[kWays] = {"open named by name (open, validate, map, find)",
                               "attach memfd (connect, fd, validate, map, find)",
                               "floor: shm_open + fstat + mmap, nothing checked",
                               "floor: fd over a Unix socket + fstat + mmap, nothing checked",
                               "floor: wake a server asleep in futex_wait, spin for its answer",
                               "attach memfd that may grow to 1 GiB (maps 1 GiB), this size in use",
                               "floor: fd over a Unix socket + fstat + mmap of this size + read the first page",
                               "floor: the same fd, 1 GiB mapped + read the first page"};
  // At 1 GiB there is no wider maximum to map: the two "1 GiB mapped" ways do not run.
  auto runs = [&](int w) { return growable || (w != memfd_growable && w != floor_touch_wide); };
  Result r[kWays];
  bool any = false;
  for (int w = 0; w < kWays; ++w) {
    const bool wide = w == memfd_growable || w == floor_touch_wide;
    const std::string size = wide ? "1G-max-" + size_name(bytes) + "-used" : size_name(bytes);
    r[w] = Result{.id = "state/attach/" + std::string(ids[w]) + "/" + size, .group = "state",
                  .metric = Metric::time, .label = labels[w], .size = bytes};
    any = any || (selected(s, r[w].id) && runs(w));
  }
  if (!any) return;
  ControlMap ctl = ControlMap::create(s);
  const std::string name[2] = {s.tag + "-attn", s.tag + "-attm"};
  const std::string floor_shm_name = "/" + s.tag + "-attf", floor_socket = "/tmp/" + s.tag + "-attf.sock";
  const std::string growable_name = s.tag + "-attg";
  Child server[5];
  for (int b = 0; b < 2; ++b)
    server[b] = spawn(s, "attach-server", {{"ctl", ctl.name()}, {"backend", b == 1 ? "memfd" : "named"},
                                           {"segment", name[b]}, {"bytes", std::to_string(bytes)}, {"cpu", "1"},
                                           {"cpus", std::to_string(s.cpus)}});
  server[2] = spawn(s, "fd-server", {{"ctl", ctl.name()}, {"shm", floor_shm_name}, {"socket", floor_socket},
                                     {"bytes", std::to_string(bytes)}, {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}});
  server[3] = spawn(s, "wake-server", {{"ctl", ctl.name()}, {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}});
  if (growable)
    server[4] = spawn(s, "attach-server", {{"ctl", ctl.name()}, {"backend", "memfd"}, {"segment", growable_name},
                                           {"bytes", std::to_string(bytes)}, {"max", std::to_string(kGrowableMax)},
                                           {"cpu", "1"}, {"cpus", std::to_string(s.cpus)}});
  if (growable)
    await_ready(*ctl, 5, {&server[0], &server[1], &server[2], &server[3], &server[4]});
  else
    await_ready(*ctl, 4, {&server[0], &server[1], &server[2], &server[3]});
  std::vector<double> samples[kWays];
  const int batches = s.quick ? 5 : 30, per_batch = 10;
  for (int batch = 0; batch < batches + 1; ++batch) {
    // The growable memfd right after the fixed one: the two the goal compares see the same load.
    for (const int w : {named, memfd, memfd_growable, floor_shm, floor_fd, floor_touch, floor_touch_wide, floor_wake}) {
      if (!runs(w)) continue;
      SegmentOptions o;
      o.backend = w == memfd || w == memfd_growable ? Backend::memfd : Backend::named;
      for (int i = 0; i < per_batch; ++i) {
        const bool floor_fd_way = w == floor_fd || w == floor_touch || w == floor_touch_wide;
        if (w == memfd || floor_fd_way || w == floor_wake || w == memfd_growable)
          await_asleep(server[w == memfd ? 1 : floor_fd_way ? 2 : w == floor_wake ? 3 : 4]);
        const std::int64_t t0 = now_ns();
        std::int64_t t1 = 0;
        if (w == named || w == memfd || w == memfd_growable) {
          Segment seg = Segment::open(w == memfd_growable ? growable_name : name[w], o);
          if (seg.find<std::uint64_t>("root") == nullptr) throw std::runtime_error("attach: root not found");
          t1 = now_ns();
        } else if (w == floor_wake) {
          wake_and_wait(*ctl);
          t1 = now_ns();
        } else {  // unmapping is not part of attaching
          FloorMap m;
          map_fd(w == floor_shm ? ::shm_open(floor_shm_name.c_str(), O_RDWR | O_CLOEXEC, 0) : receive_floor_fd(floor_socket), m,
                 w == floor_touch_wide ? static_cast<std::size_t>(kGrowableMax) : 0, w == floor_touch || w == floor_touch_wide);
          t1 = now_ns();
        }
        if (batch > 0) samples[w].push_back(static_cast<double>(t1 - t0));  // batch 0 warms up
      }
    }
  }
  futex_store_wake_all(ctl->stop, 1);
  futex_store_wake_all(ctl->futex_ping, ctl->futex_ping.load() + 1);  // the wake server sleeps on this word
  try {
    (void)receive_floor_fd(floor_socket);  // wakes the floor server to see `stop`
  } catch (const std::exception&) {
  }
  for (auto& c : server) c.join();
  for (int w = 0; w < kWays; ++w) {
    if (!runs(w)) continue;
    r[w].latency = summarize(samples[w]);
    out.add(r[w]);
  }
}

// Memory advice (SegmentOptions::memory): what pre-faulting and huge pages change for the time
// to create or open a 64 MiB segment and for the first 1 MiB frame written into it afterwards
// (the page faults a fresh mapping pays on first touch). In-process: page tables are per mapping.
void advice_cost(const Settings& s, Results& out) {
  constexpr std::uint64_t kBytes = 64u << 20, kFrame = 1u << 20;
  struct Variant {
    const char* name;
    MemoryAdvice advice;
  };
  const Variant variants[] = {{"plain", {}}, {"prefault", {.prefault = true}},
                              {"prefault+hugepages", {.prefault = true, .huge_pages = true}}};
  const std::string seg_name = s.tag + "-advice";
  const std::vector<std::byte> frame(kFrame, std::byte{0x5a});
  const int repeats = s.quick ? 2 : 8;
  for (const char* phase : {"create", "open"}) {
    for (const Variant& v : variants) {
      const std::string id = std::string("state/advice/") + phase + "/" + v.name;
      if (!selected(s, id + "/attach") && !selected(s, id + "/first-frame")) continue;
      std::vector<double> attach, first;
      for (int i = 0; i < repeats; ++i) {
        Segment::remove(seg_name);
        SegmentOptions o;
        o.backend = Backend::named;
        std::optional<Segment> creator;
        if (std::string(phase) == "open") creator.emplace(Segment::create(seg_name, kBytes, o));
        o.memory = v.advice;
        const std::int64_t t0 = now_ns();
        Segment seg = creator ? Segment::open(seg_name, o) : Segment::create(seg_name, kBytes, o);
        const std::int64_t t1 = now_ns();
        // A frame-sized write into memory this mapping has not touched (the middle of the segment).
        std::byte* target = reinterpret_cast<std::byte*>(&seg.manager()) + kBytes / 2;
        std::memcpy(target, frame.data(), kFrame);
        const std::int64_t t2 = now_ns();
        attach.push_back(static_cast<double>(t1 - t0));
        first.push_back(static_cast<double>(t2 - t1));
      }
      Segment::remove(seg_name);
      Result a{.id = id + "/attach", .group = "state", .metric = Metric::time,
               .label = std::string(phase) + " 64 MiB, " + v.name, .size = kBytes};
      a.latency = summarize(attach);
      out.add(a);
      Result f{.id = id + "/first-frame", .group = "state", .metric = Metric::time,
               .label = std::string("first 1 MiB frame after ") + phase + ", " + v.name, .size = kFrame};
      f.latency = summarize(first);
      out.add(f);
    }
  }
}

}  // namespace

void register_state_roles() {
  register_role("attach-server", attach_server);
  register_role("fd-server", fd_server);
  register_role("wake-server", wake_server);
}

void run_state(const Settings& s, Results& out) {
  map_cases(s, out, 10'000);
  map_cases(s, out, 1'000'000);
  find_by_name(s, out);
  for (std::uint64_t bytes : {std::uint64_t{64} << 20, std::uint64_t{1} << 30}) attach_cost(s, out, bytes);
  advice_cost(s, out);
}

}  // namespace shmkit::bench
