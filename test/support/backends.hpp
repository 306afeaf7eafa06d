// The backends every backend-independent test runs on (BOOST_DATA_TEST_CASE over this list), and
// segment names that suit each of them.
//
// test_backends() is every backend of this build that can be used here, straight from the
// registry (all_backends(), filtered by backend_available()): a backend added to SHMKIT_BACKENDS
// is tested without touching the tests. A test that is inherently about one backend does not
// silently skip the others: it names its backend (or filters this list) and says why.
//
// memfd segments are served by their creator over ControlServer::default_socket_path(name), so
// Segment::open(name, options_for(b)) works from this process and from exec'd helpers alike. A
// file segment's name is its path: unique_name(prefix, Backend::file) is a path in this test
// process's scratch directory (removed when the process exits).
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include "child_process.hpp"
#include "shmkit/backend.hpp"
#include "shmkit/segment.hpp"

namespace shmkit {
inline std::ostream& operator<<(std::ostream& os, Backend b) { return os << to_string(b); }
}  // namespace shmkit

namespace shmkit::test {

inline std::vector<Backend> test_backends() {
  std::vector<Backend> out;
  for (Backend b : all_backends())
    if (backend_available(b)) out.push_back(b);
  return out;
}

// True for a backend whose segment names are file-system paths (the file backend).
inline bool name_is_path(Backend b) { return b == Backend::file; }

// A directory of this test process for file segments, created on first use and removed (with
// whatever is left in it) when the process exits normally. Readable by others (0755): a test
// may run a child under another uid that opens a segment in it.
inline const std::string& scratch_dir() {
  struct Dir {
    std::string path;
    Dir() {
      namespace fs = std::filesystem;
      const fs::path p = fs::temp_directory_path() / unique_name("shmkit-test-files");
      fs::create_directories(p);
      fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
      path = p.string();
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

// A name unique to this process and call, suitable for backend `b`: a plain name, or for a
// backend whose names are paths, a path in scratch_dir().
inline std::string unique_name(const std::string& prefix, Backend b) {
  if (name_is_path(b)) return (std::filesystem::path(scratch_dir()) / (unique_name(prefix) + ".shm")).string();
  return unique_name(prefix);
}

inline SegmentOptions options_for(Backend b) {
  SegmentOptions o;
  o.backend = b;
  return o;
}

}  // namespace shmkit::test
