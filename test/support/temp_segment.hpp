// A segment that lives for one test and is removed afterwards (also when a check throws). Its
// name suits the backend (unique_name(prefix, backend): a path in the scratch directory for the
// file backend), so one test body runs on every backend of test_backends().
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "backends.hpp"
#include "child_process.hpp"
#include "shmkit/segment.hpp"

namespace shmkit::test {

struct TempSegment {
  explicit TempSegment(Backend b, std::size_t size = 1 << 20, const std::string& prefix = "shmkit-test")
      : TempSegment(b, unique_name(prefix, b), size) {}
  // With a name of the caller's (it must suit the backend: a path for Backend::file).
  TempSegment(Backend b, const std::string& segment_name, std::size_t size) : backend(b), name(segment_name) {
    segment.emplace(Segment::create(name, size, options_for(b)));
  }
  ~TempSegment() {
    segment.reset();
    Segment::remove(name, backend);
  }
  TempSegment(const TempSegment&) = delete;
  TempSegment& operator=(const TempSegment&) = delete;

  Segment& operator*() { return *segment; }
  Segment* operator->() { return &*segment; }

  Backend backend;
  std::string name;
  std::optional<Segment> segment;
};

}  // namespace shmkit::test
