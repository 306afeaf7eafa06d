// The header checks backends apply when they open a segment, and the default name rule.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "backend.hpp"
#include "process_identity.hpp"
#include "segment_header.hpp"

namespace shmkit::detail {

namespace {

constexpr std::size_t kMaxNameLength = 200;

const SegmentHeader& header_of(const Mapping& mapping, std::string_view name) {
  if (mapping.size() < sizeof(SegmentHeader))
    validate_header(SegmentHeader{}, mapping.size(), mapping.backing_size(), name);
  return *reinterpret_cast<const SegmentHeader*>(mapping.data());
}

// validate_header against the object's size; a grow in another process may have published a
// larger size after that was read (it extends the object first): read it again, a few times.
void validate_mapping(const SegmentHeader& h, const Mapping& mapping, std::string_view name) {
  for (int attempt = 0;; ++attempt) {
    try {
      validate_header(h, mapping.size(), mapping.backing_size(), name);
      return;
    } catch (const Error& e) {
      if (e.errc() != Errc::too_small || attempt >= 3 || !mapping.refresh_backing_size()) throw;
    }
  }
}

// A damaged segment whose creator is gone is most likely left over from a crash: say so.
void validate_blaming_crash(const SegmentHeader& h, const Mapping& mapping, std::string_view name) {
  try {
    validate_mapping(h, mapping, name);
  } catch (const Error& e) {
    if ((e.errc() != Errc::corrupt && e.errc() != Errc::too_small) || h.creator_pid <= 0 ||
        process_alive(h.creator_pid, h.creator_start_time))
      throw;
    throw Error(e.errc(), e.message() + " [its creator, pid " + std::to_string(h.creator_pid) +
                              ", is dead: a leftover of a crash? remove it, or create with reclaim_stale]");
  }
}

}  // namespace

void validate_segment_name(std::string_view name) {
  // Names travel into shm_open, socket paths and file names: keep them to a portable alphabet.
  // A first letter or digit keeps out ".", ".." and hidden names, which listings would not show.
  if (name.empty() || name.size() > kMaxNameLength)
    throw Error(Errc::invalid_argument, "segment name '" + std::string(name.substr(0, 64)) +
                                            (name.size() > 64 ? "...' (" + std::to_string(name.size()) + " characters)" : "'") +
                                            " must have 1 to " + std::to_string(kMaxNameLength) + " characters");
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.')
      throw Error(Errc::invalid_argument, "segment name '" + std::string(name) +
                                              "' may contain only letters, digits, '-', '_' and '.'");
  }
  if (!alnum(name.front()))
    throw Error(Errc::invalid_argument, "segment name '" + std::string(name) + "' must start with a letter or a digit");
}

void await_ready_header(const Mapping& mapping, std::string_view name, DeadlineNs deadline) {
  const SegmentHeader& h = header_of(mapping, name);
  // Creators size the mapping before they format it: one this small is no segment being made,
  // whatever its bytes say (a Windows section is whole pages, so a tiny foreign one has a header).
  if (mapping.size() < kManagerOffset + 1024) validate_header(h, mapping.size(), mapping.backing_size(), name);
  std::chrono::microseconds pause{20};
  while (!header_is_ready(h)) {
    const bool looks_ours = h.magic == 0 || h.magic == kSegmentMagic;
    if (!looks_ours) break;  // validate_header says what it is
    // A state no creator writes, or no creator at all, is damage, not a creator still at work.
    const std::uint32_t state = h.state.load(std::memory_order_acquire);
    if (h.magic == kSegmentMagic && (state != kInitializing || h.creator_pid <= 0) && state != kReady)
      throw Error(Errc::corrupt, "segment '" + std::string(name) + "' has a damaged header (state " +
                                     std::to_string(state) + ", creator pid " + std::to_string(h.creator_pid) +
                                     "): something wrote over it; remove it and create it again");
    if (steady_now_ns() >= deadline) {
      const bool creator_alive = h.creator_pid != 0 && process_alive(h.creator_pid, h.creator_start_time);
      if (h.magic == kSegmentMagic && !creator_alive)
        throw Error(Errc::corrupt, "segment '" + std::string(name) + "' was never finished: its creator (pid " +
                                       std::to_string(h.creator_pid) + ") died while initializing it; remove it");
      throw Error(Errc::timeout, "segment '" + std::string(name) +
                                     "' is not ready: its creator is still initializing it, or it was not made "
                                     "by shmkit");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds{2000});
  }
  validate_blaming_crash(h, mapping, name);
}

void require_ready_header(const Mapping& mapping, std::string_view name) {
  const SegmentHeader& h = header_of(mapping, name);
  if (h.magic == kSegmentMagic && !header_is_ready(h)) {
    const std::uint32_t state = h.state.load(std::memory_order_acquire);
    if (state != kInitializing)
      throw Error(Errc::corrupt, "segment '" + std::string(name) + "' has a damaged header (state " +
                                     std::to_string(state) + "): something wrote over it; remove it and create it again");
    throw Error(Errc::corrupt, "segment '" + std::string(name) + "' was never finished: remove it");
  }
  validate_blaming_crash(h, mapping, name);
}

void require_header_backend(const Mapping& mapping, std::string_view name, Backend expected, std::string_view how) {
  const SegmentHeader& h = header_of(mapping, name);
  if (h.backend != static_cast<std::uint32_t>(expected))
    throw Error(Errc::corrupt, "segment '" + std::string(name) + "' " + std::string(how) + " but its header says "
                               "backend '" + to_string(static_cast<Backend>(h.backend)) + "'");
}

bool SegmentBackend::remove_if_stale(const std::string&) const {
  throw Error(Errc::unsupported, std::string("backend '") + to_string(id()) +
                                     "' cannot tell stale segments from live ones on this platform");
}

std::vector<SegmentListing> SegmentBackend::list() const {
  throw Error(Errc::unsupported, std::string("backend '") + to_string(id()) + "' has no host-wide list of segments");
}

std::vector<SegmentListing> SegmentBackend::list_directory(const std::string&) const { return {}; }
std::string SegmentBackend::appearance_directory(const std::string&, const SegmentOptions&) const { return {}; }

void SegmentBackend::validate_name(std::string_view name) const { validate_segment_name(name); }

const SegmentBackend& backend_for(Backend b) {
  const Backend resolved = resolve_backend(b);
  for (const BackendEntry& e : backend_entries()) {
    if (e.id != resolved) continue;
    if (e.backend == nullptr)
      throw Error(Errc::unsupported, std::string("backend '") + e.name + "' is not available in this build: " +
                                         e.unavailable);
    return *e.backend;
  }
  throw Error(Errc::invalid_argument, "backend " + std::to_string(static_cast<unsigned>(b)) + " does not exist");
}

}  // namespace shmkit::detail

namespace shmkit {

const char* to_string(Backend b) noexcept {
  if (b == Backend::automatic) return "automatic";
  for (const detail::BackendEntry& e : detail::backend_entries())
    if (e.id == b) return e.name;
  return "unknown";
}

std::optional<Backend> backend_from_string(std::string_view name) noexcept {
  if (name == "automatic") return Backend::automatic;
  for (const detail::BackendEntry& e : detail::backend_entries())
    if (name == e.name) return e.id;
  return std::nullopt;
}

std::vector<Backend> all_backends() {
  std::vector<Backend> out;
  for (const detail::BackendEntry& e : detail::backend_entries()) out.push_back(e.id);
  return out;
}

bool backend_available(Backend b) noexcept {
  if (b == Backend::automatic) return true;
  for (const detail::BackendEntry& e : detail::backend_entries())
    if (e.id == b) return e.backend != nullptr;
  return false;
}

std::string backend_unavailable_reason(Backend b) {
  if (b == Backend::automatic) return {};
  for (const detail::BackendEntry& e : detail::backend_entries())
    if (e.id == b) return e.backend != nullptr ? std::string() : std::string(e.unavailable);
  return "no backend has the value " + std::to_string(static_cast<unsigned>(b));
}

Backend resolve_backend(Backend b) {
  if (b != Backend::automatic) return b;
  for (const detail::BackendEntry& e : detail::backend_entries())
    if (e.automatic && e.backend != nullptr) return e.id;
  throw Error(Errc::unsupported, "no backend of this build can serve Backend::automatic");
}

}  // namespace shmkit
