// The segment backend seam (internal): what every backend implements, and the registry that
// lists them. One directory per backend under lib/src/backends/, each with a backend.cmake;
// the list SHMKIT_BACKENDS in lib/CMakeLists.txt generates the registry and shmkit::Backend.
// docs/architecture.md, "Adding a backend".
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "channel_events.hpp"
#include "mapping.hpp"
#include "shmkit/backend_handle.hpp"
#include "shmkit/detail/deadline.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/segment_directory.hpp"

namespace shmkit::detail {

// One segment as a backend holds it in this process: the mapping plus the backend's extras.
// A subclass's members are destroyed before the mapping (a memfd server stops serving first).
class Attachment {
 public:
  explicit Attachment(std::unique_ptr<Mapping> mapping) noexcept : mapping_(std::move(mapping)) {}
  virtual ~Attachment() = default;
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;

  Mapping& mapping() const noexcept { return *mapping_; }
  // The backend's public handle (MemfdHandle, FileSession), or nullptr.
  virtual BackendHandle* handle() noexcept { return nullptr; }
  // Fills what only the backend knows into an info() result.
  virtual void describe(SegmentInfo&) const {}
  virtual void flush(Flush) {}
  // Writer-owned event fds for channels (channel_events.hpp), or nullptr for backends without.
  virtual ChannelEvents* channel_events() noexcept { return nullptr; }

 private:
  std::unique_ptr<Mapping> mapping_;
};

// Lays out a fresh segment in a mapping (header, segment manager) and publishes it ready.
using FormatFn = std::function<void(Mapping&)>;

class SegmentBackend {
 public:
  virtual ~SegmentBackend() = default;
  virtual Backend id() const noexcept = 0;
  // Throws Error(invalid_argument) for a name this backend cannot take. Default: the portable
  // segment-name rule (validate_segment_name).
  virtual void validate_name(std::string_view name) const;
  // Makes the backing object of `size` bytes, maps it read-write and runs `format` on it; no
  // other process sees a segment that format has not finished (or, named, an opener waits for
  // the header's ready state). Nothing is left behind when it throws.
  virtual std::unique_ptr<Attachment> create(const std::string& name, std::size_t size, const SegmentOptions& options,
                                             const FormatFn& format) const = 0;
  // Opens and maps an existing segment (read_only: kernel-enforced) and validates its header
  // with the checks below that fit the backend.
  virtual std::unique_ptr<Attachment> open(const std::string& name, const SegmentOptions& options, DeadlineNs deadline,
                                           bool read_only) const = 0;
  virtual bool remove(const std::string& name) const = 0;
  // The backend's segments on this host, for tools. Default: Error(unsupported) (no host-wide
  // place to look, as for files anywhere on disk).
  virtual std::vector<SegmentListing> list() const;
  // Removes `name` if it is stale (creator dead, nobody maps it). Default: Error(unsupported).
  virtual bool remove_if_stale(const std::string& name) const;
  // What this backend left in `directory` (for backends whose segments are files anywhere on
  // disk). Default: nothing.
  virtual std::vector<SegmentListing> list_directory(const std::string& directory) const;
  // The directory where `name` appears when it is created (for open()'s wait_for_creation).
  // Default: none, and a waiting open() polls.
  virtual std::string appearance_directory(const std::string& name, const SegmentOptions& options) const;
};

// ---- The registry (generated from SHMKIT_BACKENDS: backend_registry.cpp) ----
struct BackendEntry {
  Backend id;
  const char* name;
  bool automatic;                 // may Backend::automatic choose it (in list order)
  const SegmentBackend* backend;  // nullptr where this build does not have it
  const char* unavailable;        // then: why not
};
std::span<const BackendEntry> backend_entries() noexcept;
// The backend for `b` (automatic resolved). Error(unsupported) naming why, for one this build
// lacks; Error(invalid_argument) for a value no backend has.
const SegmentBackend& backend_for(Backend b);

// ---- Checks a backend's open() applies to the header (core/segment_header.cpp) ----
// The creator may still be formatting (named): waits until the header is ready or `deadline`.
void await_ready_header(const Mapping& mapping, std::string_view name, DeadlineNs deadline);
// The segment is complete before anyone can open it (memfd, file): it must be ready now.
void require_ready_header(const Mapping& mapping, std::string_view name);
// The header must say `expected` (how: "came over a control socket", "is a file").
void require_header_backend(const Mapping& mapping, std::string_view name, Backend expected, std::string_view how);
// The default name rule: 1 to 200 of letters, digits, '-', '_', '.'.
void validate_segment_name(std::string_view name);

}  // namespace shmkit::detail
