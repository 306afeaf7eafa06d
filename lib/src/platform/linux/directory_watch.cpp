// DirectoryWatch on Linux: inotify on the directory where the name will appear.
#include "directory_watch.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

namespace shmkit::detail {

DirectoryWatch::DirectoryWatch(const std::string& dir) {
  if (dir.empty()) return;
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) return;
  // A socket bound, a file created or renamed into place, a header finished (attributes or a
  // close after writing): any of them may mean the segment is there now.
  if (::inotify_add_watch(fd_, dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_CLOSE_WRITE) < 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

DirectoryWatch::~DirectoryWatch() {
  if (fd_ >= 0) ::close(fd_);
}

void DirectoryWatch::wait(std::chrono::nanoseconds max_wait) {
  using namespace std::chrono;
  if (fd_ < 0) {  // nothing to watch (an abstract socket, an unreadable directory): poll
    const nanoseconds step = std::min<nanoseconds>(milliseconds(1u << std::min(polls_++, 4u)), max_wait);
    std::this_thread::sleep_for(std::max<nanoseconds>(step, nanoseconds(0)));
    return;
  }
  // Capped, so that a change the watch cannot see (the name made elsewhere and linked in) is
  // still found within a tenth of a second.
  const auto ms = duration_cast<milliseconds>(std::clamp<nanoseconds>(max_wait, nanoseconds(0), milliseconds(100)));
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(ms.count())) > 0) {
    alignas(inotify_event) char buf[4096];
    while (::read(fd_, buf, sizeof buf) > 0) {
    }
  }
}

}  // namespace shmkit::detail
