// Named backend, POSIX: a Boost.Interprocess shared_memory_object (shm_open on Linux, macOS and
// the BSDs), mapped with mapped_region. The name outlives every process until removed.
#include <atomic>
#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "file_space.hpp"
#include "named_mapping.hpp"
#include "reservation_check.hpp"
#include "segment_header.hpp"
#include "shmkit/error.hpp"

namespace bip = boost::interprocess;

namespace shmkit::detail {
namespace {

class NamedMapping final : public Mapping {
 public:
  NamedMapping(bip::shared_memory_object object, bip::mapped_region region, std::size_t backing_size)
      : object_(std::move(object)), region_(std::move(region)), backing_size_(backing_size) {
    set(region_.get_address(), region_.get_size(), region_.get_mode() == bip::read_write);
  }

  std::size_t backing_size() const noexcept override { return backing_size_.load(std::memory_order_relaxed); }
  bool refresh_backing_size() const noexcept override {
    bip::offset_t now = 0;
    if (!object_.get_size(now) || static_cast<std::size_t>(now) <= backing_size_.load(std::memory_order_relaxed)) return false;
    backing_size_.store(static_cast<std::size_t>(now), std::memory_order_relaxed);
    return true;
  }
  void extend(std::uint64_t bytes, const std::string& what) override {
    extend_file(object_.get_mapping_handle().handle, bytes, ReservationKind::tmpfs, what);
  }
  void widen(std::size_t size) {
    bip::mapped_region wider(object_, region_.get_mode(), 0, size);
    region_.swap(wider);
    set(region_.get_address(), region_.get_size(), region_.get_mode() == bip::read_write);
  }

 private:
  bip::shared_memory_object object_;
  bip::mapped_region region_;
  mutable std::atomic<std::size_t> backing_size_;  // refreshed by refresh_backing_size(), from any thread
};

Errc errc_of(const bip::interprocess_exception& e) {
  switch (e.get_error_code()) {
    case bip::already_exists_error: return Errc::already_exists;
    case bip::not_found_error: return Errc::not_found;
    case bip::security_error: return Errc::permission_denied;
    case bip::out_of_space_error:
    case bip::out_of_memory_error: return Errc::out_of_memory;
    case bip::out_of_resource_error: return Errc::resource_limit;
    case bip::size_error: return Errc::too_small;
    default: return e.get_native_error() != 0 ? errc_from_errno(e.get_native_error()) : Errc::system;
  }
}

// What to do about a resource limit, for the message.
std::string limit_hint(int native) {
  switch (native) {
    case EFBIG: return ": larger than the file-size limit (RLIMIT_FSIZE); create a smaller segment or raise it";
    case ENOMEM: return ": not enough memory or address space (RLIMIT_AS?); create a smaller segment";
    case ENOSPC: return ": no space left in /dev/shm; free some, or create a smaller segment";
    case EMFILE: return ": this process has too many open files (RLIMIT_NOFILE); close some or raise it";
    case ENFILE: return ": the system has too many open files";
    default: return "";
  }
}

[[noreturn]] void rethrow(const bip::interprocess_exception& e, const std::string& what) {
  if (e.get_native_error() != 0) throw Error(errc_of(e), what + limit_hint(e.get_native_error()), e.get_native_error());
  throw Error(errc_of(e), what + ": " + e.what());
}

// Sizes the new object with ftruncate itself, not shared_memory_object::truncate(): newer Boost's
// (1.81; not 1.74) posix_fallocate()s the whole object first, and reserve_space's second fallocate
// over pages an earlier fallocate left uninitialized makes tmpfs zero every one of them
// (mm/shmem.c, SGP_FALLOC): create would clear the whole segment, several times slower, and
// leave every page resident. One reservation, reserve_space's, on every Boost version.
void set_size(bip::shared_memory_object& object, std::size_t size) {
  const int fd = object.get_mapping_handle().handle;
  while (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) throw bip::interprocess_exception(bip::error_info(errno));
  }
}

// Reserves the object's memory now (tmpfs pages), so that a full /dev/shm or a memory limit is
// an Error here rather than SIGBUS on first touch later (where the platform can reserve).
void reserve_space(bip::shared_memory_object& object, const std::string& name, std::size_t size) {
  const int rc = reserve_file_space(object.get_mapping_handle().handle, size);
  if (rc == 0 || rc == EOPNOTSUPP) return;
  if (rc == ENOSPC)
    throw Error(Errc::out_of_memory, "cannot create named segment '" + name + "' of " + std::to_string(size) +
                                         " bytes: no space left in /dev/shm (free some, or create a smaller segment)", rc);
  if (rc == EFBIG)
    throw Error(Errc::resource_limit, "cannot create named segment '" + name + "' of " + std::to_string(size) +
                                          " bytes: larger than the file-size limit (RLIMIT_FSIZE)", rc);
  throw Error(errc_from_errno(rc), "cannot reserve " + std::to_string(size) + " bytes for named segment '" + name + "'", rc);
}

}  // namespace

std::unique_ptr<Mapping> create_named_mapping(const std::string& name, std::size_t size, std::size_t max_size,
                                              unsigned permissions) {
  bip::permissions perms;
  perms.set_permissions(permissions);
  bip::shared_memory_object object;
  try {
    object = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, perms);
  } catch (const bip::interprocess_exception& e) {
    if (errc_of(e) == Errc::already_exists)
      throw Error(Errc::already_exists, "named segment '" + name + "' already exists: open it, or remove it first");
    rethrow(e, "cannot create named segment '" + name + "'");
  }
  try {
    check_reservation(size, ReservationKind::tmpfs, object.get_mapping_handle().handle, "named segment '" + name + "'");
    set_size(object, size);
    // The maximum is mapped (address space only: the object's size decides what is backed).
    bip::mapped_region region(object, bip::read_write, 0, max_size);
    reserve_space(object, name, size);
    return std::make_unique<NamedMapping>(std::move(object), std::move(region), size);
  } catch (const bip::interprocess_exception& e) {
    // Nothing half-created is left behind.
    bip::shared_memory_object::remove(name.c_str());
    rethrow(e, "cannot size or map named segment '" + name + "' to " + std::to_string(size) + " bytes");
  } catch (...) {
    bip::shared_memory_object::remove(name.c_str());
    throw;
  }
}

std::unique_ptr<Mapping> open_named_mapping(const std::string& name, DeadlineNs deadline, bool writable) {
  const bip::mode_t mode = writable ? bip::read_write : bip::read_only;
  bip::shared_memory_object object;
  try {
    object = bip::shared_memory_object(bip::open_only, name.c_str(), mode);
  } catch (const bip::interprocess_exception& e) {
    if (errc_of(e) == Errc::not_found) throw Error(Errc::not_found, "no named segment '" + name + "'");
    rethrow(e, "cannot open named segment '" + name + "'");
  }
  // The creator makes the object, then sizes it: between the two an opener sees 0 bytes.
  std::chrono::microseconds pause{50};
  for (;;) {
    bip::offset_t size = 0;
    if (!object.get_size(size)) throw Error(Errc::system, "cannot read the size of named segment '" + name + "'");
    if (size > 0) {
      try {
        // A ready segment that may grow is mapped up to its maximum at once (one not ready yet
        // is widened once it is: named_backend.cpp).
        SegmentHeader header{};
        const ssize_t got = ::pread(object.get_mapping_handle().handle, &header, sizeof header, 0);
        const std::size_t map_size =
            size_to_map(&header, got < 0 ? 0 : static_cast<std::size_t>(got), static_cast<std::size_t>(size));
        bip::mapped_region region(object, mode, 0, map_size);
        return std::make_unique<NamedMapping>(std::move(object), std::move(region), static_cast<std::size_t>(size));
      } catch (const bip::interprocess_exception& e) {
        rethrow(e, "cannot map named segment '" + name + "'");
      }
    }
    if (steady_now_ns() >= deadline)
      throw Error(Errc::timeout, "named segment '" + name +
                                     "' still has size 0: its creator has not sized it (or died first)");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds{2000});
  }
}

void widen_named_mapping(Mapping& mapping, std::size_t size, const std::string& name) {
  try {
    dynamic_cast<NamedMapping&>(mapping).widen(size);
  } catch (const bip::interprocess_exception& e) {
    rethrow(e, "cannot map named segment '" + name + "' to its maximum size of " + std::to_string(size) + " bytes");
  }
}

bool remove_named_mapping(const std::string& name) { return bip::shared_memory_object::remove(name.c_str()); }

}  // namespace shmkit::detail
