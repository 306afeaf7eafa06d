// Linux memory advice: MADV_HUGEPAGE, MADV_POPULATE_{READ,WRITE} (5.14+, else touching each
// page), mlock with the RLIMIT_MEMLOCK figure in the error.
#include "memory_advice.hpp"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

namespace shmkit::detail {

namespace {

#ifndef MADV_POPULATE_READ
constexpr int MADV_POPULATE_READ = 22;
#endif
#ifndef MADV_POPULATE_WRITE
constexpr int MADV_POPULATE_WRITE = 23;
#endif

// Shared memory gets huge pages only if the kernel allows it for shmem ("advise" or better);
// madvise succeeds either way, so ask the setting, not the call.
bool shmem_huge_pages_possible() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
  std::string line;
  if (!std::getline(in, line)) return false;
  return line.find("[never]") == std::string::npos && line.find("[deny]") == std::string::npos;
}

void touch_pages(std::byte* data, std::size_t size, bool writable) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  for (std::size_t off = 0; off < size; off += page) {
    // An atomic add of zero faults the page in writable without changing what others wrote.
    if (writable)
      __atomic_fetch_add(reinterpret_cast<unsigned char*>(data + off), 0, __ATOMIC_RELAXED);
    else
      (void)__atomic_load_n(reinterpret_cast<const unsigned char*>(data + off), __ATOMIC_RELAXED);
  }
}

}  // namespace

MemoryAdvice apply_memory_advice(std::byte* data, std::size_t size, bool writable, const MemoryAdvice& want,
                                 std::string_view segment_name) {
  MemoryAdvice done;
  if (want.huge_pages && ::madvise(data, size, MADV_HUGEPAGE) == 0) done.huge_pages = shmem_huge_pages_possible();
  if (want.lock) {
    // mlock also faults every page in. The system call itself: ASan's mlock() interceptor is a
    // no-op that reports success, which would hide an RLIMIT_MEMLOCK refusal in sanitized builds.
    if (::syscall(SYS_mlock, data, size) != 0) {
      const int err = errno;
      rlimit lim{};
      ::getrlimit(RLIMIT_MEMLOCK, &lim);
      const std::string limit =
          lim.rlim_cur == RLIM_INFINITY ? "unlimited" : std::to_string(lim.rlim_cur) + " bytes";
      throw Error(err == ENOMEM || err == EPERM || err == EAGAIN ? Errc::resource_limit : errc_from_errno(err),
                  "cannot lock segment '" + std::string(segment_name) + "' (" + std::to_string(size) +
                      " bytes) into RAM: RLIMIT_MEMLOCK is " + limit +
                      "; raise it (ulimit -l, LimitMEMLOCK=) or create the segment without MemoryAdvice::lock",
                  err);
    }
    done.lock = true;
    done.prefault = true;
  }
  if (want.prefault && !done.prefault) {
    if (::madvise(data, size, writable ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0)
      touch_pages(data, size, writable);  // kernels before 5.14
    done.prefault = true;
  }
  return done;
}

}  // namespace shmkit::detail
