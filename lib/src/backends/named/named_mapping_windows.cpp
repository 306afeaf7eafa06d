// Named backend on Windows: a Boost.Interprocess windows_shared_memory (a pagefile-backed
// section object, CreateFileMappingA / OpenFileMappingA) mapped with mapped_region. The same
// functions as named_mapping.cpp (POSIX, shared_memory_object); seam: mapping.hpp.
//
// Lifetime differs from POSIX: the kernel counts the handles and views of a section and frees
// it when the last one closes, like a memfd segment. So
//  * there is nothing to remove: remove_named_mapping() returns false, and a segment goes away
//    when the last process that has it open unmaps it (Segment destroyed, or the process ends);
//  * a segment cannot be opened once every process using it has gone, even by name: open then
//    reports not_found. A creator that must hand a segment to a process started later keeps its
//    Segment alive until that process has opened it;
//  * a creator that crashes before formatting leaves nothing behind.
//
// Names: the segment's name is the section's name as given (letters, digits, '-', '_', '.':
// never a '\'), in this session's namespace ("Local\"), so other processes of the same logon
// session (under Wine: the same WINEPREFIX / wineserver) reach it. A name already used by
// another kind of kernel object (an event, a mutex) is refused by Windows (ERROR_INVALID_HANDLE).
//
// Sizes: a section's size is kept in whole pages. CreateFileMapping takes any size, but an opener
// asking for the size (NtQuerySection, which mapped_region uses to map "all of it") gets it
// rounded up to the page size: asked 65537, the opener sees 69632 (checked under Wine 8 and
// documented by Boost for Windows). Segment validates header.total_size == mapping size, so this
// backend rounds the size up to a whole page at create: Segment::size() and the header say
// the rounded size on every side.
//
// Memory: a section is committed at creation (SEC_COMMIT), so a size the system cannot back
// fails in create with out_of_memory (ERROR_NOT_ENOUGH_MEMORY / ERROR_COMMITMENT_LIMIT), not
// later on first touch: the counterpart of posix_fallocate on Linux. (Wine backs sections with a
// sparse file and accepts sizes up to the address space: 16 GiB created and mapped, 1 TiB created
// but not mapped, 64 TiB refused.)
//
// Permissions: `permissions` (POSIX mode bits) is not translated: the section gets the default
// security descriptor of the creating process's token (its user, SYSTEM, Administrators), which
// matches 0600, the default.
//
// Read-only opens (writable = false) open the section with FILE_MAP_READ and map it read-only:
// a write faults (access violation), as PROT_READ does on POSIX.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/windows_shared_memory.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "named_mapping.hpp"
#include "windows_error.hpp"
#include "shmkit/detail/deadline.hpp"
#include "shmkit/error.hpp"

namespace bip = boost::interprocess;

namespace shmkit::detail {
namespace {

// Built in place, step by step (each step throws bip::interprocess_exception and the caller says
// which one failed): Boost's windows_shared_memory leaves its mode uninitialized when default
// constructed, and moving one reads it (GCC 12: -Wmaybe-uninitialized), so it is never moved.
class WindowsNamedMapping final : public Mapping {
 public:
  void create_section(const std::string& name, std::size_t size) {
    section_.emplace(bip::create_only, name.c_str(), bip::read_write, size);
  }
  void open_section(const std::string& name, bip::mode_t mode) { section_.emplace(bip::open_only, name.c_str(), mode); }
  // size 0: the whole section (mapped_region asks its size: whole pages).
  void map(bip::mode_t mode, std::size_t size) {
    region_.emplace(*section_, mode, 0, size);
    set(region_->get_address(), size != 0 ? size : region_->get_size(), mode == bip::read_write);
  }

 private:
  // The handle keeps the section alive until this object goes; the view (unmapped first) too.
  std::optional<bip::windows_shared_memory> section_;
  std::optional<bip::mapped_region> region_;
};


// What a Windows error from CreateFileMapping / OpenFileMapping / MapViewOfFile means here.
Errc errc_of_windows(unsigned long code) {
  switch (code) {
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS: return Errc::already_exists;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND: return Errc::not_found;
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD: return Errc::permission_denied;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_DISK_FULL: return Errc::out_of_memory;
    case ERROR_TOO_MANY_OPEN_FILES:
    case ERROR_NO_SYSTEM_RESOURCES: return Errc::resource_limit;
    case ERROR_INVALID_NAME:
    case ERROR_FILENAME_EXCED_RANGE:
    case ERROR_INVALID_PARAMETER: return Errc::invalid_argument;
    default: return Errc::system;
  }
}

// What to do about it, for the message.
std::string hint(unsigned long code) {
  switch (code) {
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT:
      return "; not enough memory or page file to back it: create a smaller segment";
    case ERROR_INVALID_HANDLE:
      return "; the name belongs to another kind of Windows object (an event, a mutex...): use another name";
    case ERROR_TOO_MANY_OPEN_FILES:
    case ERROR_NO_SYSTEM_RESOURCES: return "; the system is out of handles or resources";
    default: return "";
  }
}

[[noreturn]] void rethrow(const bip::interprocess_exception& e, const std::string& what) {
  const unsigned long code = static_cast<unsigned long>(e.get_native_error());
  if (code == 0) throw Error(Errc::system, what + ": " + e.what());
  // Windows codes are not errnos: the code and its text go into the message, os_error() stays empty.
  throw Error(errc_of_windows(code), what + hint(code) + " (" + windows_error_text(code) + ")");
}

std::size_t page_size() noexcept {
  SYSTEM_INFO info{};
  ::GetSystemInfo(&info);
  return info.dwPageSize != 0 ? info.dwPageSize : 4096;
}

}  // namespace

std::unique_ptr<Mapping> create_named_mapping(const std::string& name, std::size_t size, std::size_t max_size,
                                              unsigned permissions) {
  if (max_size != size)
    throw Error(Errc::unsupported, "named segment '" + name + "' cannot grow on Windows (a named section keeps "
                                   "the size it was created with): create it with the size it needs (no "
                                   "max_size), or use the file backend");
  (void)permissions;  // see the top of this file
  const std::size_t page = page_size();
  if (size > SIZE_MAX - page)
    throw Error(Errc::invalid_argument, "named segment '" + name + "': size " + std::to_string(size) + " is too large");
  const std::size_t rounded = (size + page - 1) / page * page;
  auto mapping = std::make_unique<WindowsNamedMapping>();
  try {
    mapping->create_section(name, rounded);
  } catch (const bip::interprocess_exception& e) {
    const unsigned long code = static_cast<unsigned long>(e.get_native_error());
    if (code == ERROR_ALREADY_EXISTS || code == ERROR_FILE_EXISTS)
      throw Error(Errc::already_exists, "named segment '" + name +
                                            "' already exists (a process has it open): open it, or use another name");
    if (code == ERROR_INVALID_HANDLE)
      throw Error(Errc::already_exists, "cannot create named segment '" + name + "'" + hint(code));
    rethrow(e, "cannot create named segment '" + name + "' of " + std::to_string(rounded) + " bytes");
  }
  try {
    mapping->map(bip::read_write, rounded);
  } catch (const bip::interprocess_exception& e) {
    // `mapping` goes, closing the section's only handle: nothing half-created is left behind.
    rethrow(e, "cannot map named segment '" + name + "' of " + std::to_string(rounded) + " bytes");
  }
  return mapping;
}

std::unique_ptr<Mapping> open_named_mapping(const std::string& name, DeadlineNs deadline, bool writable) {
  // A section has its size from the moment it exists (CreateFileMapping sizes it): unlike POSIX
  // (shm_open, then ftruncate) there is no unsized window to wait out.
  (void)deadline;
  const bip::mode_t mode = writable ? bip::read_write : bip::read_only;
  auto mapping = std::make_unique<WindowsNamedMapping>();
  try {
    mapping->open_section(name, mode);
  } catch (const bip::interprocess_exception& e) {
    const unsigned long code = static_cast<unsigned long>(e.get_native_error());
    if (code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND)
      throw Error(Errc::not_found, "no named segment '" + name +
                                       "' (on Windows a segment exists only while some process has it open)");
    if (code == ERROR_INVALID_HANDLE)
      throw Error(Errc::not_found, "no named segment '" + name + "'" + hint(code));
    rethrow(e, "cannot open named segment '" + name + "'" + (writable ? "" : " read-only"));
  }
  try {
    mapping->map(mode, 0);
  } catch (const bip::interprocess_exception& e) {
    rethrow(e, "cannot map named segment '" + name + "'");
  }
  return mapping;
}

// Nothing to remove: the section goes when its last handle and view close. False says "nothing
// was removed"; Segment::remove(name) is then a no-op on Windows.
void widen_named_mapping(Mapping&, std::size_t size, const std::string& name) {
  throw Error(Errc::corrupt, "named segment '" + name + "' claims a maximum size of " + std::to_string(size) +
                                 " bytes, but Windows named sections cannot grow");
}

bool remove_named_mapping(const std::string& name) {
  (void)name;
  return false;
}

}  // namespace shmkit::detail
