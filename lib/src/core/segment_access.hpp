// Internal access to Segment and SegmentView for the library's own layers: backends building a
// Segment from an Attachment, channels asking whether a mapping is writable.
#pragma once

#include <memory>

#include "backend.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/segment_view.hpp"

namespace shmkit::detail {

struct SegmentAccess {
  // A Segment over what a backend attached; applies options.memory (created: a refusal removes
  // what create() made).
  static Segment make(std::unique_ptr<Attachment> attachment, std::string name, Backend backend,
                      const SegmentOptions& options, bool created);
  static SegmentView make_view(Segment segment) noexcept { return SegmentView(std::move(segment)); }
  // Opens through the registry; read_only maps a kernel-enforced read-only view.
  static Segment open(std::string_view name, const SegmentOptions& options, bool read_only);
  static bool writable(const Segment& s) noexcept { return s.writable(); }
  static Segment& segment(const SegmentView& v) noexcept { return v.segment_; }
  static Mapping& mapping(const Segment& s) noexcept;
  static ChannelEvents* channel_events(const Segment& s) noexcept;
};

}  // namespace shmkit::detail
