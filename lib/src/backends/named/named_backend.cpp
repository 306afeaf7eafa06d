// The named backend: a named shared-memory object, opened by name (named_mapping_<os>.cpp).
#include "backend.hpp"
#include "named_directory.hpp"
#include "named_mapping.hpp"
#include "segment_header.hpp"

namespace shmkit::detail {
namespace {

std::string describe_existing(const std::string& name) {
  std::string why = "named segment '" + name + "' already exists";
  try {
    for (const SegmentListing& l : list_named_segments()) {
      if (l.name != name) continue;
      if (l.creator_alive) why += " and its creator (pid " + std::to_string(l.creator_pid) + ") is alive";
      else why += " and its creator (pid " + std::to_string(l.creator_pid) + ") is dead";
      if (!l.users.empty()) {
        why += l.creator_alive ? ", mapped by pid" : " but it is still mapped by pid";
        for (std::size_t i = 0; i < l.users.size() && i < 8; ++i) why += (i == 0 ? " " : ", ") + std::to_string(l.users[i]);
      }
      return why + ": reclaim_stale never removes a segment in use; open it instead";
    }
  } catch (const Error&) {
    // No directory to consult on this platform: say what we know.
  }
  return why + " and is not a stale shmkit segment (in use, or not made by shmkit): open it, or remove it";
}

std::unique_ptr<Mapping> create_reclaiming(const std::string& name, std::size_t size, std::size_t max_size,
                                           const SegmentOptions& options) {
  try {
    return create_named_mapping(name, size, max_size, options.permissions);
  } catch (const Error& e) {
    if (e.errc() != Errc::already_exists || !options.reclaim_stale) throw;
  }
  bool removed = false;
  try {
    removed = remove_named_if_stale(name);
  } catch (const Error& e) {
    if (e.errc() != Errc::unsupported) throw;
  }
  if (!removed) throw Error(Errc::already_exists, describe_existing(name));
  // Another process may create it in this instant: then already_exists, as without reclaiming.
  return create_named_mapping(name, size, max_size, options.permissions);
}

class NamedBackend final : public SegmentBackend {
 public:
  Backend id() const noexcept override { return Backend::named; }
  // Where Linux's shm_open makes its objects; platforms without it have no DirectoryWatch and poll.
  std::string appearance_directory(const std::string&, const SegmentOptions&) const override { return "/dev/shm"; }

  std::unique_ptr<Attachment> create(const std::string& name, std::size_t size, std::size_t max_size,
                                     const SegmentOptions& options, const FormatFn& format) const override {
    std::unique_ptr<Mapping> mapping = create_reclaiming(name, size, max_size, options);
    try {
      // Openers may map it already: they wait for the header's ready state, stored last.
      format(*mapping);
    } catch (...) {
      remove_named_mapping(name);
      throw;
    }
    return std::make_unique<Attachment>(std::move(mapping));
  }

  std::unique_ptr<Attachment> open(const std::string& name, const SegmentOptions&, DeadlineNs deadline,
                                   bool read_only) const override {
    std::unique_ptr<Mapping> mapping = open_named_mapping(name, deadline, !read_only);
    await_ready_header(*mapping, name, deadline);
    require_header_backend(*mapping, name, Backend::named, "was opened as a named segment");
    // A segment that may grow is mapped up to its maximum (validated: at least what is mapped).
    const std::uint64_t max = reinterpret_cast<const SegmentHeader*>(mapping->data())->max_size;
    if (max > mapping->size()) {
      if (max > kLargestMaxSize)
        throw Error(Errc::corrupt, "named segment '" + name + "' has a maximum size of " + std::to_string(max) +
                                       " bytes, beyond any segment's");
      widen_named_mapping(*mapping, static_cast<std::size_t>(max), name);
    }
    return std::make_unique<Attachment>(std::move(mapping));
  }

  bool remove(const std::string& name) const override { return remove_named_mapping(name); }
  std::vector<SegmentListing> list() const override { return list_named_segments(); }
  bool remove_if_stale(const std::string& name) const override { return remove_named_if_stale(name); }
};

}  // namespace

const SegmentBackend& named_backend() {
  static const NamedBackend backend;
  return backend;
}

}  // namespace shmkit::detail
