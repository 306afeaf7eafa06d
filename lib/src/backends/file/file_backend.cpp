// The file backend: a segment in a regular memory-mapped file that survives restarts; the
// segment's name is the file's path (file_mapping_<os>.cpp does the OS work).
#include "backend.hpp"
#include "file_mapping.hpp"
#include "file_state.hpp"
#include "segment_header.hpp"
#include "shmkit/file_session.hpp"

namespace shmkit::detail {
namespace {

class FileAttachment final : public Attachment, public FileSession {
 public:
  FileAttachment(std::unique_ptr<Mapping> mapping, bool peek) : Attachment(std::move(mapping)), peek_(peek) {}

  BackendHandle* handle() noexcept override { return this; }
  bool opened_clean() const noexcept override { return report() == nullptr || report()->clean; }
  bool opened_after_reboot() const noexcept override { return report() != nullptr && report()->other_boot; }
  bool peek() const noexcept override { return peek_; }

  void describe(SegmentInfo& info) const override {
    const FileState& file = file_state(*reinterpret_cast<const SegmentHeader*>(mapping().data()));
    info.opened_clean = opened_clean();
    info.opened_after_reboot = opened_after_reboot();
    info.sessions = file.sessions.load(std::memory_order_relaxed);
    info.unclean_sessions = file.unclean_sessions;
    info.attached = file.writers.load(std::memory_order_relaxed);
  }
  void flush(Flush mode) override {
    if (!peek_) flush_mapping(mapping(), mode == Flush::sync);
  }

 private:
  // A peek took no part in the session: it has no report.
  const FileSessionReport* report() const noexcept { return peek_ ? nullptr : file_session_report(mapping()); }
  bool peek_;
};

SegmentManager& manager_of(Mapping& m) { return *reinterpret_cast<SegmentManager*>(m.data() + kManagerOffset); }

// The file is complete before anyone can open it (created under a private name, then linked):
// there is nothing to wait for, only to validate.
void validate_file(const Mapping& m, const std::string& path) {
  require_ready_header(m, path);
  require_header_backend(m, path, Backend::file, "is a file");
}

class FileBackend final : public SegmentBackend {
 public:
  Backend id() const noexcept override { return Backend::file; }
  // The name is a path: any the file system takes.
  void validate_name(std::string_view name) const override { validate_path(std::string(name)); }

  std::unique_ptr<Attachment> create(const std::string& path, std::size_t size, std::size_t max_size,
                                     const SegmentOptions& options, const FormatFn& format) const override {
    auto out = std::make_unique<FileAttachment>(create_file_mapping(path, size, max_size, options.permissions, format),
                                                false);
    begin_file_session(out->mapping(), manager_of(out->mapping()));
    return out;
  }

  std::unique_ptr<Attachment> open(const std::string& path, const SegmentOptions&, DeadlineNs deadline,
                                   bool read_only) const override {
    if (read_only) {
      auto out = std::make_unique<FileAttachment>(peek_file_mapping(path), true);
      validate_file(out->mapping(), path);
      return out;
    }
    auto out = std::make_unique<FileAttachment>(open_file_mapping(path, deadline), false);
    validate_file(out->mapping(), path);
    begin_file_session(out->mapping(), manager_of(out->mapping()));
    return out;
  }

  bool remove(const std::string& path) const override { return remove_file_segment(path); }
  // Only the private file of a create whose creator is dead: a finished segment is never stale
  // (the file outlives its processes on purpose).
  bool remove_if_stale(const std::string& path) const override { return remove_file_leftover_if_stale(path); }
  std::vector<SegmentListing> list_directory(const std::string& directory) const override {
    return list_file_leftovers(directory);
  }
  // A new file segment is renamed into place in its own directory.
  std::string appearance_directory(const std::string& path, const SegmentOptions&) const override {
    const auto slash = path.find_last_of("/\\");
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  }
};

}  // namespace

const SegmentBackend& file_backend() {
  static const FileBackend backend;
  return backend;
}

}  // namespace shmkit::detail
