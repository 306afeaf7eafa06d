// File backend on Windows: a shmkit segment in a regular file, mapped with CreateFileMapping /
// MapViewOfFile. The same interface and session protocol as file_mapping_posix.cpp (see
// file_mapping.hpp and docs/persistence.md); only the OS calls differ.
//
// Why Win32 directly and not Boost's file_mapping + file_lock: Boost's file_lock opens the file
// again by path and locks the whole file with LockFileEx, and Windows byte-range locks are
// mandatory for ReadFile/WriteFile (not for mapped views): a whole-file shared lock held by every
// session member would make every other process's plain read or copy of the file fail. It also
// has no exclusive-to-shared conversion (unlock, then lock shared, leaves a gap in which another
// opener finds the file "alone" and resets the session under a live process). On POSIX Boost's
// file_lock is fcntl(F_SETLK), whose locks belong to the process, not the open file: one close
// of any descriptor of the file drops them. So each OS keeps its own file.
//
// Session lock: one byte at offset 2^62, far beyond any segment's end (Windows locks may lie
// beyond the end of a file), so no read or write of the file's contents ever meets it.
//  * Locks belong to the file handle (like Linux OFD locks): two opens in one process are two
//    members of the session.
//  * Exclusive to shared is atomic: a handle holding the byte exclusively may also lock it shared
//    (overlapping locks of the same handle are allowed), and the first UnlockFileEx then drops
//    the exclusive lock ("the first unlock operation unlocks the exclusive lock", UnlockFileEx
//    documentation). Checked under Wine 8: another handle gets the shared lock after, and not
//    the exclusive one.
//  * A process that ends releases its locks, but Windows documents that this may take a moment
//    for a killed process: an opener in that moment finds the byte still locked and retries until
//    its deadline, as it does for a process that is starting a session.
//
// Other differences from POSIX:
//  * Publishing the complete file: it is built under a private name in the same directory, then
//    MoveFileEx(private, path) without MOVEFILE_REPLACE_EXISTING, which fails if `path` appeared
//    meanwhile, like link(2). The private file is open (FILE_SHARE_DELETE) and mapped while it is
//    renamed; Windows allows renaming a file in use, not deleting it.
//  * Space: SetEndOfFile allocates the file's clusters on NTFS, so a full disk is an error at
//    create, like posix_fallocate.
//  * remove_file_segment: as POSIX unlink, the name goes at once and mappings live on. DeleteFile
//    alone would leave the name of a file in use until its last handle closes ("delete pending":
//    a second remove, or a create at the same path, would still meet it; under Wine a second
//    DeleteFile even succeeds). So the file is first renamed to a private name beside it, which
//    Windows allows while it is open and mapped (every shmkit handle shares delete), then
//    deleted: Windows removes it when its last handle closes. A program that has the file open
//    without sharing delete makes it Error(busy).
//  * permissions (POSIX mode bits) are not translated: the file gets the directory's inherited
//    ACL, as any file a program creates.
//  * flush: FlushViewOfFile writes the dirty pages; synchronous adds FlushFileBuffers, which
//    returns when they (and the file's metadata) are on the disk.
//  * Windows error codes are not errnos: they go into the message, os_error() stays empty.
//  * Paths are ANSI (CreateFileA): what the program's code page can spell.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include "file_mapping.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "file_state.hpp"
#include "windows_error.hpp"
#include "segment_header.hpp"
#include "shmkit/error.hpp"

namespace shmkit::detail {
namespace {

// ---- Windows errors ----


Errc errc_of_windows(DWORD code) {
  switch (code) {
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS: return Errc::already_exists;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND: return Errc::not_found;
    case ERROR_ACCESS_DENIED:
    case ERROR_WRITE_PROTECT:
    case ERROR_PRIVILEGE_NOT_HELD: return Errc::permission_denied;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_USER_MAPPED_FILE: return Errc::busy;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT: return Errc::out_of_memory;
    case ERROR_TOO_MANY_OPEN_FILES:
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_FILE_TOO_LARGE: return Errc::resource_limit;
    case ERROR_INVALID_NAME:
    case ERROR_FILENAME_EXCED_RANGE:
    case ERROR_DIRECTORY:
    case ERROR_INVALID_PARAMETER: return Errc::invalid_argument;
    default: return Errc::system;
  }
}

[[noreturn]] void throw_windows_error(const std::string& what, DWORD code) {
  throw Error(errc_of_windows(code), what + " (" + windows_error_text(code) + ")");
}

bool is_directory(const std::string& path) {
  const DWORD a = ::GetFileAttributesA(path.c_str());
  return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) != 0;
}

[[noreturn]] void throw_open_error(const std::string& path, DWORD code, bool writable) {
  if (code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND)
    throw Error(Errc::not_found, "no file segment at '" + path + "'");
  if (is_directory(path)) throw Error(Errc::invalid_argument, "'" + path + "' is a directory, not a file segment");
  if (code == ERROR_ACCESS_DENIED)
    throw Error(Errc::permission_denied, "cannot open file segment '" + path + "' for " +
                                             (writable ? "reading and writing" : "reading") + " (" +
                                             windows_error_text(code) + ")");
  throw_windows_error("cannot open file segment '" + path + "'", code);
}

// ---- Handles ----

class UniqueHandle {
 public:
  explicit UniqueHandle(HANDLE h = nullptr) noexcept : h_(h == INVALID_HANDLE_VALUE ? nullptr : h) {}
  UniqueHandle(UniqueHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  UniqueHandle& operator=(UniqueHandle&&) = delete;
  ~UniqueHandle() {
    if (h_ != nullptr) ::CloseHandle(h_);
  }
  HANDLE get() const noexcept { return h_; }
  explicit operator bool() const noexcept { return h_ != nullptr; }

 private:
  HANDLE h_;
};

// ---- Session lock ----

enum class LockKind { shared, exclusive };

constexpr DWORD kLockOffsetHigh = 0x40000000;  // byte 2^62
constexpr DWORD kLockOffsetLow = 0;

OVERLAPPED lock_position() noexcept {
  OVERLAPPED o{};
  o.Offset = kLockOffsetLow;
  o.OffsetHigh = kLockOffsetHigh;
  return o;
}

// Non-blocking; false if another handle holds a conflicting lock.
bool try_lock(HANDLE file, LockKind kind) {
  OVERLAPPED o = lock_position();
  const DWORD flags = LOCKFILE_FAIL_IMMEDIATELY | (kind == LockKind::exclusive ? LOCKFILE_EXCLUSIVE_LOCK : 0);
  if (::LockFileEx(file, flags, 0, 1, 0, &o)) return true;
  const DWORD code = ::GetLastError();
  if (code == ERROR_LOCK_VIOLATION || code == ERROR_IO_PENDING) return false;
  throw_windows_error("LockFileEx on a file segment", code);
}

// Drops one lock of this handle on the byte: the exclusive one first, when it holds both.
bool unlock_one(HANDLE file) noexcept {
  OVERLAPPED o = lock_position();
  return ::UnlockFileEx(file, 0, 1, 0, &o) != 0;
}

// msync(MS_SYNC) / msync(MS_ASYNC).
bool flush_view(void* data, std::size_t size, HANDLE file, bool synchronous) noexcept {
  if (!::FlushViewOfFile(data, size)) return false;
  return !synchronous || ::FlushFileBuffers(file);
}

class FileMapping final : public Mapping {
 public:
  FileMapping(UniqueHandle file, UniqueHandle section, void* data, std::size_t size, bool first, bool writable = true)
      : file_(std::move(file)), section_(std::move(section)) {
    set(data, size, writable);
    report_.first_in_session = first;
  }
  ~FileMapping() override {
    end_session();
    ::UnmapViewOfFile(data());
    // Unlocked explicitly: Windows releases a closed handle's locks "eventually", an explicit
    // unlock at once. (Every lock this handle holds; only a creator or a session member has one.)
    while (locked_ > 0 && unlock_one(file_.get())) --locked_;
  }

  HANDLE file() const noexcept { return file_.get(); }
  FileSessionReport& report() noexcept { return report_; }
  const FileSessionReport& report() const noexcept { return report_; }
  void mark_attached() noexcept { attached_ = true; }
  void count_lock(int delta) noexcept { locked_ += delta; }

 private:
  // Orderly close: everything written reaches the disk before the file says "nobody attached".
  void end_session() noexcept {
    if (!attached_) return;
    FileState& file = file_state(*reinterpret_cast<SegmentHeader*>(data()));
    flush_view(data(), size(), file_.get(), true);
    if (file.writers.fetch_sub(1, std::memory_order_acq_rel) == 1)
      file.last_clean_close_unix_ns = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count());
    flush_view(data(), kManagerOffset, file_.get(), true);
  }

  UniqueHandle file_;     // closing it releases the session lock, also when the process dies
  UniqueHandle section_;  // the file mapping object behind the view
  FileSessionReport report_;
  bool attached_ = false;
  int locked_ = 0;  // locks this handle holds on the session byte
};

}  // namespace

void validate_path(const std::string& path) {
  if (path.empty() || path.size() > 4000 || path.find('\0') != std::string::npos)
    throw Error(Errc::invalid_argument, "file segment path '" + path + "' must have 1 to 4000 characters and no NUL");
}

namespace {

// A view of the whole file (size bytes): read-write, or read-only for a peek.
std::pair<UniqueHandle, void*> map_file(HANDLE file, std::size_t size, const std::string& path, bool writable = true) {
  UniqueHandle section(::CreateFileMappingA(file, nullptr, writable ? PAGE_READWRITE : PAGE_READONLY, 0, 0, nullptr));
  if (!section) throw_windows_error("cannot map file segment '" + path + "' (CreateFileMapping)", ::GetLastError());
  void* p = ::MapViewOfFile(section.get(), writable ? FILE_MAP_READ | FILE_MAP_WRITE : FILE_MAP_READ, 0, 0, size);
  if (p == nullptr) throw_windows_error("cannot map file segment '" + path + "' (MapViewOfFile)", ::GetLastError());
  return {std::move(section), p};
}

// The size of the segment file behind `file`, checked to be a regular file that can hold one.
std::size_t checked_file_size(HANDLE file, const std::string& path) {
  BY_HANDLE_FILE_INFORMATION info{};
  if (!::GetFileInformationByHandle(file, &info))
    throw_windows_error("cannot read the attributes of file segment '" + path + "'", ::GetLastError());
  if ((info.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_DEVICE)) != 0 ||
      ::GetFileType(file) != FILE_TYPE_DISK)
    throw Error(Errc::invalid_argument, "'" + path + "' is not a regular file");
  const std::uint64_t size64 = (static_cast<std::uint64_t>(info.nFileSizeHigh) << 32) | info.nFileSizeLow;
  if (size64 > SIZE_MAX) throw Error(Errc::too_small, "file '" + path + "' is larger than the address space");
  const auto size = static_cast<std::size_t>(size64);
  if (size < kManagerOffset + 1024)
    throw Error(Errc::too_small, "file '" + path + "' is " + std::to_string(size) +
                                     " bytes: too small to be a shmkit segment (truncated, or not made by shmkit)");
  return size;
}

HANDLE open_existing(const std::string& path, bool writable) {
  // FILE_SHARE_DELETE: a creator may rename its private file while openers elsewhere have theirs.
  const HANDLE h = ::CreateFileA(path.c_str(), writable ? GENERIC_READ | GENERIC_WRITE : GENERIC_READ,
                                 FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                                 FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) throw_open_error(path, ::GetLastError(), writable);
  return h;
}


}  // namespace

std::unique_ptr<Mapping> create_file_mapping(const std::string& path, std::size_t size, std::size_t max_size,
                                             unsigned permissions, const std::function<void(Mapping&)>& format) {
  (void)permissions;  // see the top of this file
  validate_path(path);
  if (max_size != size)
    throw Error(Errc::unsupported, "file segment '" + path + "' cannot grow on Windows (a mapped view keeps its "
                                   "file's size): create it with the size it needs (no max_size)");
  if (::GetFileAttributesA(path.c_str()) != INVALID_FILE_ATTRIBUTES)
    throw Error(Errc::already_exists, "file segment '" + path + "' already exists: open it, or remove it first");
  // Built under a private name in the same directory, then moved into place: an opener finds
  // either no file or a complete one, and a crash during create leaves only the private file.
  static std::atomic<unsigned> counter{0};
  const std::string tmp =
      path + ".shmkit-new-" + std::to_string(::GetCurrentProcessId()) + "-" + std::to_string(counter++);
  struct Deleter {
    const std::string& p;
    ~Deleter() { ::DeleteFileA(p.c_str()); }  // after a successful move: nothing there, a no-op
  } delete_tmp{tmp};
  UniqueHandle file(::CreateFileA(tmp.c_str(), GENERIC_READ | GENERIC_WRITE,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, CREATE_NEW,
                                  FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!file) throw_open_error(path, ::GetLastError(), true);
  // Sizing allocates the clusters: a full disk is an error here, not a fault on some later write.
  LARGE_INTEGER end{};
  end.QuadPart = static_cast<LONGLONG>(size);
  if (!::SetFilePointerEx(file.get(), end, nullptr, FILE_BEGIN) || !::SetEndOfFile(file.get()))
    throw_windows_error("cannot size file segment '" + path + "' to " + std::to_string(size) + " bytes",
                        ::GetLastError());
  if (!try_lock(file.get(), LockKind::exclusive))
    throw Error(Errc::busy, "file segment '" + path + "': its private file is locked by another process");
  auto [section, data] = map_file(file.get(), size, path);
  auto mapping = std::make_unique<FileMapping>(std::move(file), std::move(section), data, size, true);
  mapping->count_lock(+1);
  format(*mapping);
  if (!flush_view(mapping->data(), size, mapping->file(), true))
    throw_windows_error("cannot write file segment '" + path + "'", ::GetLastError());
  if (!::MoveFileExA(tmp.c_str(), path.c_str(), MOVEFILE_WRITE_THROUGH)) {
    const DWORD code = ::GetLastError();
    if (code == ERROR_ALREADY_EXISTS || code == ERROR_FILE_EXISTS)
      throw Error(Errc::already_exists, "file segment '" + path + "' already exists: open it, or remove it first");
    throw_windows_error("cannot put file segment '" + path + "' in place (MoveFileEx)", code);
  }
  return mapping;  // holds the exclusive lock: begin_file_session turns it into a shared one
}

std::unique_ptr<Mapping> peek_file_mapping(const std::string& path) {
  validate_path(path);
  UniqueHandle file(open_existing(path, false));
  const std::size_t size = checked_file_size(file.get(), path);
  auto [section, data] = map_file(file.get(), size, path, false);
  return std::make_unique<FileMapping>(std::move(file), std::move(section), data, size, false, false);
}

std::unique_ptr<Mapping> open_file_mapping(const std::string& path, DeadlineNs deadline) {
  validate_path(path);
  UniqueHandle file(open_existing(path, true));
  const std::size_t size = checked_file_size(file.get(), path);
  // Alone (exclusive) starts a session; otherwise join it (shared). Neither: someone is starting
  // a session right now (or a process just died holding the lock), which takes moments.
  bool first = false;
  std::chrono::microseconds pause{50};
  for (;;) {
    if (try_lock(file.get(), LockKind::exclusive)) {
      first = true;
      break;
    }
    if (try_lock(file.get(), LockKind::shared)) break;
    if (steady_now_ns() >= deadline)
      throw Error(Errc::timeout, "file segment '" + path + "' stayed locked by a process starting a session; "
                                 "try again or raise SegmentOptions::open_timeout");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds{5000});
  }
  const HANDLE locked = file.get();
  try {
    auto [section, data] = map_file(file.get(), size, path);
    auto mapping = std::make_unique<FileMapping>(std::move(file), std::move(section), data, size, first);
    mapping->count_lock(+1);
    return mapping;
  } catch (...) {
    unlock_one(locked);  // the handle is still ours (not moved): released at once, not "eventually"
    throw;
  }
}

const FileSessionReport& begin_file_session(Mapping& mapping, SegmentManager& manager) {
  auto& fm = dynamic_cast<FileMapping&>(mapping);
  FileSessionReport& r = fm.report();
  record_session_start(mapping, manager, r);
  fm.mark_attached();
  // On disk, the file says "in use" before this process changes a byte of it.
  if (!flush_view(mapping.data(), kManagerOffset, fm.file(), true))
    throw_windows_error("cannot write the header of a file segment", ::GetLastError());
  if (r.first_in_session) {
    // Exclusive to shared without a gap: add the shared lock, then drop the exclusive one.
    if (!try_lock(fm.file(), LockKind::shared))
      throw Error(Errc::system, "cannot turn the exclusive session lock of a file segment into a shared one");
    fm.count_lock(+1);
    if (!unlock_one(fm.file()))
      throw_windows_error("cannot release the exclusive session lock of a file segment", ::GetLastError());
    fm.count_lock(-1);
  }
  return r;
}

const FileSessionReport* file_session_report(const Mapping& mapping) noexcept {
  const auto* fm = dynamic_cast<const FileMapping*>(&mapping);
  return fm != nullptr ? &fm->report() : nullptr;
}

void flush_mapping(Mapping& mapping, bool synchronous) {
  auto* fm = dynamic_cast<FileMapping*>(&mapping);
  if (fm == nullptr) return;
  if (!flush_view(mapping.data(), mapping.size(), fm->file(), synchronous))
    throw_windows_error("flushing a file segment failed", ::GetLastError());
}

bool remove_file_segment(const std::string& path) {
  validate_path(path);
  static std::atomic<unsigned> removals{0};
  const std::string doomed = path + ".shmkit-removed-" + std::to_string(::GetCurrentProcessId()) + "-" +
                             std::to_string(removals.fetch_add(1, std::memory_order_relaxed));
  DWORD code = 0;
  if (::MoveFileExA(path.c_str(), doomed.c_str(), 0)) {
    if (::DeleteFileA(doomed.c_str())) return true;
    code = ::GetLastError();
    // Not deletable after all (opened meanwhile without sharing delete): the name goes back.
    if (!::MoveFileExA(doomed.c_str(), path.c_str(), 0))
      throw_windows_error("cannot remove file segment '" + path + "': it is left renamed to '" + doomed + "'", code);
  } else {
    code = ::GetLastError();
  }
  if (code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND) return false;
  if (code == ERROR_SHARING_VIOLATION || code == ERROR_USER_MAPPED_FILE || code == ERROR_ACCESS_DENIED) {
    // Open without sharing delete (another program), or not ours to delete: a handle that shares
    // nothing can be had only when nobody else has the file open.
    const HANDLE probe = ::CreateFileA(path.c_str(), GENERIC_READ, 0, nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    const DWORD probe_code = probe == INVALID_HANDLE_VALUE ? ::GetLastError() : 0;
    if (probe != INVALID_HANDLE_VALUE) ::CloseHandle(probe);
    if (code != ERROR_ACCESS_DENIED || probe_code == ERROR_SHARING_VIOLATION)
      throw Error(Errc::busy, "cannot remove file segment '" + path + "': a process has it open without sharing "
                              "delete (not a shmkit Segment): close it first (" + windows_error_text(code) + ")");
  }
  throw_windows_error("cannot remove file segment '" + path + "'", code);
}

std::vector<SegmentListing> list_file_leftovers(const std::string&) {
  throw Error(Errc::unsupported, "listing the leftovers of unfinished file segment creates is not supported on Windows");
}

bool remove_file_leftover_if_stale(const std::string&) { return false; }

}  // namespace shmkit::detail
