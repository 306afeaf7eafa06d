// shmkit::Segment: a managed shared-memory segment that holds named objects.
//
// One API over every backend (shmkit/backend.hpp); what a backend offers beyond it is a handle
// (handle<MemfdHandle>(), handle<FileSession>()). A segment starts with shmkit's header (magic,
// format, layout fingerprint, creator), followed by a Boost.Interprocess segment manager that
// allocates named objects and container memory. open() validates the header before trusting
// anything else in the mapping.
//
// Lifetimes: a Segment object is this process's mapping; destroying it unmaps, nothing more.
// The segment itself lives on until removed (named: Segment::remove(name); it outlives every
// process otherwise) or until the last process lets go (memfd). Objects found in it (T& / T*)
// are valid while the Segment that returned them is alive.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <tuple>

#include <boost/interprocess/exceptions.hpp>

#include "shmkit/allocator.hpp"
#include "shmkit/backend.hpp"
#include "shmkit/backend_handle.hpp"
#include "shmkit/control_server.hpp"
#include "shmkit/detail/object_tag.hpp"
#include "shmkit/error.hpp"
#include "shmkit/shareable.hpp"

namespace shmkit {

// Segment::flush(): wait until the data is on disk, or only schedule the write-back.
enum class Flush : std::uint8_t { sync = 0, async = 1 };

// Advice for large segments, applied to this process's mapping by create() and open()/attach().
struct MemoryAdvice {
  // Fault every page in now (MADV_POPULATE_*, else touching each page), so the first frames
  // pay no page faults. Costs attach time proportional to the size.
  bool prefault = false;
  // Ask for transparent huge pages (MADV_HUGEPAGE). Where the kernel gives shared memory none
  // (transparent_hugepage/shmem_enabled "never"), nothing changes and memory_advice() says so.
  bool huge_pages = false;
  // mlock the mapping (implies prefault): Error(resource_limit) naming RLIMIT_MEMLOCK if refused.
  bool lock = false;
};

// Every member has a default, so designated initializers may name any subset warning-free.
struct SegmentOptions {
  Backend backend = Backend::named;
  // Access mode of what create() makes (the shm object, file or control socket).
  unsigned permissions = 0600;
  // How long open() waits for a segment whose creator is still initializing it (memfd: bounds
  // the connect and the whole handshake).
  std::chrono::milliseconds open_timeout{2000};
  // open(): how long to wait for a segment that does not exist yet (0: Error(not_found) at
  // once). Linux wakes as soon as the name appears (inotify on /dev/shm, the socket's or the
  // file's directory); elsewhere, and for abstract sockets, the wait polls every few ms.
  std::chrono::milliseconds wait_for_creation{0};
  // create(), named backend: if a segment of this name exists but is stale (its creator died,
  // told apart from pid reuse by the process start time, and no live process maps it), remove
  // it and create afresh. A segment any live process uses is never touched: Error(already_exists).
  bool reclaim_stale = false;

  // ---- memfd backend ----
  // The control socket: create() serves the segment there, open() attaches there. Empty means
  // ControlServer::default_socket_path(name); a leading '@' names the Linux abstract namespace.
  std::string socket_path = {};
  // open(): the uids whose control server this client accepts (the server's SO_PEERCRED, checked
  // before anything is sent). Empty: this process's effective uid or root.
  std::vector<std::uint32_t> trusted_server_uids = {};
  // create(): who may attach, limits and callbacks of the segment's ControlServer (its
  // `permissions` and `abstract_namespace` are taken from the fields above).
  ControlServerOptions control = {};
  // create(): serve on a thread of the server's own. False: the application drives
  // handle<MemfdHandle>()->server()->handle_events() from its own event loop (poll its fd()).
  bool serve_on_thread = true;

  // ---- all backends ----
  MemoryAdvice memory = {};

  // ---- Growth (create(); memfd, file, and named on POSIX: Windows sections cannot grow) ----
  // Bytes the segment may grow to (Segment::grow). Every process maps this much address space
  // up front, but memory (or disk) is committed only for the segment's current size, so growing
  // never remaps. 0: the size given to create (the segment cannot grow).
  std::size_t max_size = 0;
  // Automatic growth, for every process using the segment: when an object or a container
  // allocation does not fit, the segment grows by at least this many bytes (up to max_size)
  // and the allocation is retried. 0: never automatically (Error(out_of_memory) as without growth).
  std::size_t growth_step = 0;
};

// One named object in a segment, as listed by Segment::objects().
struct ObjectInfo {
  std::string name;
  std::string type;       // the C++ type as the creator's compiler spells it (truncated)
  std::size_t bytes = 0;  // total bytes of the object (count * element size)
  std::size_t count = 0;  // number of elements (1 for a single object, n for an array)
};

// What the segment's header says, for tools and diagnostics.
struct SegmentInfo {
  std::string name;
  Backend backend = Backend::named;
  std::uint32_t format_version = 0;
  std::uint32_t boost_version = 0;
  std::size_t size = 0;         // bytes of the whole segment now (grows with Segment::grow)
  std::size_t max_size = 0;     // bytes it may grow to (== size: it cannot grow)
  std::size_t growth_step = 0;  // automatic growth step (SegmentOptions::growth_step); 0: none
  std::size_t free_memory = 0;  // bytes the segment manager can still allocate
  std::int32_t creator_pid = 0;
  std::uint32_t creator_uid = 0;
  std::uint64_t creator_start_time = 0;  // process start time (clock ticks since boot; 0 unknown)
  std::chrono::system_clock::time_point created;
  bool creator_alive = false;  // the creating process (same pid and start time) still runs

  // ---- File backend (defaults on the others); docs/persistence.md, shmkit/file_session.hpp ----
  // False: when this process opened the file, a process that had it open earlier had ended
  // without closing it (killed, crashed, power lost): data may be half-updated.
  bool opened_clean = true;
  // This open found the file last used on another boot. shmkit re-creates the segment
  // manager's locks whenever a process opens the file alone; sync objects the application keeps
  // in the file may hold lock words from the old boot: re-construct them when this is true.
  bool opened_after_reboot = false;
  std::uint64_t sessions = 0;          // times a process opened the file while no other had it
  std::uint64_t unclean_sessions = 0;  // ... and found that someone had not closed it
  std::uint32_t attached = 0;          // processes that have it open now (plus any that died)
};

namespace detail {
struct SegmentAccess;
class Attachment;
}  // namespace detail

// A writable mapping of a segment: find, construct and destroy named objects, allocate. Opening
// read-only gives a SegmentView (shmkit/segment_view.hpp) instead, whose lookups are const.
class Segment {
 public:
  // Creates a segment of `size` bytes (header and allocator bookkeeping included).
  // Throws Error(already_exists) if the name is taken, Error(invalid_argument) for a bad name,
  // Error(unsupported) for a backend this build does not have (the message says why).
  static Segment create(std::string_view name, std::size_t size, const SegmentOptions& options = {});
  // Opens an existing segment and validates its header: Error(not_found), incompatible_format,
  // corrupt, too_small, timeout (creator still initializing after options.open_timeout).
  static Segment open(std::string_view name, const SegmentOptions& options = {});
  // Opens the segment, or creates it if there is none; safe when several processes race.
  static Segment open_or_create(std::string_view name, std::size_t size, const SegmentOptions& options = {});
  // Removes the name (named/file backends); processes that have it mapped keep their mapping.
  // Returns false if there was nothing to remove. memfd: the kernel frees the segment with its
  // last process, so there is nothing to remove but a stale socket file at the default path
  // left by a creator that crashed; a live server's socket is never removed (false).
  static bool remove(std::string_view name, Backend backend = Backend::named);

  // Smallest size create() accepts: the header's page and one page for the allocator, its
  // bookkeeping and a few small objects (sizes ported from Boost.Interprocess code fit).
  static constexpr std::size_t min_size = 8 * 1024;

  Segment(Segment&&) noexcept;
  Segment& operator=(Segment&&) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  // ---- Named objects ----
  // Constructs T under `name`; containers get the segment allocator appended automatically.
  // T must be shareable (shareable.hpp: trivially copyable, shmkit containers and sync types, or
  // marked), else it does not compile. Throws Error(already_exists) or Error(out_of_memory) (the segment stays usable).
  template <class T, class... Args>
  T& construct(std::string_view name, Args&&... args);
  // An array of n Ts, each built from args.
  template <class T, class... Args>
  T* construct_array(std::string_view name, std::size_t n, Args&&... args);
  // Returns the object named `name`, constructing it first if absent (atomic across processes).
  template <class T, class... Args>
  T& find_or_construct(std::string_view name, Args&&... args);
  // nullptr if there is no object of that name: absence is a normal result.
  template <class T>
  T* find(std::string_view name);
  // With the element count (1 for single objects).
  template <class T>
  std::pair<T*, std::size_t> find_array(std::string_view name);
  // Destroys the object; false if absent.
  template <class T>
  bool destroy(std::string_view name);
  // Every named object, sorted by name.
  std::vector<ObjectInfo> objects() const;

  // ---- Memory ----
  Allocator<void> allocator() const {
    require_writable("allocator()");
    return Allocator<void>(manager_);
  }
  // Bytes of the segment now (the header's total size: it follows grow() in every process).
  std::size_t size() const noexcept;
  // Bytes it may grow to (SegmentOptions::max_size at create; == size() if it cannot grow).
  std::size_t max_size() const noexcept;
  std::size_t free_memory() const noexcept;
  // True if [p, p+n) lies inside the segment (its current size) in this process's mapping.
  bool contains(const void* p, std::size_t n = 1) const noexcept;
  // Grows the segment by `bytes` for every process that uses it (none remaps: each maps the
  // maximum from the start); the new room is free memory of the allocator. Error(out_of_memory)
  // naming the maximum if it would pass max_size, or naming the limit (memory budget, /dev/shm,
  // disk) that has no room; Error(unsupported) where the backend cannot grow (Windows named
  // sections); Error(permission_denied) on a read-only mapping.
  void grow(std::size_t bytes);

  // ---- Identity ----
  const std::string& name() const noexcept;
  Backend backend() const noexcept;
  SegmentInfo info() const;
  // What of SegmentOptions::memory took effect for this process's mapping.
  MemoryAdvice memory_advice() const noexcept;

  // ---- Persistence ----
  // Writes the segment's changed pages to its backing store (file backend: msync; a no-op on
  // the others). Flush::sync returns once they are on disk. Closing flushes too.
  void flush(Flush mode = Flush::sync);

  // ---- What the backend offers beyond this API ----
  // segment.handle<MemfdHandle>() (shmkit/memfd_handle.hpp), segment.handle<FileSession>()
  // (shmkit/file_session.hpp); nullptr when the segment is of another backend.
  template <class Handle>
  Handle* handle() const noexcept {
    static_assert(std::is_base_of_v<BackendHandle, Handle>, "a backend's handle type (shmkit/*_handle.hpp)");
    return dynamic_cast<Handle*>(backend_handle());
  }

  // The Boost segment manager, for code that wants Boost.Interprocess directly. Named objects
  // made through it are not in shmkit's object directory: find() and objects() do not see them
  // (construct() still refuses their names).
  detail::SegmentManager& manager() const noexcept { return *manager_; }

  struct Impl;  // src/core/segment.cpp

 private:
  friend struct detail::SegmentAccess;
  explicit Segment(std::unique_ptr<Impl> impl) noexcept;
  BackendHandle* backend_handle() const noexcept;
  bool writable() const noexcept;
  std::string object_name(std::string_view name) const;
  void require_writable(std::string_view what) const;
  // The named object's first element and count, or {nullptr, 0}: a lock-free lookup in the
  // segment's object directory (docs/format.md), on any mapping. The type is checked against
  // one consistent copy of the directory entry, never the tag, so a destroy() racing the lookup
  // cannot make it misread. The name is checked as object_name() checks it; no copy is made.
  std::pair<void*, std::size_t> find_value(std::string_view name, const detail::TypeIdentity& want) const;
  // Under the segment manager's lock: list a constructed object in the directory (throws
  // Error(out_of_memory) if the directory cannot grow), or take it out before destroying it.
  void publish_object(const std::string& name, void* block, std::size_t units) const;
  void withdraw_object(const std::string& name) const noexcept;
  // Automatic growth: grows the segment so that `bytes` more may fit, if its header has a growth
  // step and room below the maximum. False when it cannot grow (the caller reports no room).
  bool grow_for(std::size_t bytes) const;
  [[noreturn]] void throw_exists(std::string_view name) const;
  [[noreturn]] void throw_no_room(std::string_view name, std::size_t bytes) const;
  // Validates the tag of a found object against the requested type; returns the first element.
  void* checked_value(void* block, std::size_t units, std::string_view name,
                      const detail::TypeIdentity& want) const;
  // Writes a fresh tag; returns the first element's address.
  static void* init_tag(void* block, const detail::TypeIdentity& type, std::size_t count) noexcept;
  static std::size_t block_units(const detail::TypeIdentity& type, std::size_t count);

  enum class IfExists { fail, use };
  template <class T, class... Args>
  T* emplace(std::string_view name, std::size_t count, IfExists if_exists, Args&&... args);

  template <class T, class... Args>
  static constexpr bool appends_allocator() {
    if constexpr (sizeof...(Args) > 0) {
      using Last = std::remove_cvref_t<std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>>;
      if constexpr (requires { typename Last::segment_manager; }) return false;
    }
    return std::uses_allocator_v<T, Allocator<void>> &&
           std::is_constructible_v<T, Args..., Allocator<void>>;
  }

  std::unique_ptr<Impl> impl_;
  detail::SegmentManager* manager_ = nullptr;  // in the mapping; cached for the templates
};

// ---- Template definitions ----
// Named objects are blocks of ObjectUnit under the name: [ObjectTag][pad][T x count]. Creation
// runs under the segment manager's (recursive) lock, so find_or_construct is atomic across
// processes and no process ever finds a half-built object.

template <class T, class... Args>
T* Segment::emplace(std::string_view name, std::size_t count, IfExists if_exists, Args&&... args) {
  static_assert(!std::is_reference_v<T> && !std::is_array_v<T>, "construct a value type");
  static_assert(is_shareable_v<T>,
                "Segment::construct<T>: T cannot live in shared memory. A std::string, std::vector or "
                "pointer member points into one process's heap and crashes another process: use "
                "shmkit::string, shmkit::vector, shmkit::map (or offset_ptr), then mark the type with "
                "`static constexpr bool shmkit_shareable = true;` inside it (see shmkit/shareable.hpp)");
  require_writable("construct");
  constexpr detail::TypeIdentity type = detail::type_identity<T>();
  const std::string n = object_name(name);
  T* result = nullptr;
  auto body = [&] {
    auto [found, units] = manager_->template find_no_lock<detail::ObjectUnit>(n.c_str());
    if (found != nullptr) {
      if (if_exists == IfExists::fail) throw_exists(name);
      result = static_cast<T*>(checked_value(found, units, name, type));
      return;
    }
    const std::size_t want = block_units(type, count);
    detail::ObjectUnit* block =
        manager_->template construct<detail::ObjectUnit>(n.c_str(), std::nothrow)[want]();
    // Automatic growth (if the segment has it) makes room and the construction is tried again.
    while (block == nullptr && grow_for(want * sizeof(detail::ObjectUnit) + 1024))
      block = manager_->template construct<detail::ObjectUnit>(n.c_str(), std::nothrow)[want]();
    if (block == nullptr) throw_no_room(name, want * sizeof(detail::ObjectUnit));
    T* first = static_cast<T*>(init_tag(block, type, count));
    std::size_t built = 0;
    try {
      for (; built < count; ++built) {
        if constexpr (appends_allocator<T, Args...>())
          ::new (static_cast<void*>(first + built)) T(args..., allocator());
        else
          ::new (static_cast<void*>(first + built)) T(args...);
      }
      reinterpret_cast<detail::ObjectTag*>(block)->state.store(detail::kObjectReady, std::memory_order_release);
      publish_object(n, block, want);  // only now can lookups find it
    } catch (...) {
      while (built > 0) first[--built].~T();
      manager_->template destroy<detail::ObjectUnit>(n.c_str());
      throw;
    }
    result = first;
  };
  try {
    manager_->atomic_func(body);
  } catch (const boost::interprocess::bad_alloc&) {
    // An element's constructor ran out of segment memory (a container reserving, say).
    throw_no_room(name, count * sizeof(T));
  }
  return result;
}

template <class T, class... Args>
T& Segment::construct(std::string_view name, Args&&... args) {
  return *emplace<T>(name, 1, IfExists::fail, std::forward<Args>(args)...);
}

template <class T, class... Args>
T* Segment::construct_array(std::string_view name, std::size_t n, Args&&... args) {
  return emplace<T>(name, n, IfExists::fail, std::forward<Args>(args)...);
}

template <class T, class... Args>
T& Segment::find_or_construct(std::string_view name, Args&&... args) {
  return *emplace<T>(name, 1, IfExists::use, std::forward<Args>(args)...);
}

template <class T>
T* Segment::find(std::string_view name) {
  return find_array<T>(name).first;
}

template <class T>
std::pair<T*, std::size_t> Segment::find_array(std::string_view name) {
  constexpr detail::TypeIdentity type = detail::type_identity<T>();
  auto [first, count] = find_value(name, type);
  return {static_cast<T*>(first), count};
}

template <class T>
bool Segment::destroy(std::string_view name) {
  require_writable("destroy");
  constexpr detail::TypeIdentity type = detail::type_identity<T>();
  const std::string n = object_name(name);
  bool destroyed = false;
  auto body = [&] {
    auto [found, units] = manager_->template find_no_lock<detail::ObjectUnit>(n.c_str());
    if (found == nullptr) return;
    T* first = static_cast<T*>(checked_value(found, units, name, type));
    withdraw_object(n);  // lookups stop finding it before it is torn down
    for (std::size_t i = reinterpret_cast<detail::ObjectTag*>(found)->count; i > 0; --i) first[i - 1].~T();
    destroyed = manager_->template destroy<detail::ObjectUnit>(n.c_str());
  };
  manager_->atomic_func(body);
  return destroyed;
}

}  // namespace shmkit
