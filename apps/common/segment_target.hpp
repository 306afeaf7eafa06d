// How the apps name the segment they work on: --backend values, and "open by name the way the
// writer made it" (memfd socket if a server answers, else named; a path means the file backend).
#pragma once

#include <string>

#include "shmkit/segment.hpp"
#include "shmkit/segment_view.hpp"

namespace shmkit::apps {

// "auto" or a backend's name (shmkit::to_string), "file" only when allow_file;
// std::invalid_argument otherwise.
Backend parse_backend(const std::string& text, bool allow_file);

// Opens `name` (or attaches to `socket` when given). Backend::automatic tries the memfd socket
// of that name, then the named backend; a name with a '/' is a file.
Segment open_target(const std::string& name, const std::string& socket, Backend backend,
                    SegmentOptions options = {});
// The same, read-only (a file segment is peeked: its session and crash report are untouched).
SegmentView open_target_view(const std::string& name, const std::string& socket, Backend backend,
                             SegmentOptions options = {});

}  // namespace shmkit::apps
