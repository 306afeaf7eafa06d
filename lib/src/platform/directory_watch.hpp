// Waiting for a name to appear in a directory (internal platform seam). Linux watches the
// directory with inotify (platform/linux/directory_watch.cpp); elsewhere, and for a directory
// that cannot be watched, wait() polls with a short backoff (platform/portable/directory_watch.cpp).
#pragma once

#include <chrono>
#include <string>

namespace shmkit::detail {

class DirectoryWatch {
 public:
  // Starts watching `dir` (empty: nothing to watch, wait() polls). Changes made after this
  // returns wake wait(); so look for the name once more after constructing, then wait.
  explicit DirectoryWatch(const std::string& dir);
  ~DirectoryWatch();
  DirectoryWatch(const DirectoryWatch&) = delete;
  DirectoryWatch& operator=(const DirectoryWatch&) = delete;

  // Returns when something in the directory may have changed, or after at most `max_wait`.
  // Spurious returns are allowed: the caller looks again.
  void wait(std::chrono::nanoseconds max_wait);

 private:
  int fd_ = -1;
  unsigned polls_ = 0;
};

}  // namespace shmkit::detail
