// A growable segment shared with helper processes, for the tests of segments that grow while
// mapped (segment_grow_xproc_test, segment_grow_kill_test).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "backends.hpp"
#include "child_process.hpp"
#include "shmkit/memfd_handle.hpp"
#include "shmkit/segment.hpp"

namespace shmkit::test {

// The size every growable test segment starts with.
constexpr std::size_t kGrowStartSize = 64 * 1024;

// Windows sections and mapped files keep their size (growth is Error(unsupported) there).
inline std::vector<Backend> growable_backends() {
#if defined(_WIN32)
  return {};
#else
  return test_backends();
#endif
}

// A growable segment for one test, removed afterwards; helper() starts the segment helper on it.
struct GrowSegment {
  GrowSegment(Backend b, std::size_t max) : backend(b), name(unique_name("shmkit-growx", b)) {
    SegmentOptions o = options_for(b);
    o.max_size = max;
    segment.emplace(Segment::create(name, kGrowStartSize, o));
  }
  ~GrowSegment() {
    segment.reset();
    Segment::remove(name, backend);
  }
  GrowSegment(const GrowSegment&) = delete;
  GrowSegment& operator=(const GrowSegment&) = delete;
  Segment* operator->() { return &*segment; }

  ChildProcess helper(std::vector<std::string> args) {
    std::string b = to_string(backend);
    if (const auto* memfd = segment->handle<MemfdHandle>()) b += ":" + memfd->socket_path();
    args.insert(args.begin() + 1, {b, name});
    return ChildProcess(helper_path("shmkit-test-segment-helper"), args);
  }

  Backend backend;
  std::string name;
  std::optional<Segment> segment;
};

}  // namespace shmkit::test
