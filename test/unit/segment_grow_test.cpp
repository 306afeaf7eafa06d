// Segments that grow while mapped (Segment::grow, SegmentOptions::max_size and growth_step), on
// every backend of test_backends() that can grow (all but Windows' named sections and files).
#define BOOST_TEST_MODULE segment_grow
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <optional>
#include <string>

#if !defined(_WIN32)
#include <fcntl.h>
#include <unistd.h>
#endif

#include "backends.hpp"
#include "printing.hpp"
#include "segment_header.hpp"
#include "shmkit/containers.hpp"
#include "shmkit/memfd_handle.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/segment_view.hpp"

using namespace shmkit;
using namespace shmkit::test;
namespace bdata = boost::unit_test::data;

namespace grow_fixtures {

constexpr std::size_t kSize = 64 * 1024;
constexpr std::size_t kMax = 4 * 1024 * 1024;

// Windows sections and mapped files keep their size: growth is Error(unsupported) there.
bool can_grow(Backend b) {
#if defined(_WIN32)
  (void)b;
  return false;
#else
  (void)b;
  return true;
#endif
}

struct Growable {
  explicit Growable(Backend b, std::size_t max = kMax, std::size_t step = 0) : backend(b), name(unique_name("shmkit-grow", b)) {
    SegmentOptions o = options_for(b);
    o.max_size = max;
    o.growth_step = step;
    segment.emplace(Segment::create(name, kSize, o));
  }
  ~Growable() {
    segment.reset();
    Segment::remove(name, backend);
  }
  Growable(const Growable&) = delete;
  Growable& operator=(const Growable&) = delete;
  Segment* operator->() { return &*segment; }

  Backend backend;
  std::string name;
  std::optional<Segment> segment;
};

template <class F>
std::optional<Error> error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    BOOST_TEST_MESSAGE("Error: " << e.what());
    return e;
  }
  return std::nullopt;
}

using Ints = shmkit::vector<std::uint64_t>;

}  // namespace grow_fixtures
using namespace grow_fixtures;

BOOST_DATA_TEST_CASE(grow_adds_room_that_every_mapping_sees, bdata::make(test_backends()), backend) {
  if (!can_grow(backend)) {
    BOOST_TEST_MESSAGE("skipped: Windows named sections and files cannot grow");
    return;
  }
  Growable g(backend);
  Segment other = Segment::open(g.name, options_for(backend));
  SegmentView view = SegmentView::open(g.name, options_for(backend));
  BOOST_TEST(g->size() == kSize);
  BOOST_TEST(g->max_size() == kMax);
  BOOST_TEST(other.max_size() == kMax);
  BOOST_TEST(view.size() == kSize);
  BOOST_TEST(g->info().max_size == kMax);

  // Fill the segment: then it has no room, as a fixed one.
  auto& v = g->construct<Ints>("values");
  std::optional<Error> full;
  for (std::uint64_t i = 0; !full; ++i) full = error_of([&] { v.push_back(i * 7); });
  BOOST_TEST((full->errc() == Errc::out_of_memory));
  const std::size_t kept = v.size();
  const std::size_t free_before = g->free_memory();

  g->grow(1024 * 1024);
  BOOST_TEST(g->size() == kSize + 1024 * 1024);
  BOOST_TEST(other.size() == kSize + 1024 * 1024);
  BOOST_TEST(view.size() == kSize + 1024 * 1024);
  BOOST_TEST(view.info().size == kSize + 1024 * 1024);
  BOOST_TEST(g->free_memory() >= free_before + 1000 * 1024);
  BOOST_TEST(other.free_memory() == g->free_memory());

  // The new room holds data, written through one mapping and read through the others.
  for (std::uint64_t i = kept; i < kept + 50000; ++i) v.push_back(i * 7);
  other.construct<Ints>("more", 20000, 5);
  const Ints* seen = view.find<Ints>("values");
  BOOST_REQUIRE(seen != nullptr);
  BOOST_REQUIRE(seen->size() == kept + 50000);
  for (std::uint64_t i = 0; i < seen->size(); ++i) BOOST_REQUIRE((*seen)[i] == i * 7);
  const Ints* more = view.find<Ints>("more");
  BOOST_REQUIRE(more != nullptr);
  BOOST_TEST(more->size() == 20000u);
  BOOST_TEST(view.contains(&more->back()));
  BOOST_TEST(view.objects().size() == 2u);

  // A process that opens it now maps the maximum and finds the objects in the grown part.
  SegmentView late = SegmentView::open(g.name, options_for(backend));
  BOOST_TEST(late.size() == kSize + 1024 * 1024);
  BOOST_TEST(late.find<Ints>("values")->at(kept + 49999) == (kept + 49999) * 7);
}

// The header's size is another process's word: one scribbled past the backing object (up to the
// mapped maximum) is never believed, so no lookup touches bytes the object does not hold (SIGBUS).
BOOST_DATA_TEST_CASE(a_size_scribbled_past_the_backing_object_is_not_believed, bdata::make(test_backends()), backend) {
  if (!can_grow(backend)) {
    BOOST_TEST_MESSAGE("skipped: Windows named sections and files cannot grow");
    return;
  }
  Growable g(backend);
  g->construct<std::uint64_t>("value", 7u);
  auto* header = reinterpret_cast<detail::SegmentHeader*>(reinterpret_cast<std::byte*>(&g->manager()) -
                                                          detail::kManagerOffset);
  header->total_size.store(kMax, std::memory_order_release);
  BOOST_TEST(g->size() == kSize);
  const std::uint64_t* value = g->find<std::uint64_t>("value");
  BOOST_TEST_REQUIRE(value != nullptr);
  BOOST_TEST(*value == 7u);
  const std::vector<ObjectInfo> objects = g->objects();
  BOOST_TEST_REQUIRE(objects.size() == 1u);
  BOOST_TEST(objects.front().name == "value");
  header->total_size.store(kSize, std::memory_order_release);
}

BOOST_DATA_TEST_CASE(growth_beyond_the_maximum_is_out_of_memory_naming_it, bdata::make(test_backends()), backend) {
  if (!can_grow(backend)) {
    BOOST_TEST_MESSAGE("skipped: Windows named sections and files cannot grow");
    return;
  }
  Growable g(backend);
  const auto e = error_of([&] { g->grow(kMax - kSize + 1); });
  BOOST_REQUIRE(e.has_value());
  BOOST_TEST((e->errc() == Errc::out_of_memory));
  BOOST_TEST(std::string(e->what()).find(std::to_string(kMax)) != std::string::npos);
  BOOST_TEST(std::string(e->what()).find("maximum") != std::string::npos);
  BOOST_TEST(g->size() == kSize);  // nothing changed, still usable
  g->construct<int>("after", 1);
  g->grow(kMax - kSize);  // exactly to the maximum
  BOOST_TEST(g->size() == kMax);
  BOOST_TEST((error_of([&] { g->grow(1); })->errc() == Errc::out_of_memory));
  g->construct<Ints>("big", 400000, 1);  // 3.2 MB: only fits in the grown segment
}

BOOST_DATA_TEST_CASE(a_fixed_segment_cannot_grow, bdata::make(test_backends()), backend) {
  const std::string name = unique_name("shmkit-fixed", backend);
  {
    Segment s = Segment::create(name, kSize, options_for(backend));
    BOOST_TEST(s.max_size() == s.size());
    const auto e = error_of([&] { s.grow(4096); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST((e->errc() == Errc::out_of_memory));
    BOOST_TEST(std::string(e->what()).find("maximum") != std::string::npos);
    BOOST_TEST(s.size() == kSize);
    SegmentView view = SegmentView::open(name, options_for(backend));
    BOOST_TEST(view.max_size() == kSize);
  }
  Segment::remove(name, backend);
}

BOOST_DATA_TEST_CASE(bad_growth_options_are_refused, bdata::make(test_backends()), backend) {
  const std::string name = unique_name("shmkit-badgrow", backend);
  SegmentOptions o = options_for(backend);
  o.max_size = kSize - 1;  // below the size
  BOOST_TEST((error_of([&] { Segment::create(name, kSize, o); })->errc() == Errc::invalid_argument));
  o.max_size = 0;
  o.growth_step = 4096;  // nothing to grow to
  BOOST_TEST((error_of([&] { Segment::create(name, kSize, o); })->errc() == Errc::invalid_argument));
}

BOOST_DATA_TEST_CASE(read_only_views_cannot_grow_but_follow, bdata::make(test_backends()), backend) {
  if (!can_grow(backend)) {
    BOOST_TEST_MESSAGE("skipped: Windows named sections and files cannot grow");
    return;
  }
  Growable g(backend);
  SegmentView view = SegmentView::open(g.name, options_for(backend));
  for (int i = 1; i <= 10; ++i) {
    g->grow(8192);
    BOOST_TEST(view.size() == kSize + static_cast<std::size_t>(i) * 8192);
  }
  // A view's segment is read-only: grow is refused on it (through the writable API only).
  BOOST_TEST(view.max_size() == kMax);
}

BOOST_DATA_TEST_CASE(automatic_growth_grows_on_demand_up_to_the_maximum, bdata::make(test_backends()), backend) {
  if (!can_grow(backend)) {
    BOOST_TEST_MESSAGE("skipped: Windows named sections and files cannot grow");
    return;
  }
  Growable g(backend, kMax, 64 * 1024);
  Segment other = Segment::open(g.name, options_for(backend));
  BOOST_TEST(other.info().growth_step == 64u * 1024);
  // Container allocations in another process's mapping grow it as well: the policy is the segment's.
  auto& v = other.construct<Ints>("values");
  for (std::uint64_t i = 0; i < 100000; ++i) v.push_back(i + 1);
  BOOST_TEST(g->size() > kSize);
  BOOST_TEST(g->size() == other.size());
  BOOST_TEST(g->size() <= kMax);
  // An object larger than the free room: construct grows too.
  std::uint64_t* array = g->construct_array<std::uint64_t>("array", 100000, 3);
  BOOST_TEST(array[99999] == 3u);
  const Ints* seen = g->find<Ints>("values");
  for (std::uint64_t i = 0; i < 100000; ++i) BOOST_REQUIRE((*seen)[i] == i + 1);
  // At the maximum: Error(out_of_memory), the segment stays usable.
  const auto e = error_of([&] { g->construct_array<std::uint64_t>("huge", kMax / 8, 0); });
  BOOST_REQUIRE(e.has_value());
  BOOST_TEST((e->errc() == Errc::out_of_memory));
  g->construct<int>("small", 5);
  BOOST_TEST(g->size() <= kMax);
}

#if defined(__linux__)
BOOST_AUTO_TEST_CASE(memfd_seals_forbid_shrinking_and_allow_growth_only_when_growable) {
  if (!backend_available(Backend::memfd)) {
    BOOST_TEST_MESSAGE("skipped: no memfd backend in this build");
    return;
  }
  Growable g(Backend::memfd);
  const int fd = g->handle<MemfdHandle>()->fd();
  const int seals = ::fcntl(fd, F_GET_SEALS);
  BOOST_TEST((seals & F_SEAL_SHRINK) != 0);
  BOOST_TEST((seals & F_SEAL_SEAL) != 0);
  BOOST_TEST((seals & F_SEAL_GROW) == 0);
  BOOST_TEST(::ftruncate(fd, 4096) != 0);  // no shrinking under anyone's mapping
  g->grow(4096);
  BOOST_TEST(::lseek(fd, 0, SEEK_END) == static_cast<off_t>(kSize + 4096));

  const std::string name = unique_name("shmkit-fixed-memfd");
  SegmentOptions o = options_for(Backend::memfd);
  Segment fixed = Segment::create(name, kSize, o);
  BOOST_TEST((::fcntl(fixed.handle<MemfdHandle>()->fd(), F_GET_SEALS) & F_SEAL_GROW) != 0);
}
#endif
