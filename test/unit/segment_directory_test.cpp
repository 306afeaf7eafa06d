// Host-wide listing and stale-segment reclaim (Linux: /dev/shm and /proc).
#define BOOST_TEST_MODULE segment_directory
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>
#include <boost/test/unit_test.hpp>
#include <optional>

#include "child_process.hpp"
#include "printing.hpp"
#include "segment_header.hpp"
#include "shmkit/control_server.hpp"
#include "shmkit/segment_directory.hpp"
#include "unique_fd.hpp"

using namespace shmkit;
using namespace shmkit::test;
using shmkit::detail::UniqueFd;

namespace fixtures {

std::optional<SegmentListing> listing_of(const std::string& name) {
  for (auto& l : list_segments())
    if (l.name == name && l.backend == Backend::named) return l;
  return std::nullopt;
}

// A pid that belonged to a process that has exited and been reaped.
std::int32_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

detail::SegmentHeader& header_of(Segment& s) {
  return *reinterpret_cast<detail::SegmentHeader*>(reinterpret_cast<std::byte*>(&s.manager()) -
                                                   detail::kManagerOffset);
}

struct Cleanup {
  std::string name;
  ~Cleanup() { Segment::remove(name); }
};

}  // namespace fixtures
using namespace fixtures;

BOOST_AUTO_TEST_CASE(live_segment_is_listed_and_kept) {
  Cleanup c{unique_name("shmkit-dir")};
  Segment s = Segment::create(c.name, 1 << 20);
  const auto l = listing_of(c.name);
  BOOST_REQUIRE(l.has_value());
  BOOST_TEST(l->valid);
  BOOST_TEST(l->size == std::uint64_t{1} << 20);
  BOOST_TEST(l->creator_pid == ::getpid());
  BOOST_TEST(l->creator_alive);
  BOOST_TEST(std::count(l->users.begin(), l->users.end(), ::getpid()) == 1);
  BOOST_TEST(!l->stale);
  BOOST_TEST(!remove_if_stale(c.name));
  BOOST_TEST(Segment::open(c.name).find<int>("x") == nullptr);  // still there
}

BOOST_AUTO_TEST_CASE(dead_creator_but_mapped_is_kept_then_reclaimed) {
  Cleanup c{unique_name("shmkit-dir")};
  std::optional<Segment> s = Segment::create(c.name, 1 << 20);
  s->construct<int>("x", 1);
  header_of(*s).creator_pid = dead_pid();  // as if its creator had crashed

  auto l = listing_of(c.name);
  BOOST_REQUIRE(l.has_value());
  BOOST_TEST(!l->creator_alive);
  BOOST_TEST(!l->stale);                 // we still map it
  BOOST_TEST(!remove_if_stale(c.name));  // so it is never removed
  BOOST_TEST(Segment::open(c.name).find<int>("x") != nullptr);

  s.reset();  // the last user lets go
  l = listing_of(c.name);
  BOOST_REQUIRE(l.has_value());
  BOOST_TEST(l->stale);
  BOOST_TEST(remove_if_stale(c.name));
  BOOST_TEST(!listing_of(c.name).has_value());
  BOOST_TEST(!remove_if_stale(c.name));  // nothing left
}

BOOST_AUTO_TEST_CASE(foreign_objects_are_not_listed) {
  const std::string path = "/dev/shm/" + unique_name("shmkit-foreign");
  { FILE* f = std::fopen(path.c_str(), "w"); std::fputs("not a segment", f); std::fclose(f); }
  const std::string name = path.substr(9);
  BOOST_TEST(!listing_of(name).has_value());
  BOOST_TEST(!remove_if_stale(name));  // never touches what shmkit did not make
  BOOST_TEST(::access(path.c_str(), F_OK) == 0);
  ::unlink(path.c_str());
}

// Older builds accepted names starting with '.': such a segment left by a dead creator is listed
// and reclaimed like any other; a hidden file that is not shmkit's is neither.
BOOST_AUTO_TEST_CASE(hidden_names_of_older_builds_are_listed_and_reclaimed) {
  const std::string name = unique_name("shmkit-dir");
  const std::string hidden = "." + name;
  {
    Segment s = Segment::create(name, 1 << 20);
    header_of(s).creator_pid = dead_pid();
  }
  BOOST_REQUIRE(::rename(("/dev/shm/" + name).c_str(), ("/dev/shm/" + hidden).c_str()) == 0);
  const std::string foreign = "/dev/shm/." + unique_name("shmkit-foreign");
  { FILE* f = std::fopen(foreign.c_str(), "w"); std::fputs("not a segment", f); std::fclose(f); }

  const auto l = listing_of(hidden);
  BOOST_REQUIRE(l.has_value());
  BOOST_TEST(l->size == std::uint64_t{1} << 20);
  BOOST_TEST(l->stale);
  BOOST_TEST(!listing_of(foreign.substr(9)).has_value());
  BOOST_TEST(!remove_if_stale(foreign.substr(9)));
  BOOST_TEST(!remove_if_stale("."));
  BOOST_TEST(!remove_if_stale(".."));
  BOOST_TEST(remove_if_stale(hidden));
  BOOST_TEST(::access(("/dev/shm/" + hidden).c_str(), F_OK) != 0);
  BOOST_TEST(::access(foreign.c_str(), F_OK) == 0);
  ::unlink(foreign.c_str());
}

// A socket whose owner listens but never accepts (a stopped writer) has a full backlog, where a
// blocking connect waits for ever: listing must still answer at once, and count it as live.
BOOST_AUTO_TEST_CASE(listing_does_not_hang_on_a_full_backlog) {
  const std::string name = unique_name("shmkit-backlog");
  const std::string path = ControlServer::default_socket_path(name);  // makes the private directory
  UniqueFd listener(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  BOOST_REQUIRE(::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(::listen(listener.get(), 0) == 0);
  std::vector<UniqueFd> queued;  // fill the backlog: the next non-blocking connect says EAGAIN
  for (int i = 0; i < 64; ++i) {
    UniqueFd c(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (::connect(c.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      BOOST_REQUIRE(errno == EAGAIN);
      break;
    }
    queued.push_back(std::move(c));
  }
  // In a child with an alarm: a hang kills it (SIGALRM) instead of stopping the suite.
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(10);
    for (const SegmentListing& l : list_segments())
      if (l.backend == Backend::memfd && l.name == name) ::_exit(l.valid && !l.stale ? 0 : 1);
    ::_exit(2);
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST(WIFEXITED(status), "listing hung (killed by signal " << WTERMSIG(status) << ")");
  BOOST_TEST(WEXITSTATUS(status) == 0);  // listed, and as live
  ::unlink(path.c_str());
}
