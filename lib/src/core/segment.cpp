// Portable Segment logic: header, segment manager and named objects over any backend's mapping.
// Backends (lib/src/backends/*) make, open and remove the mappings; nothing here knows which.
#include "shmkit/segment.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <unordered_map>

#include "backend.hpp"
#include "boost_internals.hpp"
#include "directory_watch.hpp"
#include "mapping.hpp"
#include "object_directory.hpp"
#include "memory_advice.hpp"
#include "process_identity.hpp"
#include "reservation_check.hpp"
#include "segment_access.hpp"
#include "segment_header.hpp"
#include "shmkit/detail/segment_manager.hpp"
#include "shmkit/segment_view.hpp"

namespace shmkit {

using detail::Mapping;
using detail::SegmentHeader;
using detail::SegmentManager;

namespace {

// This process's Segment mappings, by segment manager: an allocation that fails deep inside a
// container (throw_segment_full) names its segment in full, where the header keeps only the
// first 63 characters (file segments are named by paths, often longer than that), and grows the
// segment when it grows automatically (grow_segment_for).
struct MappedSegment {
  std::string name;
  Segment::Impl* impl = nullptr;
};
struct MappingNames {
  std::mutex mutex;
  std::unordered_map<const SegmentManager*, MappedSegment> names;
};
MappingNames& mapping_names() {
  static MappingNames* const names = new MappingNames;  // never destroyed: usable at exit
  return *names;
}

}  // namespace

struct Segment::Impl {
  std::unique_ptr<detail::Attachment> attachment;
  std::string name;
  Backend backend = Backend::named;
  MemoryAdvice memory;  // what SegmentOptions::memory achieved
  bool in_mapping_names = false;

  ~Impl() {
    if (!in_mapping_names) return;
    MappingNames& m = mapping_names();
    const std::lock_guard lock(m.mutex);
    m.names.erase(manager());
  }

  Mapping& mapping() const noexcept { return attachment->mapping(); }
  SegmentHeader& header() const noexcept { return *reinterpret_cast<SegmentHeader*>(mapping().data()); }
  // Bytes of the segment now: what may be touched (the mapping reaches the maximum). The header's
  // size is another process's word: never past what the backing object holds (a grower extends
  // the object before it publishes the size, so only a scribbled size costs the fstat each time).
  std::size_t current_size() const noexcept {
    const std::uint64_t total = header().total_size.load(std::memory_order_acquire);
    const Mapping& m = mapping();
    std::uint64_t backed = m.backing_size();
    if (total > backed && m.refresh_backing_size()) backed = m.backing_size();
    return static_cast<std::size_t>(std::min<std::uint64_t>({total, backed, m.size()}));
  }
  SegmentManager* manager() const noexcept {
    return reinterpret_cast<SegmentManager*>(mapping().data() + detail::kManagerOffset);
  }
};

namespace {

// Lays out a fresh segment of `size` bytes in `mapping` (which maps its maximum): header, then
// the segment manager; publishes it ready.
void format_segment(Mapping& mapping, std::string_view name, Backend backend, std::size_t size,
                    std::size_t growth_step) {
  auto* h = ::new (mapping.data()) SegmentHeader{};
  detail::write_header(*h, name, backend, size, mapping.size(), growth_step);
  ::new (mapping.data() + detail::kManagerOffset) SegmentManager(size - detail::kManagerOffset);
  // Release: an opener that sees ready also sees the header and the manager fully written.
  h->state.store(detail::kReady, std::memory_order_release);
}

// Undoes a create() whose memory advice was refused: nothing half-made stays behind.
void remove_quietly(const std::string& name, Backend backend) noexcept {
  try {
    detail::backend_for(backend).remove(name);
  } catch (...) {
  }
}

// The grow lock: the header's grow_owner word, held from sizing the backing object to publishing
// the new size, so two growers never race on the object's size. A dead owner's word is taken
// over: all it can have left is an object larger than the header says, which the next grow uses.
class GrowLock {
 public:
  explicit GrowLock(SegmentHeader& h) : h_(h) {
    const detail::ProcessIdentity me = detail::current_process();
    const std::uint64_t mine =
        (std::uint64_t{static_cast<std::uint32_t>(me.pid)} << 32) | (me.start_time & 0xffffffffULL);
    std::chrono::microseconds pause{10};
    for (;;) {
      std::uint64_t owner = 0;
      if (h_.grow_owner.compare_exchange_strong(owner, mine, std::memory_order_acq_rel)) return;
      if (owner_dead(owner) && h_.grow_owner.compare_exchange_strong(owner, mine, std::memory_order_acq_rel)) return;
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds{1000});
    }
  }
  ~GrowLock() { h_.grow_owner.store(0, std::memory_order_release); }
  GrowLock(const GrowLock&) = delete;
  GrowLock& operator=(const GrowLock&) = delete;

 private:
  static bool owner_dead(std::uint64_t owner) noexcept {
    const auto pid = static_cast<std::int32_t>(owner >> 32);
    const auto start = static_cast<std::uint32_t>(owner);
    if (pid <= 0) return true;
    const std::uint64_t now = detail::process_start_time(pid);
    if (start == 0 || now == 0) return !detail::process_alive(pid, 0);  // start times unknown here
    return static_cast<std::uint32_t>(now) != start;
  }
  SegmentHeader& h_;
};

// Extends the allocator to the header's total size, under the allocator's lock. It runs after
// the size is published, so a grower killed before it leaves the allocator short, never long:
// the next grow (or read-write open) extends it.
void catch_up_allocator(const Segment::Impl& impl) {
  // Checked before the allocator's lock (the check may fstat): a process killed while it holds
  // that lock poisons the allocator, so the lock covers the allocator's own stores only.
  const std::uint64_t total = impl.header().total_size.load(std::memory_order_acquire);
  if (total <= detail::kManagerOffset || total != impl.current_size())
    throw Error(Errc::corrupt, "segment '" + impl.name + "': its header's size, " + detail::describe_bytes(total) +
                                   ", is not within its backing object and maximum (scribbled): recreate the segment");
  SegmentManager& manager = *impl.manager();
  const std::lock_guard lock(detail::allocator_lock(manager));
  const std::uint64_t want = total - detail::kManagerOffset;
  const std::uint64_t have = manager.get_size();
  if (want > have) manager.grow(static_cast<SegmentManager::size_type>(want - have));
}

// Grows the segment by `bytes`: backing object first (nobody may touch bytes it does not hold),
// then the header's size (every process may use them from then on), then the allocator.
void grow_segment(const Segment::Impl& impl, std::uint64_t bytes) {
  SegmentHeader& h = impl.header();
  Mapping& m = impl.mapping();
  const std::uint64_t max = std::min<std::uint64_t>(h.max_size, m.size());
  {
    GrowLock lock(h);
    const std::uint64_t total = h.total_size.load(std::memory_order_acquire);
    if (total > max || bytes > max - total)
      throw Error(Errc::out_of_memory, "segment '" + impl.name + "' cannot grow by " + detail::describe_bytes(bytes) +
                                           ": it has " + detail::describe_bytes(total) + " of its maximum size of " +
                                           detail::describe_bytes(max) +
                                           " (SegmentOptions::max_size at create): free objects, or create it with "
                                           "a larger maximum");
    const std::uint64_t target = total + bytes;
    m.extend(target, "segment '" + impl.name + "'");
    // Fault in the pages the allocator writes when it takes the new room (the new end block), so
    // that its lock is held for stores only, not for a page fault (a file's can take long). An
    // atomic add of 0 changes nothing another grower may have written there.
    const std::uint64_t last_word = (target - sizeof(std::uint64_t)) / sizeof(std::uint64_t) * sizeof(std::uint64_t);
    std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(m.data() + last_word))
        .fetch_add(0, std::memory_order_relaxed);
    h.total_size.store(target, std::memory_order_release);
    h.manager_size.store(target - detail::kManagerOffset, std::memory_order_release);
  }
  catch_up_allocator(impl);
}

// Automatic growth for an allocation of `bytes` that did not fit: false if the segment does not
// grow automatically, or cannot grow any more (the caller reports no room).
bool grow_automatically(const Segment::Impl& impl, std::size_t bytes) {
  const SegmentHeader& h = impl.header();
  if (h.growth_step == 0 || !impl.mapping().writable()) return false;
  const std::uint64_t max = std::min<std::uint64_t>(h.max_size, impl.mapping().size());
  const std::uint64_t total = h.total_size.load(std::memory_order_acquire);
  if (total >= max) return false;
  // Room for the request and the allocator's bookkeeping around it, at least one step.
  const std::uint64_t need = std::uint64_t{bytes} + bytes / 8 + 4096;
  const std::uint64_t step = std::min(std::max<std::uint64_t>(h.growth_step, need), max - total);
  try {
    grow_segment(impl, step);
  } catch (const Error& e) {
    // Another process took the rest meanwhile, or the memory limit refuses: no room, as without growth.
    if (e.errc() == Errc::out_of_memory) return false;
    throw;
  }
  return true;
}

}  // namespace

namespace detail {

void Mapping::extend(std::uint64_t, const std::string& what) {
  throw Error(Errc::unsupported, what + " cannot grow: its backend's object has a fixed size on this platform "
                                        "(create it with the size it needs)");
}

bool grow_segment_for(std::size_t bytes, const SegmentManager* manager) {
  Segment::Impl* impl = nullptr;
  {
    MappingNames& m = mapping_names();
    const std::lock_guard lock(m.mutex);
    if (const auto it = m.names.find(manager); it != m.names.end()) impl = it->second.impl;
  }
  return impl != nullptr && grow_automatically(*impl, bytes);
}

void throw_segment_full(std::size_t bytes, const SegmentManager* manager) {
  // The header sits a fixed distance before the manager: it names the segment for the message.
  const auto* h = reinterpret_cast<const SegmentHeader*>(reinterpret_cast<const std::byte*>(manager) - kManagerOffset);
  std::string name(h->name, strnlen(h->name, sizeof h->name));
  {
    MappingNames& m = mapping_names();
    const std::lock_guard lock(m.mutex);
    if (const auto it = m.names.find(manager); it != m.names.end()) name = it->second.name;
  }
  throw Error(Errc::out_of_memory, "segment '" + name + "' has no room for " + std::to_string(bytes) + " more bytes (" +
                                       std::to_string(manager->get_free_memory()) +
                                       " free): create a larger segment or free objects");
}

Segment SegmentAccess::make(std::unique_ptr<Attachment> attachment, std::string name, Backend backend,
                             const SegmentOptions& options, bool created) {
  auto impl = std::make_unique<Segment::Impl>();
  impl->attachment = std::move(attachment);
  impl->name = std::move(name);
  impl->backend = backend;
  const MemoryAdvice& want = options.memory;
  if (want.prefault || want.huge_pages || want.lock) {
    try {
      Mapping& m = impl->mapping();
      impl->memory = apply_memory_advice(m.data(), impl->current_size(), m.writable(), want, impl->name);
    } catch (...) {
      if (created) {
        const std::string n = impl->name;
        impl.reset();
        remove_quietly(n, backend);
      }
      throw;
    }
  }
  Mapping& m = impl->mapping();
  if (m.size() != impl->header().max_size)
    throw Error(Errc::corrupt, "segment '" + impl->name + "': " + std::to_string(m.size()) +
                                   " bytes are mapped, but its header's maximum size is " +
                                   std::to_string(impl->header().max_size));
  // A grower killed between publishing the size and extending the allocator left it short.
  if (m.writable() && impl->manager()->get_size() + kManagerOffset < impl->current_size()) {
    try {
      catch_up_allocator(*impl);
    } catch (const Error&) {  // a poisoned allocator: its own calls say so
    }
  }
  return Segment(std::move(impl));
}

Segment SegmentAccess::open(std::string_view name, const SegmentOptions& options, bool read_only) {
  const SegmentBackend& backend = backend_for(options.backend);
  const std::string n(name);
  backend.validate_name(n);
  const DeadlineNs give_up = deadline_after(options.wait_for_creation);
  std::optional<DirectoryWatch> watch;
  for (;;) {
    try {
      auto attachment = backend.open(n, options, deadline_after(options.open_timeout), read_only);
      return make(std::move(attachment), n, backend.id(), options, false);
    } catch (const Error& e) {
      const DeadlineNs now = steady_now_ns();
      if (e.errc() != Errc::not_found || now >= give_up) throw;
      // Watch first, then look once more before sleeping: a creation in between is not missed.
      if (!watch) {
        watch.emplace(backend.appearance_directory(n, options));
        continue;
      }
      watch->wait(std::chrono::nanoseconds(give_up - now));
    }
  }
}

Mapping& SegmentAccess::mapping(const Segment& s) noexcept { return s.impl_->mapping(); }
ChannelEvents* SegmentAccess::channel_events(const Segment& s) noexcept {
  return s.impl_ ? s.impl_->attachment->channel_events() : nullptr;
}

}  // namespace detail

Segment::Segment(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)), manager_(impl_->manager()) {
  try {
    MappingNames& m = mapping_names();
    const std::lock_guard lock(m.mutex);
    m.names.insert_or_assign(manager_, MappedSegment{impl_->name, impl_.get()});
    impl_->in_mapping_names = true;
  } catch (...) {  // out of memory: messages fall back to the header's (maybe shortened) name
  }
}
Segment::Segment(Segment&&) noexcept = default;
Segment& Segment::operator=(Segment&&) noexcept = default;
Segment::~Segment() = default;

Segment Segment::create(std::string_view name, std::size_t size, const SegmentOptions& options) {
  const detail::SegmentBackend& backend = detail::backend_for(options.backend);
  const std::string n(name);
  backend.validate_name(n);
  if (size < min_size)
    throw Error(Errc::too_small, "segment size " + std::to_string(size) + " is below the minimum of " +
                                     std::to_string(min_size) + " bytes");
  const std::size_t max = options.max_size == 0 ? size : options.max_size;
  if (max < size || max > detail::kLargestMaxSize)
    throw Error(Errc::invalid_argument, "SegmentOptions::max_size " + std::to_string(options.max_size) +
                                            " must be 0, or at least the size (" + std::to_string(size) +
                                            ") and at most " + std::to_string(detail::kLargestMaxSize) + " bytes");
  if (options.growth_step != 0 && max == size)
    throw Error(Errc::invalid_argument, "SegmentOptions::growth_step needs a max_size above the size (" +
                                            std::to_string(size) + " bytes) to grow to");
  const Backend id = backend.id();
  auto attachment = backend.create(n, size, max, options,
                                   [&](Mapping& m) { format_segment(m, n, id, size, options.growth_step); });
  return detail::SegmentAccess::make(std::move(attachment), n, id, options, true);
}

Segment Segment::open(std::string_view name, const SegmentOptions& options) {
  return detail::SegmentAccess::open(name, options, false);
}

SegmentView SegmentView::open(std::string_view name, const SegmentOptions& options) {
  return detail::SegmentAccess::make_view(detail::SegmentAccess::open(name, options, true));
}

Segment Segment::open_or_create(std::string_view name, std::size_t size, const SegmentOptions& options) {
  // Either call may lose a race with another process (created meanwhile, or removed meanwhile):
  // go round again, a bounded number of times.
  for (int attempt = 0;; ++attempt) {
    try {
      return create(name, size, options);
    } catch (const Error& e) {
      if (e.errc() != Errc::already_exists || attempt >= 8) throw;
    }
    try {
      SegmentOptions no_wait = options;
      no_wait.wait_for_creation = std::chrono::milliseconds(0);
      return open(name, no_wait);
    } catch (const Error& e) {
      if (e.errc() != Errc::not_found || attempt >= 8) throw;
    }
  }
}

bool Segment::remove(std::string_view name, Backend backend) {
  const detail::SegmentBackend& b = detail::backend_for(backend);
  const std::string n(name);
  b.validate_name(n);
  return b.remove(n);
}

std::string Segment::object_name(std::string_view name) const {
  if (name.empty() || name.size() > detail::kMaxObjectName || name.find('\0') != std::string_view::npos)
    throw Error(Errc::invalid_argument, "object name '" + std::string(name) + "' must have 1 to " +
                                            std::to_string(detail::kMaxObjectName) + " characters and no NUL");
  return std::string(name);
}

void Segment::publish_object(const std::string& name, void* block, std::size_t units) const {
  detail::DirectoryMemory memory{
      [this](std::size_t bytes) { return manager_->allocate(bytes, std::nothrow); },
      [this](void* p) { manager_->deallocate(p); }};
  detail::directory_insert(impl_->mapping().data(), impl_->name, name, *static_cast<const detail::ObjectTag*>(block),
                           units * sizeof(detail::ObjectUnit), memory);
}

void Segment::withdraw_object(const std::string& name) const noexcept {
  detail::directory_remove(impl_->mapping().data(), name);
}

void Segment::require_writable(std::string_view what) const {
  if (!writable())
    throw Error(Errc::permission_denied,
                std::string(what) + " on segment '" + impl_->name + "': this process mapped it read-only");
}

void Segment::throw_exists(std::string_view name) const {
  throw Error(Errc::already_exists, "segment '" + impl_->name + "' already holds an object named '" +
                                        std::string(name) + "': use find() or find_or_construct()");
}

void Segment::throw_no_room(std::string_view name, std::size_t bytes) const {
  throw Error(Errc::out_of_memory, "segment '" + impl_->name + "' has no room for object '" + std::string(name) +
                                       "' (" + std::to_string(bytes) + " bytes; " +
                                       std::to_string(manager_->get_free_memory()) +
                                       " free): create a larger segment or free objects");
}

std::size_t Segment::block_units(const detail::TypeIdentity& type, std::size_t count) {
  // Elements aligned beyond the block's 8 bytes need slack, placed at run time (the mapping base
  // is page-aligned, so an offset aligned in this process is aligned in every process).
  const std::size_t slack = type.align > alignof(detail::ObjectUnit) ? type.align - alignof(detail::ObjectUnit) : 0;
  if (count > (SIZE_MAX - 4096) / std::max<std::size_t>(type.size, 1))
    throw Error(Errc::invalid_argument, "object of " + std::to_string(count) + " elements is too large");
  const std::size_t bytes = sizeof(detail::ObjectTag) + slack + type.size * count;
  return std::max<std::size_t>(1, (bytes + sizeof(detail::ObjectUnit) - 1) / sizeof(detail::ObjectUnit));
}

void* Segment::init_tag(void* block, const detail::TypeIdentity& type, std::size_t count) noexcept {
  auto* tag = ::new (block) detail::ObjectTag{};
  const auto base = reinterpret_cast<std::uintptr_t>(block);
  const std::size_t align = std::max<std::size_t>(type.align, alignof(detail::ObjectTag));
  const std::uintptr_t first = (base + sizeof(detail::ObjectTag) + align - 1) / align * align;
  tag->magic = detail::kObjectMagic;
  tag->type_hash = type.hash;
  tag->element_size = static_cast<std::uint32_t>(type.size);
  tag->element_align = static_cast<std::uint32_t>(type.align);
  tag->count = count;
  tag->value_offset = static_cast<std::uint32_t>(first - base);
  detail::stored_type_name(type.name, tag->type_name);
  return reinterpret_cast<void*>(first);
}

namespace {

// Both names in full, and the first part where they differ (from the start of that word), so a
// mismatch between, say, vector<float> and vector<double> is visible at a glance.
std::string type_mismatch_message(const std::string& where, const std::string& stored, std::size_t stored_size,
                                  const detail::TypeIdentity& want) {
  std::string out = where + " holds a " + stored + " (" + std::to_string(stored_size) + " bytes), not a " +
                    std::string(want.name) + " (" + std::to_string(want.size) + " bytes)";
  std::size_t i = 0;
  while (i < stored.size() && i < want.name.size() && stored[i] == want.name[i]) ++i;
  if (i == stored.size() && i == want.name.size()) {
    out += ": same name, other layout (the programs were built with different definitions or ABIs)";
    return out;
  }
  auto word_start = [](std::string_view s, std::size_t at) {
    while (at > 0 && (std::isalnum(static_cast<unsigned char>(s[at - 1])) != 0 || s[at - 1] == '_' || s[at - 1] == ':'))
      --at;
    return at;
  };
  auto part = [](std::string_view s, std::size_t from) {
    const std::size_t end = s.find_first_of(",<>[", from);
    const std::string_view p = s.substr(from, end == std::string_view::npos ? std::string_view::npos : end - from);
    return p.empty() ? std::string("(end)") : std::string(p);
  };
  const std::size_t from = std::min(word_start(stored, i), word_start(want.name, i));
  out += "; they differ at '" + part(stored, from) + "' (stored) against '" + part(want.name, from) +
         "' (asked for). Name a type explicitly with shmkit_type_name (shmkit/type_name.hpp) if only its "
         "spelling differs";
  return out;
}

// What a tag or a directory entry says of an object.
struct StoredIdentity {
  std::uint64_t type_hash;
  std::uint64_t element_size;
  std::uint64_t element_align;
  std::uint64_t count;
  std::uint64_t value_offset;
  std::string_view type_name;
};

// Built only on the way to an error: the lookup that succeeds allocates nothing for it.
std::string object_where(std::string_view segment, std::string_view name) {
  return "object '" + std::string(name) + "' in segment '" + std::string(segment) + "'";
}

// Holds what was stored against the requested type and the block's bounds; the first element.
void* checked_identity(std::byte* block, std::size_t block_bytes, const StoredIdentity& stored,
                       std::string_view segment, std::string_view name, const detail::TypeIdentity& want) {
  if (stored.type_hash != want.hash || stored.element_size != want.size || stored.element_align != want.align)
    throw Error(Errc::type_mismatch, type_mismatch_message(object_where(segment, name), std::string(stored.type_name),
                                                           stored.element_size, want));
  if (stored.value_offset < sizeof(detail::ObjectTag) || stored.value_offset > block_bytes ||
      stored.count > (block_bytes - stored.value_offset) / std::max<std::size_t>(want.size, 1) ||
      (reinterpret_cast<std::uintptr_t>(block) + stored.value_offset) % want.align != 0)
    throw Error(Errc::corrupt, object_where(segment, name) + ": its offset or count lies outside its block");
  return block + stored.value_offset;
}

}  // namespace

std::pair<void*, std::size_t> Segment::find_value(std::string_view name, const detail::TypeIdentity& want) const {
  if (name.empty() || name.size() > detail::kMaxObjectName || name.find('\0') != std::string_view::npos)
    object_name(name);  // throws the error
  // Lock-free on every mapping: the directory is readable without the segment manager's lock.
  const Mapping& m = impl_->mapping();
  const detail::FoundObject found = detail::directory_find(m.data(), impl_->current_size(), impl_->name, name);
  if (found.block == nullptr) return {nullptr, 0};
  const StoredIdentity stored{found.type_hash,
                              found.element_size,
                              found.element_align,
                              found.count,
                              found.value_offset,
                              std::string_view(found.type_name, found.type_name_length)};
  return {checked_identity(found.block, found.block_bytes, stored, impl_->name, name, want), static_cast<std::size_t>(found.count)};
}

void* Segment::checked_value(void* block, std::size_t units, std::string_view name,
                             const detail::TypeIdentity& want) const {
  const auto* tag = static_cast<const detail::ObjectTag*>(block);
  const std::size_t block_bytes = units * sizeof(detail::ObjectUnit);
  if (block_bytes < sizeof(detail::ObjectTag) || tag->magic != detail::kObjectMagic)
    throw Error(Errc::type_mismatch, object_where(impl_->name, name) + " was not made by shmkit (no object tag): reach it through manager()");
  if (tag->state.load(std::memory_order_acquire) != detail::kObjectReady)
    throw Error(Errc::corrupt, object_where(impl_->name, name) + " was never finished: its creator died while constructing it");
  const StoredIdentity stored{tag->type_hash,
                              tag->element_size,
                              tag->element_align,
                              tag->count,
                              tag->value_offset,
                              std::string_view(tag->type_name, strnlen(tag->type_name, sizeof tag->type_name))};
  return checked_identity(static_cast<std::byte*>(block), block_bytes, stored, impl_->name, name, want);
}

std::vector<ObjectInfo> Segment::objects() const {
  const Mapping& m = impl_->mapping();
  std::vector<ObjectInfo> out;
  for (detail::ListedObject& o : detail::directory_list(m.data(), impl_->current_size(), impl_->name)) {
    ObjectInfo info;
    info.name = std::move(o.name);
    info.type = std::move(o.type_name);
    info.count = o.count;
    info.bytes = o.bytes;
    out.push_back(std::move(info));
  }
  return out;  // the directory keeps them sorted by name
}

std::size_t Segment::size() const noexcept { return impl_->current_size(); }
std::size_t Segment::max_size() const noexcept { return impl_->mapping().size(); }

void Segment::grow(std::size_t bytes) {
  require_writable("grow");
  if (bytes > 0) grow_segment(*impl_, bytes);
}

bool Segment::grow_for(std::size_t bytes) const { return grow_automatically(*impl_, bytes); }
std::size_t Segment::free_memory() const noexcept { return manager_->get_free_memory(); }

bool Segment::contains(const void* p, std::size_t n) const noexcept {
  const auto* b = reinterpret_cast<const std::byte*>(p);
  const std::byte* base = impl_->mapping().data();
  const std::size_t size = impl_->current_size();
  return b >= base && n <= size && static_cast<std::size_t>(b - base) <= size - n;
}

const std::string& Segment::name() const noexcept { return impl_->name; }
Backend Segment::backend() const noexcept { return impl_->backend; }
void Segment::flush(Flush mode) { impl_->attachment->flush(mode); }
bool Segment::writable() const noexcept { return impl_->mapping().writable(); }
BackendHandle* Segment::backend_handle() const noexcept { return impl_->attachment->handle(); }
MemoryAdvice Segment::memory_advice() const noexcept { return impl_->memory; }

SegmentInfo Segment::info() const {
  const SegmentHeader& h = impl_->header();
  SegmentInfo info;
  info.name = impl_->name;
  info.backend = impl_->backend;
  info.format_version = h.format_version;
  info.boost_version = h.layout.boost_version;
  info.size = impl_->current_size();
  info.max_size = static_cast<std::size_t>(h.max_size);
  info.growth_step = static_cast<std::size_t>(h.growth_step);
  info.free_memory = free_memory();
  info.creator_pid = h.creator_pid;
  info.creator_uid = h.creator_uid;
  info.creator_start_time = h.creator_start_time;
  info.created = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(h.created_unix_ns)));
  info.creator_alive = detail::process_alive(h.creator_pid, h.creator_start_time);
  impl_->attachment->describe(info);
  return info;
}

}  // namespace shmkit
