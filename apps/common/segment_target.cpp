#include "segment_target.hpp"

#include <stdexcept>

namespace shmkit::apps {

Backend parse_backend(const std::string& text, bool allow_file) {
  if (text == "auto") return Backend::automatic;
  if (text == "named") return Backend::named;
  if (text == "memfd") return Backend::memfd;
  if (text == "file" && allow_file) return Backend::file;
  throw std::invalid_argument("--backend must be auto, named, memfd" + std::string(allow_file ? " or file" : "") +
                              ", not '" + text + "'");
}

Segment open_target(const std::string& name, const std::string& socket, Backend backend, SegmentOptions options) {
  if (!socket.empty()) {
    options.backend = Backend::memfd;
    return Segment::attach(socket, options);
  }
  if (backend == Backend::automatic) {
    if (name.find('/') != std::string::npos) {
      options.backend = Backend::file;
      return Segment::open(name, options);
    }
    options.backend = Backend::memfd;
    try {
      return Segment::open(name, options);
    } catch (const Error& e) {
      if (e.errc() != Errc::not_found && e.errc() != Errc::unsupported) throw;
    }
    options.backend = Backend::named;
    return Segment::open(name, options);
  }
  options.backend = backend;
  return Segment::open(name, options);
}

}  // namespace shmkit::apps
