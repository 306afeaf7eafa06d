// Portable Segment logic: header, segment manager and named objects over any backend's Mapping.
#include "shmkit/segment.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <thread>

#include "file_mapping.hpp"
#include "mapping.hpp"
#include "memory_advice.hpp"
#include "memfd_backend.hpp"
#include "process_identity.hpp"
#include "segment_header.hpp"
#include "shmkit/detail/segment_manager.hpp"
#include "shmkit/segment_directory.hpp"

namespace shmkit {

using detail::Mapping;
using detail::SegmentHeader;
using detail::SegmentManager;

struct Segment::Impl {
  std::unique_ptr<Mapping> mapping;
  // memfd only. Declared after the mapping so it goes first: the server stops serving the
  // memfd before the mapping (which owns it) closes it.
  std::unique_ptr<detail::ControlLink> control;
  std::string name;
  Backend backend = Backend::named;
  MemoryAdvice memory;  // what SegmentOptions::memory achieved

  SegmentHeader& header() const noexcept { return *reinterpret_cast<SegmentHeader*>(mapping->data()); }
  SegmentManager* manager() const noexcept {
    return reinterpret_cast<SegmentManager*>(mapping->data() + detail::kManagerOffset);
  }
};

namespace {

constexpr std::size_t kMaxNameLength = 200;

// Names travel into shm_open, socket paths and file names: keep them to a portable alphabet.
void validate_segment_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength)
    throw Error(Errc::invalid_argument, "segment name '" + std::string(name) + "' must have 1 to " +
                                            std::to_string(kMaxNameLength) + " characters");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    if (!ok)
      throw Error(Errc::invalid_argument, "segment name '" + std::string(name) +
                                              "' may contain only letters, digits, '-', '_' and '.'");
  }
}

Backend resolve(Backend b) {
  if (b != Backend::automatic) return b;
  return detail::memfd_available() ? Backend::memfd : Backend::named;
}

void require_supported(Backend b) {
  const bool supported = b == Backend::named || (b == Backend::memfd && detail::memfd_available());
  if (!supported)
    throw Error(Errc::unsupported, std::string("backend '") + to_string(b) + "' is not available in this build");
}

const std::string kNoSocketPath;

// Lays out a fresh segment in `mapping`: header, then the segment manager; publishes it ready.
void format_segment(Mapping& mapping, std::string_view name, Backend backend) {
  auto* h = ::new (mapping.data()) SegmentHeader{};
  detail::write_header(*h, name, backend, mapping.size());
  ::new (mapping.data() + detail::kManagerOffset) SegmentManager(mapping.size() - detail::kManagerOffset);
  // Release: an opener that sees ready also sees the header and the manager fully written.
  h->state.store(detail::kReady, std::memory_order_release);
}

// Waits until the creator has published the header, then validates it.
void await_and_validate(const Mapping& mapping, std::string_view name, detail::DeadlineNs deadline) {
  if (mapping.size() < sizeof(SegmentHeader)) detail::validate_header(SegmentHeader{}, mapping.size(), name);
  const auto& h = *reinterpret_cast<const SegmentHeader*>(mapping.data());
  std::chrono::microseconds pause{20};
  while (!detail::header_is_ready(h)) {
    const bool looks_ours = h.magic == 0 || h.magic == detail::kSegmentMagic;
    if (!looks_ours) break;  // validate_header says what it is
    if (detail::steady_now_ns() >= deadline) {
      const bool creator_alive = h.creator_pid != 0 && detail::process_alive(h.creator_pid, h.creator_start_time);
      if (h.magic == detail::kSegmentMagic && !creator_alive)
        throw Error(Errc::corrupt, "segment '" + std::string(name) + "' was never finished: its creator (pid " +
                                       std::to_string(h.creator_pid) + ") died while initializing it; remove it");
      throw Error(Errc::timeout, "segment '" + std::string(name) +
                                     "' is not ready: its creator is still initializing it, or it was not made "
                                     "by shmkit");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds{2000});
  }
  try {
    detail::validate_header(h, mapping.size(), name);
  } catch (const Error& e) {
    // A damaged segment whose creator is gone is most likely left over from a crash: say so.
    if ((e.errc() != Errc::corrupt && e.errc() != Errc::too_small) || h.creator_pid <= 0 ||
        detail::process_alive(h.creator_pid, h.creator_start_time))
      throw;
    throw Error(e.errc(), std::string(e.what()) + " [its creator, pid " + std::to_string(h.creator_pid) +
                              ", is dead: a leftover of a crash? remove it, or create with reclaim_stale]");
  }
}

// The header of a served memfd segment is published before its server starts, so there is
// nothing to wait for; it must say memfd and, when the opener named it, carry that name.
void validate_attached(const Mapping& mapping, std::string_view name, std::string_view expected_name) {
  if (mapping.size() < sizeof(SegmentHeader)) detail::validate_header(SegmentHeader{}, mapping.size(), name);
  const auto& h = *reinterpret_cast<const SegmentHeader*>(mapping.data());
  if (h.magic == detail::kSegmentMagic && !detail::header_is_ready(h))
    throw Error(Errc::corrupt, "segment '" + std::string(name) + "' was served before its header was complete");
  detail::validate_header(h, mapping.size(), name);
  if (h.backend != static_cast<std::uint32_t>(Backend::memfd))
    throw Error(Errc::corrupt, "segment '" + std::string(name) + "' came over a control socket but its header says "
                               "backend '" + to_string(static_cast<Backend>(h.backend)) + "'");
  const std::string_view stored(h.name, strnlen(h.name, sizeof h.name));
  if (!expected_name.empty() && stored != expected_name.substr(0, sizeof h.name - 1))
    throw Error(Errc::not_found, "the control socket for segment '" + std::string(expected_name) +
                                     "' serves segment '" + std::string(stored) + "': check SegmentOptions::socket_path");
}

// File backend: `name` is the file's path. The file is complete before anyone can open it, so
// there is nothing to wait for; the header is validated, then this process joins the session.
std::unique_ptr<Segment::Impl> file_segment(std::string_view path, std::unique_ptr<Mapping> mapping) {
  auto impl = std::make_unique<Segment::Impl>();
  impl->name = std::string(path);
  impl->backend = Backend::file;
  impl->mapping = std::move(mapping);
  const auto& h = impl->header();
  if (h.magic == detail::kSegmentMagic && !detail::header_is_ready(h))
    throw Error(Errc::corrupt, "file segment '" + impl->name + "' was never finished: remove it");
  detail::validate_header(h, impl->mapping->size(), path);
  detail::begin_file_session(*impl->mapping, *impl->manager());
  return impl;
}

// ---- Named backend: create, reclaiming a stale segment of the same name if asked ----

std::string describe_existing(const std::string& name) {
  std::string why = "named segment '" + name + "' already exists";
  try {
    for (const SegmentListing& l : list_segments()) {
      if (l.backend != Backend::named || l.name != name) continue;
      if (l.creator_alive) why += " and its creator (pid " + std::to_string(l.creator_pid) + ") is alive";
      else why += " and its creator (pid " + std::to_string(l.creator_pid) + ") is dead";
      if (!l.users.empty()) {
        why += l.creator_alive ? ", mapped by pid" : " but it is still mapped by pid";
        for (std::size_t i = 0; i < l.users.size() && i < 8; ++i) why += (i == 0 ? " " : ", ") + std::to_string(l.users[i]);
      }
      return why + ": reclaim_stale never removes a segment in use; open it instead";
    }
  } catch (const Error&) {
    // No directory to consult on this platform: say what we know.
  }
  return why + " and is not a stale shmkit segment (in use, or not made by shmkit): open it, or remove it";
}

std::unique_ptr<Mapping> create_named_reclaiming(const std::string& name, std::size_t size, const SegmentOptions& options) {
  try {
    return detail::create_named_mapping(name, size, options.permissions);
  } catch (const Error& e) {
    if (e.errc() != Errc::already_exists || !options.reclaim_stale) throw;
  }
  bool removed = false;
  try {
    removed = remove_if_stale(name, Backend::named);
  } catch (const Error& e) {
    if (e.errc() != Errc::unsupported) throw;
  }
  if (!removed) throw Error(Errc::already_exists, describe_existing(name));
  // Another process may create it in this instant: then already_exists, as without reclaiming.
  return detail::create_named_mapping(name, size, options.permissions);
}

// ---- Lock-free named lookup for read-only views ----
// A read-only view cannot take the segment manager's lock (that is a write), so it walks Boost's
// named index (an intrusive red-black tree of offset pointers) itself: every node, block header,
// name and value is checked to lie inside the mapping before it is read, the walk is bounded, and
// the whole lookup is validated against the header's object epoch, which writers make odd while
// they change the index (Segment::begin_index_change). A walk that saw a change is repeated.

namespace bip = boost::interprocess;
using IndexTree = bip::iset_index_aux<bip::ipcdetail::index_config<char, detail::MemoryAlgorithm>>::index_t;
using IndexNodeTraits = IndexTree::node_traits;
using IndexNodePtr = IndexNodeTraits::node_ptr;
using IndexNode = IndexNodeTraits::node;
using IndexValue = IndexTree::value_type;
using BlockHeader = bip::ipcdetail::block_header<SegmentManager::size_type>;

// Red-black trees are at most 2*log2(n+1) deep; a segment holds far fewer than 2^40 objects.
constexpr int kMaxTreeDepth = 96;

enum class Walk { done, inconsistent };

class IndexWalker {
 public:
  explicit IndexWalker(const Mapping& m) : base_(reinterpret_cast<std::uintptr_t>(m.data())), size_(m.size()) {}

  // The tree's root, or nullptr when the index is empty or its header is out of bounds.
  const IndexNode* root(const SegmentManager& manager, Walk& status) const {
    const IndexNode* header = boost::movelib::to_raw_pointer(manager.named_end().base().pointed_node());
    if (!inside(header, sizeof(IndexNode), alignof(IndexNode))) return fail(status);
    return checked(IndexNodeTraits::get_parent(IndexNodePtr(const_cast<IndexNode*>(header))), status);
  }
  const IndexNode* left(const IndexNode* n, Walk& status) const {
    return checked(IndexNodeTraits::get_left(IndexNodePtr(const_cast<IndexNode*>(n))), status);
  }
  const IndexNode* right(const IndexNode* n, Walk& status) const {
    return checked(IndexNodeTraits::get_right(IndexNodePtr(const_cast<IndexNode*>(n))), status);
  }

  struct Entry {
    std::string_view name;
    void* value = nullptr;
    std::size_t value_bytes = 0;
  };
  // The node's name and value, every byte inside the mapping; false if anything is out of bounds.
  bool entry(const IndexNode* n, Entry& out) const {
    const IndexValue* v = boost::movelib::to_raw_pointer(
        IndexTree::value_traits::to_value_ptr(IndexNodePtr(const_cast<IndexNode*>(n))));
    if (!inside(v, sizeof(IndexValue), alignof(IndexValue))) return false;
    const BlockHeader* bh = v->get_block_header();
    if (!inside(bh, sizeof(BlockHeader), alignof(BlockHeader))) return false;
    const std::size_t value_bytes = bh->m_value_bytes;
    const std::size_t align = bh->m_value_alignment;
    const std::size_t name_length = bh->m_num_char;
    if (align == 0 || (align & (align - 1)) != 0 || (bh->m_alloc_type_sizeof_char & 0x1F) != sizeof(char)) return false;
    const std::size_t value_offset = (sizeof(BlockHeader) + align - 1) / align * align;
    const std::uintptr_t value = reinterpret_cast<std::uintptr_t>(bh) + value_offset;
    if (value_bytes > size_ || !inside_range(value, value_bytes)) return false;
    const std::uintptr_t name = value + value_bytes;  // chars need no rounding
    if (name_length == 0 || !inside_range(name, name_length + 1)) return false;
    out.name = std::string_view(reinterpret_cast<const char*>(name), name_length);
    out.value = reinterpret_cast<void*>(value);
    out.value_bytes = value_bytes;
    return true;
  }

 private:
  bool inside_range(std::uintptr_t a, std::size_t n) const noexcept {
    return a >= base_ && n <= size_ && a - base_ <= size_ - n;
  }
  bool inside(const void* p, std::size_t n, std::size_t align) const noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    return a % align == 0 && inside_range(a, n);
  }
  static const IndexNode* fail(Walk& status) {
    status = Walk::inconsistent;
    return nullptr;
  }
  const IndexNode* checked(const IndexNodePtr& p, Walk& status) const {
    const IndexNode* n = boost::movelib::to_raw_pointer(p);
    if (n == nullptr) return nullptr;
    return inside(n, sizeof(IndexNode), alignof(IndexNode)) ? n : fail(status);
  }

  std::uintptr_t base_;
  std::size_t size_;
};

// Runs `walk` (returns Walk) until it ran while no writer changed the index. Error(timeout) if a
// writer keeps the index changing for two seconds (one that died inside construct()/destroy()
// leaves it so: its segment manager lock is poisoned too); Error(corrupt) for a walk that found
// out-of-bounds offsets while nothing was changing.
template <class F>
void validated_walk(const SegmentHeader& h, const std::string& segment, F&& walk) {
  const detail::DeadlineNs give_up = detail::deadline_after(std::chrono::seconds(2));
  std::chrono::microseconds pause{1};
  for (int attempt = 0;; ++attempt) {
    const std::uint64_t before = h.object_epoch.load(std::memory_order_acquire);
    if ((before & 1) == 0) {
      const Walk status = walk();
      std::atomic_thread_fence(std::memory_order_acquire);
      if (h.object_epoch.load(std::memory_order_relaxed) == before) {
        if (status == Walk::done) return;
        throw Error(Errc::corrupt, "segment '" + segment + "': its named-object index points outside the segment "
                                   "(damaged by a stray write?): recreate the segment");
      }
    }
    if (detail::steady_now_ns() >= give_up)
      throw Error(Errc::timeout, "segment '" + segment + "': its named-object index has been changing for 2 s "
                                 "(a writer stuck, or killed inside construct()/destroy()): if its writer died, "
                                 "recreate the segment");
    if (attempt < 16) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds{1000});
    }
  }
}

std::pair<void*, std::size_t> lockless_find(const Mapping& mapping, const std::string& segment, const std::string& key) {
  const auto& h = *reinterpret_cast<const SegmentHeader*>(mapping.data());
  const auto& manager = *reinterpret_cast<const SegmentManager*>(mapping.data() + detail::kManagerOffset);
  const IndexWalker walker(mapping);
  std::pair<void*, std::size_t> result{nullptr, 0};
  validated_walk(h, segment, [&] {
    result = {nullptr, 0};
    Walk status = Walk::done;
    const IndexNode* n = walker.root(manager, status);
    for (int depth = 0; n != nullptr && status == Walk::done; ++depth) {
      IndexWalker::Entry e;
      if (depth >= kMaxTreeDepth || !walker.entry(n, e)) return Walk::inconsistent;
      // Boost's order: by length, then by characters.
      int cmp = key.size() < e.name.size() ? -1 : key.size() > e.name.size() ? 1 : 0;
      if (cmp == 0) cmp = std::char_traits<char>::compare(key.data(), e.name.data(), key.size());
      if (cmp == 0) {
        result = {e.value, e.value_bytes / sizeof(detail::ObjectUnit)};
        return Walk::done;
      }
      n = cmp < 0 ? walker.left(n, status) : walker.right(n, status);
    }
    return status;
  });
  return result;
}

std::vector<ObjectInfo> lockless_objects(const Mapping& mapping, const std::string& segment) {
  const auto& h = *reinterpret_cast<const SegmentHeader*>(mapping.data());
  const auto& manager = *reinterpret_cast<const SegmentManager*>(mapping.data() + detail::kManagerOffset);
  const IndexWalker walker(mapping);
  std::vector<ObjectInfo> out;
  validated_walk(h, segment, [&] {
    out.clear();
    Walk status = Walk::done;
    const IndexNode* stack[kMaxTreeDepth];
    int depth = 0;
    // No node holds less than a node: more visits than that means a cycle.
    std::size_t budget = mapping.size() / sizeof(IndexNode);
    const IndexNode* n = walker.root(manager, status);
    while ((n != nullptr || depth > 0) && status == Walk::done) {
      if (n != nullptr) {
        if (depth >= kMaxTreeDepth || budget-- == 0) return Walk::inconsistent;
        stack[depth++] = n;
        n = walker.left(n, status);
        continue;
      }
      n = stack[--depth];
      IndexWalker::Entry e;
      if (!walker.entry(n, e)) return Walk::inconsistent;
      ObjectInfo info;
      info.name.assign(e.name);
      const auto* tag = static_cast<const detail::ObjectTag*>(e.value);
      if (e.value_bytes >= sizeof(detail::ObjectTag) && reinterpret_cast<std::uintptr_t>(tag) % alignof(detail::ObjectTag) == 0 &&
          tag->magic == detail::kObjectMagic) {
        info.count = tag->count;
        info.bytes = tag->count * tag->element_size;
        info.type.assign(tag->type_name, strnlen(tag->type_name, sizeof tag->type_name));
      } else {
        info.type = "(not made by shmkit)";
      }
      out.push_back(std::move(info));
      n = walker.right(n, status);
    }
    return status;
  });
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
  return out;
}

}  // namespace

namespace detail {

void throw_segment_full(std::size_t bytes, const SegmentManager* manager) {
  // The header sits a fixed distance before the manager: it names the segment for the message.
  const auto* h = reinterpret_cast<const SegmentHeader*>(reinterpret_cast<const std::byte*>(manager) - kManagerOffset);
  throw Error(Errc::out_of_memory, "segment '" + std::string(h->name, strnlen(h->name, sizeof h->name)) +
                                       "' has no room for " + std::to_string(bytes) + " more bytes (" +
                                       std::to_string(manager->get_free_memory()) +
                                       " free): create a larger segment or free objects");
}

}  // namespace detail

const char* to_string(Access a) noexcept {
  switch (a) {
    case Access::read_write: return "read_write";
    case Access::read_only: return "read_only";
  }
  return "unknown";
}

const char* to_string(Backend b) noexcept {
  switch (b) {
    case Backend::automatic: return "automatic";
    case Backend::named: return "named";
    case Backend::memfd: return "memfd";
    case Backend::file: return "file";
  }
  return "unknown";
}

Segment::Segment(std::unique_ptr<Impl> impl) : impl_(std::move(impl)), manager_(impl_->manager()) {}

Segment::Segment(std::unique_ptr<Impl> impl, const SegmentOptions& options, bool created) {
  const MemoryAdvice& want = options.memory;
  if (want.prefault || want.huge_pages || want.lock) {
    try {
      impl->memory = detail::apply_memory_advice(impl->mapping->data(), impl->mapping->size(),
                                                 impl->mapping->writable(), want, impl->name);
    } catch (...) {
      // Nothing half-made stays behind: a named or file segment this call created goes again.
      if (created && impl->backend != Backend::memfd) {
        const std::string name = impl->name;
        const Backend backend = impl->backend;
        impl.reset();
        Segment::remove(name, backend);
      }
      throw;
    }
  }
  impl_ = std::move(impl);
  manager_ = impl_->manager();
}
Segment::Segment(Segment&&) noexcept = default;
Segment& Segment::operator=(Segment&&) noexcept = default;
Segment::~Segment() = default;

Segment Segment::create(std::string_view name, std::size_t size, const SegmentOptions& options) {
  if (options.access != Access::read_write)
    throw Error(Errc::invalid_argument, "create segment '" + std::string(name) +
                                            "': a creator needs Access::read_write (read_only is for open/attach)");
  if (options.backend == Backend::file) {
    if (size < min_size)
      throw Error(Errc::too_small, "segment size " + std::to_string(size) + " is below the minimum of " +
                                       std::to_string(min_size) + " bytes");
    auto format = [&](Mapping& m) { format_segment(m, name, Backend::file); };
    return Segment(file_segment(name, detail::create_file_mapping(std::string(name), size, options.permissions, format)), options, true);
  }
  validate_segment_name(name);
  const Backend backend = resolve(options.backend);
  require_supported(backend);
  if (size < min_size)
    throw Error(Errc::too_small, "segment size " + std::to_string(size) + " is below the minimum of " +
                                     std::to_string(min_size) + " bytes");
  auto impl = std::make_unique<Impl>();
  impl->name = std::string(name);
  impl->backend = backend;
  if (backend == Backend::memfd) {
    // Fully formatted before the server starts: no client can ever see it half-built.
    const std::string socket_path = detail::memfd_socket_path(name, options);
    impl->mapping = detail::create_memfd_segment(impl->name, size);
    format_segment(*impl->mapping, name, backend);
    impl->control = detail::serve_memfd_segment(*impl->mapping, socket_path, options);
    return Segment(std::move(impl), options, true);
  }
  impl->mapping = create_named_reclaiming(impl->name, size, options);
  try {
    format_segment(*impl->mapping, name, backend);
  } catch (...) {
    detail::remove_named_mapping(impl->name);
    throw;
  }
  return Segment(std::move(impl), options, true);
}

Segment Segment::open(std::string_view name, const SegmentOptions& options) {
  if (options.backend == Backend::file && options.access == Access::read_only)
    throw Error(Errc::unsupported, "file segment '" + std::string(name) +
                                       "': read-only views are not supported on the file backend; use named or memfd");
  if (options.backend == Backend::file)
    return Segment(file_segment(name, detail::open_file_mapping(std::string(name), detail::deadline_after(options.open_timeout))), options, false);
  validate_segment_name(name);
  const Backend backend = resolve(options.backend);
  require_supported(backend);
  const detail::DeadlineNs deadline = detail::deadline_after(options.open_timeout);
  auto impl = std::make_unique<Impl>();
  impl->name = std::string(name);
  impl->backend = backend;
  if (backend == Backend::memfd) {
    auto attached =
        detail::attach_memfd_segment(name, options.socket_path, deadline, options.access == Access::read_only);
    impl->mapping = std::move(attached.mapping);
    impl->control = std::move(attached.link);
    validate_attached(*impl->mapping, name, name);
    return Segment(std::move(impl), options, false);
  }
  impl->mapping = detail::open_named_mapping(impl->name, deadline, options.access == Access::read_write);
  await_and_validate(*impl->mapping, name, deadline);
  return Segment(std::move(impl), options, false);
}

Segment Segment::attach(std::string_view socket_path, const SegmentOptions& options) {
  require_supported(Backend::memfd);
  const std::string path(socket_path);
  auto attached = detail::attach_memfd_segment({}, path, detail::deadline_after(options.open_timeout),
                                               options.access == Access::read_only);
  auto impl = std::make_unique<Impl>();
  impl->backend = Backend::memfd;
  impl->mapping = std::move(attached.mapping);
  impl->control = std::move(attached.link);
  validate_attached(*impl->mapping, path, {});
  const auto& h = impl->header();
  impl->name.assign(h.name, strnlen(h.name, sizeof h.name));
  return Segment(std::move(impl), options, false);
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
      return open(name, options);
    } catch (const Error& e) {
      if (e.errc() != Errc::not_found || attempt >= 8) throw;
    }
  }
}

bool Segment::remove(std::string_view name, Backend backend) {
  if (backend == Backend::file) return detail::remove_file_segment(std::string(name));
  validate_segment_name(name);
  backend = resolve(backend);
  require_supported(backend);
  if (backend == Backend::memfd) return detail::remove_stale_memfd_socket(detail::memfd_client_socket_path(name, {}));
  return detail::remove_named_mapping(std::string(name));
}

std::string Segment::object_name(std::string_view name) const {
  if (name.empty() || name.size() > 255 || name.find('\0') != std::string_view::npos)
    throw Error(Errc::invalid_argument, "object name '" + std::string(name) +
                                            "' must have 1 to 255 characters and no NUL");
  return std::string(name);
}

std::pair<void*, std::size_t> Segment::find_block(const std::string& name) const {
  if (!impl_->mapping->writable()) return lockless_find(*impl_->mapping, impl_->name, name);
  auto [found, units] = manager_->find<detail::ObjectUnit>(name.c_str());
  return {found, units};
}

void Segment::begin_index_change() const noexcept {
  // Odd while changing; never even-to-even, even after a writer died halfway (odd left behind).
  auto& epoch = impl_->header().object_epoch;
  epoch.store((epoch.load(std::memory_order_relaxed) + 2) | 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);  // the odd value is seen before any change
}

void Segment::end_index_change() const noexcept {
  auto& epoch = impl_->header().object_epoch;
  epoch.store(epoch.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void Segment::require_writable(std::string_view what) const {
  if (!impl_->mapping->writable())
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
  std::memcpy(tag->type_name, type.name.data(), std::min(type.name.size(), sizeof tag->type_name - 1));
  return reinterpret_cast<void*>(first);
}

void* Segment::checked_value(void* block, std::size_t units, std::string_view name,
                             const detail::TypeIdentity& want) const {
  const auto* tag = static_cast<const detail::ObjectTag*>(block);
  const std::size_t block_bytes = units * sizeof(detail::ObjectUnit);
  const std::string where = "object '" + std::string(name) + "' in segment '" + impl_->name + "'";
  if (block_bytes < sizeof(detail::ObjectTag) || tag->magic != detail::kObjectMagic)
    throw Error(Errc::type_mismatch, where + " was not made by shmkit (no object tag): reach it through manager()");
  if (tag->state.load(std::memory_order_acquire) != detail::kObjectReady)
    throw Error(Errc::corrupt, where + " was never finished: its creator died while constructing it");
  if (tag->type_hash != want.hash || tag->element_size != want.size || tag->element_align != want.align) {
    char stored[sizeof tag->type_name + 1] = {};
    std::memcpy(stored, tag->type_name, sizeof tag->type_name);
    throw Error(Errc::type_mismatch, where + " is a " + stored + " (" + std::to_string(tag->element_size) +
                                         " bytes), not a " + std::string(want.name) + " (" +
                                         std::to_string(want.size) + " bytes)");
  }
  if (tag->value_offset < sizeof(detail::ObjectTag) || tag->value_offset > block_bytes ||
      tag->count > (block_bytes - tag->value_offset) / std::max<std::size_t>(want.size, 1) ||
      (reinterpret_cast<std::uintptr_t>(block) + tag->value_offset) % want.align != 0)
    throw Error(Errc::corrupt, where + ": its tag's offset or count lies outside its block");
  return static_cast<std::byte*>(block) + tag->value_offset;
}

std::vector<ObjectInfo> Segment::objects() const {
  if (!impl_->mapping->writable()) return lockless_objects(*impl_->mapping, impl_->name);
  std::vector<ObjectInfo> out;
  auto body = [&] {
    for (auto it = manager_->named_begin(); it != manager_->named_end(); ++it) {
      ObjectInfo info;
      info.name.assign(it->name(), it->name_length());
      auto [block, units] = manager_->find_no_lock<detail::ObjectUnit>(info.name.c_str());
      const auto* tag = reinterpret_cast<const detail::ObjectTag*>(block);
      if (block != nullptr && units * sizeof(detail::ObjectUnit) >= sizeof(detail::ObjectTag) &&
          tag->magic == detail::kObjectMagic) {
        info.count = tag->count;
        info.bytes = tag->count * tag->element_size;
        info.type.assign(tag->type_name, strnlen(tag->type_name, sizeof tag->type_name));
      } else {
        info.type = "(not made by shmkit)";
      }
      out.push_back(std::move(info));
    }
  };
  manager_->atomic_func(body);
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
  return out;
}

std::size_t Segment::size() const noexcept { return impl_->mapping->size(); }
std::size_t Segment::free_memory() const noexcept { return manager_->get_free_memory(); }

bool Segment::contains(const void* p, std::size_t n) const noexcept {
  const auto* b = reinterpret_cast<const std::byte*>(p);
  const std::byte* base = impl_->mapping->data();
  return b >= base && n <= impl_->mapping->size() && static_cast<std::size_t>(b - base) <= impl_->mapping->size() - n;
}

const std::string& Segment::name() const noexcept { return impl_->name; }
Backend Segment::backend() const noexcept { return impl_->backend; }

void Segment::flush(Flush mode) { detail::flush_mapping(*impl_->mapping, mode == Flush::sync); }

bool Segment::opened_clean() const noexcept {
  const auto* file = detail::file_session_report(*impl_->mapping);
  return file == nullptr || file->clean;
}
bool Segment::writable() const noexcept { return impl_->mapping->writable(); }

ControlServer* Segment::control_server() const noexcept {
  return impl_->control ? impl_->control->server() : nullptr;
}
const std::string& Segment::socket_path() const noexcept {
  return impl_->control ? impl_->control->socket_path() : kNoSocketPath;
}
int Segment::control_fd() const noexcept { return impl_->control ? impl_->control->connection_fd() : -1; }
bool Segment::server_alive() const noexcept { return !impl_->control || impl_->control->server_alive(); }

MemoryAdvice Segment::memory_advice() const noexcept { return impl_->memory; }

SegmentInfo Segment::info() const {
  const SegmentHeader& h = impl_->header();
  SegmentInfo info;
  info.name = impl_->name;
  info.backend = impl_->backend;
  info.format_version = h.format_version;
  info.boost_version = h.layout.boost_version;
  info.size = h.total_size;
  info.free_memory = free_memory();
  info.creator_pid = h.creator_pid;
  info.creator_uid = h.creator_uid;
  info.creator_start_time = h.creator_start_time;
  info.created = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(h.created_unix_ns)));
  info.creator_alive = detail::process_alive(h.creator_pid, h.creator_start_time);
  if (const auto* file = detail::file_session_report(*impl_->mapping)) {
    info.opened_clean = file->clean;
    info.opened_after_reboot = file->other_boot;
    info.sessions = h.file.sessions.load(std::memory_order_relaxed);
    info.unclean_sessions = h.file.unclean_sessions;
    info.attached = h.file.writers.load(std::memory_order_relaxed);
  }
  return info;
}

}  // namespace shmkit
