#include "segment_target.hpp"

#include <stdexcept>

#include "shmkit/memfd_handle.hpp"

namespace shmkit::apps {

Backend parse_backend(const std::string& text, bool allow_file) {
  const std::optional<Backend> b = text == "auto" ? Backend::automatic : backend_from_string(text);
  if (!b || *b == Backend::automatic ? text != "auto" : (*b == Backend::file && !allow_file)) {
    std::string names = "auto";
    for (Backend each : all_backends())
      if (each != Backend::file || allow_file) names += ", " + std::string(to_string(each));
    throw std::invalid_argument("--backend must be one of " + names + ", not '" + text + "'");
  }
  return *b;
}

namespace {

// Backend::automatic: a name with '/' is a file; otherwise the memfd socket of that name if a
// server answers, else the named backend.
template <class Result, class Open, class Attach>
Result open_as_made(const std::string& name, const std::string& socket, Backend backend, SegmentOptions options,
                    Open open, Attach attach) {
  if (!socket.empty()) return attach(socket, options);
  if (backend == Backend::automatic) {
    if (name.find('/') != std::string::npos) {
      options.backend = Backend::file;
      return open(name, options);
    }
    options.backend = Backend::memfd;
    try {
      return open(name, options);
    } catch (const Error& e) {
      if (e.errc() != Errc::not_found && e.errc() != Errc::unsupported) throw;
    }
    options.backend = Backend::named;
    return open(name, options);
  }
  options.backend = backend;
  return open(name, options);
}

}  // namespace

Segment open_target(const std::string& name, const std::string& socket, Backend backend, SegmentOptions options) {
  return open_as_made<Segment>(
      name, socket, backend, std::move(options), [](const std::string& n, const SegmentOptions& o) { return Segment::open(n, o); },
      [](const std::string& s, const SegmentOptions& o) { return attach_memfd(s, o); });
}

SegmentView open_target_view(const std::string& name, const std::string& socket, Backend backend,
                             SegmentOptions options) {
  return open_as_made<SegmentView>(
      name, socket, backend, std::move(options),
      [](const std::string& n, const SegmentOptions& o) { return SegmentView::open(n, o); },
      [](const std::string& s, const SegmentOptions& o) { return attach_memfd_read_only(s, o); });
}

}  // namespace shmkit::apps
