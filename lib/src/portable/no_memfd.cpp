// memfd backend stubs for platforms without memfd_create (everything but Linux): Segment
// reports Backend::memfd as unsupported and Backend::automatic resolves to named.
#include "memfd_backend.hpp"
#include "shmkit/error.hpp"

namespace shmkit::detail {
namespace {

[[noreturn]] void unsupported() {
  throw Error(Errc::unsupported, "the memfd backend needs Linux: use Backend::named or Backend::automatic");
}

}  // namespace

bool memfd_available() noexcept { return false; }

std::string memfd_socket_path(std::string_view, const SegmentOptions&) { unsupported(); }
std::string memfd_client_socket_path(std::string_view, const SegmentOptions&) { unsupported(); }

std::unique_ptr<Mapping> create_memfd_segment(const std::string&, std::size_t) { unsupported(); }

std::unique_ptr<ControlLink> serve_memfd_segment(const Mapping&, const std::string&, const SegmentOptions&) {
  unsupported();
}

AttachedSegment attach_memfd_segment(std::string_view, const std::string&, DeadlineNs, bool) { unsupported(); }

bool remove_stale_memfd_socket(const std::string&) { unsupported(); }

}  // namespace shmkit::detail
