// memfd segments: create sealed, and validate received ones before trusting them.
#include "memfd_mapping.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <limits>

#include "reservation_check.hpp"
#include "shmkit/error.hpp"

namespace shmkit::detail {
namespace {

// Kernel ABI values missing from Debian 12's headers (MFD_NOEXEC_SEAL is Linux 6.3).
constexpr unsigned kMfdNoexecSeal = 0x0008U;
constexpr int kSealFutureWrite = 0x0010;

// The shrink seal makes the mapping safe from SIGBUS: nobody can shrink the file under us (what
// the header's size says is there stays there), and F_SEAL_SEAL keeps anyone from adding
// F_SEAL_WRITE later. Growth stays open for segments with a larger maximum (F_SEAL_GROW otherwise).
constexpr int kRequiredSeals = F_SEAL_SHRINK | F_SEAL_SEAL;

// memfd_create(2): the longest name is NAME_MAX minus the "memfd:" prefix.
constexpr std::size_t kMaxMemfdName = 249;

constexpr auto kMaxOff = static_cast<std::size_t>(std::numeric_limits<off_t>::max());

// The header's page plus the allocator's first: less cannot be a segment.
constexpr std::uint64_t kMinMemfdSegment = 8 * 1024;

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

const char* file_kind(mode_t mode) noexcept {
  if (S_ISFIFO(mode)) return "a pipe";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "a regular file";
}

void* map_fd(int fd, std::size_t size, bool writable, const char* what) {
  void* data = ::mmap(nullptr, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) {
    const int e = errno;
    throw_os_error(std::string("cannot map ") + what + " of " + std::to_string(size) + " bytes" +
                       (e == ENOMEM ? ": not enough address space or memory (RLIMIT_AS?)" : ""), e);
  }
  return data;
}

// Wraps a fresh mapping; unmaps it if even the wrapper cannot be allocated.
std::unique_ptr<MemfdMapping> adopt(UniqueFd fd, void* data, std::size_t size, std::size_t backing, bool writable) {
  try {
    return std::make_unique<MemfdMapping>(std::move(fd), data, size, backing, writable);
  } catch (...) {
    ::munmap(data, size);
    throw;
  }
}

}  // namespace

MemfdMapping::MemfdMapping(UniqueFd fd, void* data, std::size_t size, std::size_t backing_size, bool writable) noexcept
    : fd_(std::move(fd)), backing_size_(backing_size) {
  set(data, size, writable);
}

bool MemfdMapping::refresh_backing_size() const noexcept {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0 || static_cast<std::size_t>(st.st_size) <= backing_size_.load(std::memory_order_relaxed)) return false;
  backing_size_.store(static_cast<std::size_t>(st.st_size), std::memory_order_relaxed);
  return true;
}

void MemfdMapping::extend(std::uint64_t bytes, const std::string& what) {
  extend_file(fd_.get(), bytes, ReservationKind::memory, what);
}

MemfdMapping::~MemfdMapping() {
  if (data() != nullptr) ::munmap(data(), size());
}

std::unique_ptr<MemfdMapping> create_memfd_mapping(const std::string& name, std::size_t size, std::size_t max_size) {
  if (name.size() > kMaxMemfdName || name.find('\0') != std::string::npos)
    throw Error(Errc::invalid_argument, "memfd name '" + name + "' must have at most " +
                                            std::to_string(kMaxMemfdName) + " bytes and no NUL");
  if (max_size == 0) max_size = size;
  if (size == 0 || size > kMaxOff || max_size < size || max_size > kMaxOff)
    throw Error(Errc::invalid_argument, "memfd segment size " + std::to_string(size) + " (maximum " +
                                            std::to_string(max_size) + ") is not a valid file size");
  check_reservation(size, ReservationKind::memory, -1, "memfd segment '" + name + "'");
  const unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  UniqueFd fd(::memfd_create(name.c_str(), flags | kMfdNoexecSeal));
  // Kernels before 6.3 reject the unknown flag with EINVAL (the name was validated above).
  if (!fd && errno == EINVAL) fd.reset(::memfd_create(name.c_str(), flags));
  if (!fd) {
    const int e = errno;
    if (e == ENOSYS) throw Error(Errc::unsupported, "this kernel has no memfd_create (Linux 3.17+ needed)", e);
    throw_os_error("cannot create memfd '" + name + "'", e);
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    const int e = errno;
    if (e == EFBIG)
      throw Error(Errc::resource_limit, "cannot size memfd '" + name + "' to " + std::to_string(size) +
                                            " bytes: larger than the file-size limit (RLIMIT_FSIZE)", e);
    throw_os_error("cannot size memfd '" + name + "' to " + std::to_string(size) + " bytes", e);
  }
  // Only the owner may reopen it through /proc/<pid>/fd: a read-only peer of another uid cannot
  // turn its read-only fd into a writable one (memfds are created mode 0777).
  if (::fchmod(fd.get(), 0600) != 0) throw_os_error("cannot chmod memfd '" + name + "'", errno);
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | (max_size == size ? F_SEAL_GROW : 0)) != 0 ||
      ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL) != 0)
    throw_os_error("cannot seal memfd '" + name + "'", errno);
  // The maximum is mapped (address space only: the file's size decides what is backed).
  void* data = map_fd(fd.get(), max_size, true, "memfd segment");
  // Reserve the pages now: out of memory (or a memory cgroup limit) is an Error here, not a
  // SIGBUS when a page is first touched. The fd closes on error: nothing is left behind.
  const int memfd = fd.get();
  auto mapping = adopt(std::move(fd), data, max_size, size, true);  // unmaps and closes on error
  int rc = 0;
  do {
    rc = ::posix_fallocate(memfd, 0, static_cast<off_t>(size));
  } while (rc == EINTR);
  if (rc == ENOSPC || rc == ENOMEM)
    throw Error(Errc::out_of_memory, "cannot reserve " + std::to_string(size) + " bytes for memfd '" + name +
                                         "': not enough memory (create a smaller segment, or free memory)", rc);
  if (rc == EFBIG)
    throw Error(Errc::resource_limit, "cannot reserve " + std::to_string(size) + " bytes for memfd '" + name +
                                          "': larger than the file-size limit (RLIMIT_FSIZE)", rc);
  if (rc != 0 && rc != EOPNOTSUPP)
    throw Error(errc_from_errno(rc), "cannot reserve " + std::to_string(size) + " bytes for memfd '" + name + "'", rc);
  return mapping;
}

std::unique_ptr<MemfdMapping> map_received_memfd(UniqueFd fd, std::size_t map_size, bool writable) {
  if (!fd) throw Error(Errc::invalid_argument, "map_received_memfd: no fd");
  if (map_size == 0 || map_size > kMaxOff)
    throw Error(Errc::invalid_argument, "map_received_memfd: size " + std::to_string(map_size) + " is not mappable");
  // The access mode (F_GETFL) is asked only when something already failed: the kernel enforces
  // it at mmap, and one system call less is a noticeable share of an attach on a VM.
  auto check_access = [&] {
    const int access = ::fcntl(fd.get(), F_GETFL);
    if (access < 0) throw_os_error("received segment fd is unusable", errno);
    if ((access & O_PATH) != 0) throw Error(Errc::protocol_error, "received segment fd is an O_PATH fd, not a memfd");
    if (writable && (access & O_ACCMODE) != O_RDWR)
      throw Error(Errc::permission_denied, "received memfd was not opened read-write: cannot map it writable");
    if ((access & O_ACCMODE) == O_WRONLY)
      throw Error(Errc::permission_denied, "received memfd is write-only: cannot map it");
  };
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    const int e = errno;
    check_access();
    throw_os_error("cannot fstat the received segment fd", e);
  }
  if (!S_ISREG(st.st_mode))
    throw Error(Errc::protocol_error, std::string("received segment fd is ") + file_kind(st.st_mode) + ", not a memfd");
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0) {
    const int e = errno;
    check_access();  // an O_PATH fd fails here (EBADF)
    // Only shmem/hugetlbfs files support seals: anything else is not a memfd.
    if (e == EINVAL) throw Error(Errc::protocol_error, "received segment fd is a regular file, not a memfd");
    throw_os_error("cannot read the seals of the received segment fd", e);
  }
  // A /dev/shm or tmpfs file has seals too, but also a name: a memfd is never linked.
  if (st.st_nlink != 0)
    throw Error(Errc::protocol_error, "received segment fd is a named file (link count " +
                                          std::to_string(st.st_nlink) + "), not a memfd");
  if ((seals & kRequiredSeals) != kRequiredSeals)
    throw Error(Errc::protocol_error, "received memfd has seals " + hex(static_cast<unsigned>(seals)) +
                                          " but needs F_SEAL_SHRINK|F_SEAL_SEAL: its owner could "
                                          "shrink it under our mapping");
  if (writable && (seals & (F_SEAL_WRITE | kSealFutureWrite)) != 0)
    throw Error(Errc::permission_denied, "received memfd is sealed against writing: cannot map it writable");
  // The header (validated next) says how much of it is the segment: at least its first page.
  const auto actual = static_cast<std::uint64_t>(st.st_size);
  if (actual < std::min<std::uint64_t>(map_size, kMinMemfdSegment))
    throw Error(Errc::too_small, "received memfd has " + std::to_string(actual) + " bytes: too small for a segment "
                                     "(the server announced up to " + std::to_string(map_size) + ")");
  if (actual > map_size)
    throw Error(Errc::corrupt, "received memfd has " + std::to_string(actual) + " bytes, more than the " +
                                   std::to_string(map_size) + " the server announced");
  void* data = nullptr;
  try {
    data = map_fd(fd.get(), map_size, writable, "received memfd segment");
  } catch (const Error&) {
    check_access();  // when the fd's mode forbids this mapping (EACCES), say so
    throw;
  }
  return adopt(std::move(fd), data, map_size, static_cast<std::size_t>(actual), writable);
}

}  // namespace shmkit::detail
