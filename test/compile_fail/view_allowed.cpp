// Control for the compile-fail tests (must compile): what a read-only SegmentView allows. It
// includes what they include, so a fail test cannot pass for a wrong reason such as a bad include
// path or a header that does not compile on its own.
#include <cstddef>
#include <utility>
#include <vector>

#include "shmkit/containers.hpp"
#include "shmkit/file_session.hpp"
#include "shmkit/memfd_handle.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/segment_view.hpp"

std::size_t allowed(const shmkit::SegmentView& v) {
  const shmkit::Mutex* m = v.find<shmkit::Mutex>("m");
  const std::vector<shmkit::ObjectInfo> objects = v.objects();
  std::pair<const int*, std::size_t> numbers = v.find_array<int>("numbers");
  const shmkit::vector<int>* values = v.find<shmkit::vector<int>>("values");
  const shmkit::FileSession* session = v.handle<shmkit::FileSession>();
  const shmkit::MemfdHandle* memfd = v.handle<shmkit::MemfdHandle>();
  const shmkit::SegmentInfo info = v.info();
  return objects.size() + numbers.second + (m != nullptr) + (values != nullptr ? values->size() : 0) +
         (session != nullptr && session->peek()) + (memfd != nullptr ? static_cast<std::size_t>(memfd->fd()) : 0) +
         info.size + v.size() + v.contains(numbers.first);
}
