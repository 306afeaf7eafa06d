// shmkit::SegmentView: a read-only mapping of a segment, as a type.
//
// The kernel enforces it (named: opened O_RDONLY; memfd: the control server sends a copy
// reopened O_RDONLY; file: a peek that takes no part in the file's session), and so does the
// compiler: lookups return const T*, and there is no construct, destroy, allocator or manager.
// A view's find() takes no lock: it walks the named-object index validated against the
// segment's object epoch. What a view cannot do is a compile error (locking a Mutex found
// through it, say); what can only be checked at run time (a corrupt index) is a typed Error.
//
// Reading a container consistently through a view (its writer may change it meanwhile): keep
// the data in a Snapshot<T> (read() copies a consistent value), a broadcast channel (its
// readers need no write access: ReaderOptions::register_reader = false), or copy it and check an
// epoch the writer bumps around its changes. docs/reliability.md.
//
// Lifetimes: as for Segment: pointers a view returns are valid while the view lives.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "shmkit/segment.hpp"

namespace shmkit {

class SegmentView {
 public:
  // Opens `name` read-only (options.backend picks the backend). Errors as for Segment::open.
  static SegmentView open(std::string_view name, const SegmentOptions& options = {});

  SegmentView(SegmentView&&) noexcept = default;
  SegmentView& operator=(SegmentView&&) noexcept = default;

  // nullptr if there is no object of that name; Error(type_mismatch) for another type.
  template <class T>
  const T* find(std::string_view name) const {
    return segment_.find<T>(name);
  }
  template <class T>
  std::pair<const T*, std::size_t> find_array(std::string_view name) const {
    auto [p, n] = segment_.find_array<T>(name);
    return {p, n};
  }
  std::vector<ObjectInfo> objects() const { return segment_.objects(); }

  // The segment's size now: it follows Segment::grow in other processes.
  std::size_t size() const noexcept { return segment_.size(); }
  std::size_t max_size() const noexcept { return segment_.max_size(); }
  bool contains(const void* p, std::size_t n = 1) const noexcept { return segment_.contains(p, n); }
  const std::string& name() const noexcept { return segment_.name(); }
  Backend backend() const noexcept { return segment_.backend(); }
  SegmentInfo info() const { return segment_.info(); }
  MemoryAdvice memory_advice() const noexcept { return segment_.memory_advice(); }

  template <class Handle>
  const Handle* handle() const noexcept {
    return segment_.handle<Handle>();
  }

 private:
  friend struct detail::SegmentAccess;
  explicit SegmentView(Segment segment) noexcept : segment_(std::move(segment)) {}
  // Mapped read-only. Mutable because lookups of a Segment are non-const members; nothing
  // reached through a view is ever handed out writable.
  mutable Segment segment_;
};

}  // namespace shmkit
