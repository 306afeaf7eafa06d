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
// Exit codes: 0 success, 2 data mismatch, 3 unexpected shmkit::Error, 4 usage, 7 attached
// though an error was expected, 8 another error than expected.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

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
    return 4;
  } catch (const Error& e) {
    std::fprintf(stderr, "memfd helper (pid %d): shmkit error %s: %s\n", static_cast<int>(::getpid()),
                 to_string(e.errc()), e.what());
    return 3;
  }
}
