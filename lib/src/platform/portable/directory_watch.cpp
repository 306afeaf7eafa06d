// DirectoryWatch without a change notification API: wait() polls, 1 ms doubling to 16 ms.
#include "directory_watch.hpp"

#include <algorithm>
#include <thread>

namespace shmkit::detail {

DirectoryWatch::DirectoryWatch(const std::string&) {}
DirectoryWatch::~DirectoryWatch() = default;

void DirectoryWatch::wait(std::chrono::nanoseconds max_wait) {
  using namespace std::chrono;
  const nanoseconds step = std::min<nanoseconds>(milliseconds(1u << std::min(polls_++, 4u)), max_wait);
  std::this_thread::sleep_for(std::max<nanoseconds>(step, nanoseconds(0)));
}

}  // namespace shmkit::detail
