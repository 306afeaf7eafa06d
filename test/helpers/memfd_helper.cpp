// Child process for the memfd segment tests. Usage:
//   shmkit-test-memfd-helper serve <name> <size> <ready-fd>
//       create the segment with Backend::automatic, fill "pattern", write our pid to the
//       inherited <ready-fd>, then wait to be killed
//   shmkit-test-memfd-helper write-map <name>
//       open by name; rebuild the Board map under its mutex until board.stop
//   shmkit-test-memfd-helper check-map <name> <rounds>
//       <rounds> times: open by name, check the Board map is a whole round, detach
//   shmkit-test-memfd-helper expect-attach-error <socket> <errc-name>
//       attach_memfd(<socket>) must fail with Error(<errc-name>)
//   shmkit-test-memfd-helper adopt <fd> <name>
//       adopt_memfd(<fd>), an fd inherited from the creator (nobody serves the segment): check
//       the AdoptRecord, write the child's values and AdoptedItems; then adopt_memfd_read_only()
//       an O_RDONLY reopen of <fd> and check the view sees those writes, const
// Exit codes: 0 success, 2 data mismatch, 3 unexpected shmkit::Error, 4 usage, 7 attached
// though an error was expected, 8 another error than expected.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <type_traits>

#include "memfd_test_types.hpp"
#include "shmkit/memfd_handle.hpp"

using namespace shmkit;
using namespace shmkit::test;

namespace {

int fail(const std::string& what) {
  std::fprintf(stderr, "memfd helper (pid %d): %s\n", static_cast<int>(::getpid()), what.c_str());
  return 2;
}

SegmentOptions memfd() {
  SegmentOptions o;
  o.backend = Backend::memfd;
  o.open_timeout = std::chrono::seconds(30);
  return o;
}

int serve(const std::string& name, std::size_t size, int ready_fd) {
  SegmentOptions o;
  o.backend = Backend::automatic;
  Segment seg = Segment::create(name, size, o);
  if (seg.backend() != Backend::memfd) return fail("automatic did not choose memfd on Linux");
  auto* words = seg.construct_array<std::uint64_t>("pattern", kPatternWords, 0);
  for (std::uint64_t i = 0; i < kPatternWords; ++i) words[i] = pattern(i);
  const auto pid = static_cast<std::uint64_t>(::getpid());
  if (::write(ready_fd, &pid, sizeof pid) != static_cast<ssize_t>(sizeof pid)) return fail("cannot signal ready");
  ::close(ready_fd);
  for (;;) ::pause();
}

// Rebuilds the whole map each round: erasing and allocating keeps the allocator busy too.
int write_map(const std::string& name) {
  Segment seg = Segment::open(name, memfd());
  auto* board = seg.find<Board>("board");
  auto* map = seg.find<BoardMap>("map");
  if (board == nullptr || map == nullptr) return fail("board or map not found");
  while (board->stop.load(std::memory_order_acquire) == 0) {
    std::lock_guard lock(board->mutex);
    const std::uint64_t round = board->round + 1;
    map->clear();
    for (std::uint64_t k = 0; k < kBoardKeys; ++k) {
      auto [it, inserted] = map->try_emplace(k);
      it->second.assign(board_length(round), round);
    }
    board->round = round;
  }
  return 0;
}

int check_map(const std::string& name, std::uint64_t rounds) {
  std::uint64_t last = 0;
  for (std::uint64_t r = 0; r < rounds; ++r) {
    Segment seg = Segment::open(name, memfd());
    auto* board = seg.find<Board>("board");
    auto* map = seg.find<BoardMap>("map");
    if (board == nullptr || map == nullptr) return fail("board or map not found");
    std::lock_guard lock(board->mutex);
    const std::uint64_t round = board->round;
    if (round < last) return fail("round went back from " + std::to_string(last) + " to " + std::to_string(round));
    last = round;
    if (map->size() != kBoardKeys) return fail("map has " + std::to_string(map->size()) + " keys in round " +
                                               std::to_string(round));
    for (const auto& [key, values] : *map) {
      if (values.size() != board_length(round))
        return fail("key " + std::to_string(key) + " has " + std::to_string(values.size()) + " values in round " +
                    std::to_string(round));
      for (auto v : values)
        if (v != round) return fail("key " + std::to_string(key) + " holds " + std::to_string(v) + " in round " +
                                    std::to_string(round));
    }
    board->checks.fetch_add(1);
  }
  return 0;
}

int expect_attach_error(const std::string& socket, const char* errc_name) {
  try {
    Segment seg = attach_memfd(socket, memfd());
  } catch (const Error& e) {
    if (std::strcmp(to_string(e.errc()), errc_name) == 0) return 0;
    std::fprintf(stderr, "memfd helper: expected %s, got %s: %s\n", errc_name, to_string(e.errc()), e.what());
    return 8;
  }
  return 7;
}

// Expects f() to throw Error(want).
template <class F>
bool throws(Errc want, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    if (e.errc() == want) return true;
    std::fprintf(stderr, "memfd helper: expected %s, got %s: %s\n", to_string(want), to_string(e.errc()), e.what());
    return false;
  }
  std::fprintf(stderr, "memfd helper: expected %s, got no error\n", to_string(want));
  return false;
}

int adopt(int fd, const std::string& name) {
  if (::fcntl(fd, F_GETFD) < 0) return fail("fd " + std::to_string(fd) + " was not inherited");
  // The read-only reopen is taken before the fd is closed: /proc/self/fd/<fd>, O_RDONLY.
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  const int ro = ::open(self.c_str(), O_RDONLY | O_CLOEXEC);
  if (ro < 0) return fail("reopening " + self + " O_RDONLY: " + std::strerror(errno));

  Segment seg = adopt_memfd(fd);
  ::close(fd);  // adopt_memfd duplicated it: the segment does not need ours
  if (seg.name() != name) return fail("adopted segment is named '" + seg.name() + "', not '" + name + "'");
  if (seg.backend() != Backend::memfd || seg.info().backend != Backend::memfd) return fail("backend is not memfd");
  const MemfdHandle* h = seg.handle<MemfdHandle>();
  if (h == nullptr) return fail("no MemfdHandle");
  if (h->server() != nullptr || !h->socket_path().empty() || h->control_fd() != -1 || !h->server_alive())
    return fail("an adopted segment has no server, socket or control connection");
  if (h->fd() < 0 || h->fd() == fd || (::fcntl(h->fd(), F_GETFL) & O_ACCMODE) != O_RDWR)
    return fail("the adopted segment's fd is not its own read-write dup");

  AdoptRecord* r = seg.find<AdoptRecord>("record");
  if (r == nullptr || r->magic != kAdoptMagic) return fail("record missing or damaged");
  for (std::size_t i = 0; i < kAdoptValues; ++i)
    if (r->values[i] != adopt_value(i)) return fail("values[" + std::to_string(i) + "] is not the creator's");
  for (std::size_t i = 0; i < kAdoptValues; ++i) r->values[i] = adopted_value(i);
  auto& items = seg.construct<AdoptedItems>("from-child");  // allocates through the adopted manager
  for (std::size_t i = 0; i < kAdoptedItems; ++i) items.push_back(adopted_value(i));
  r->child_pid.store(static_cast<std::int32_t>(::getpid()));

  // An O_RDONLY fd is no writable segment, only a view.
  if (!throws(Errc::permission_denied, [&] { (void)adopt_memfd(ro); }))
    return fail("adopt_memfd of an O_RDONLY fd did not give permission_denied");
  const SegmentView v = adopt_memfd_read_only(ro);
  ::close(ro);
  const AdoptRecord* c = v.find<AdoptRecord>("record");
  static_assert(std::is_same_v<decltype(v.find<AdoptRecord>("record")), const AdoptRecord*>);
  if (c == nullptr || c->magic != kAdoptMagic) return fail("the view finds no record");
  if (static_cast<const void*>(c) == static_cast<const void*>(r) || !v.contains(c, sizeof *c))
    return fail("the view is not a mapping of its own");
  for (std::size_t i = 0; i < kAdoptValues; ++i)
    if (c->values[i] != adopted_value(i)) return fail("the view does not see values[" + std::to_string(i) + "]");
  if (c->child_pid.load() != static_cast<std::int32_t>(::getpid())) return fail("the view does not see child_pid");
  const AdoptedItems* seen = v.find<AdoptedItems>("from-child");
  if (seen == nullptr || seen->size() != kAdoptedItems) return fail("the view does not see the vector");
  for (std::size_t i = 0; i < kAdoptedItems; ++i)
    if ((*seen)[i] != adopted_value(i)) return fail("the view does not see item " + std::to_string(i));
  if (v.objects().size() != 2) return fail("the view lists " + std::to_string(v.objects().size()) + " objects, not 2");
  if (v.name() != name) return fail("the view is named '" + v.name() + "'");
  const MemfdHandle* vh = v.handle<MemfdHandle>();
  if (vh == nullptr || (::fcntl(vh->fd(), F_GETFL) & O_ACCMODE) != O_RDONLY)
    return fail("the view's fd is not O_RDONLY");
  // The kernel holds the view to read-only: its fd cannot be mapped writable.
  void* w = ::mmap(nullptr, v.size(), PROT_READ | PROT_WRITE, MAP_SHARED, vh->fd(), 0);
  if (w != MAP_FAILED) {
    ::munmap(w, v.size());
    return fail("the view's fd maps writable");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 4;
  const std::string command = argv[1];
  try {
    if (command == "serve" && argc == 5)
      return serve(argv[2], std::strtoull(argv[3], nullptr, 10), std::atoi(argv[4]));
    if (command == "write-map" && argc == 3) return write_map(argv[2]);
    if (command == "check-map" && argc == 4) return check_map(argv[2], std::strtoull(argv[3], nullptr, 10));
    if (command == "expect-attach-error" && argc == 4) return expect_attach_error(argv[2], argv[3]);
    if (command == "adopt" && argc == 4) return adopt(std::atoi(argv[2]), argv[3]);
    return 4;
  } catch (const Error& e) {
    std::fprintf(stderr, "memfd helper (pid %d): shmkit error %s: %s\n", static_cast<int>(::getpid()),
                 to_string(e.errc()), e.what());
    return 3;
  }
}
