// Segment API, named objects and containers, run on every backend of test_backends().
#define BOOST_TEST_MODULE segment
#include <unistd.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "backends.hpp"
#include "temp_segment.hpp"
#include "printing.hpp"
#include "child_process.hpp"
#include "shmkit/containers.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/segment.hpp"
#include "shmkit/segment_view.hpp"

using namespace shmkit;
using namespace shmkit::test;
namespace bdata = boost::unit_test::data;

namespace fixtures {

template <class F>
Errc errc_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    BOOST_TEST_MESSAGE("Error: " << e.what());
    return e.errc();
  }
  return Errc::ok;
}

struct Point {
  std::int64_t x = 0, y = 0;
  Point() = default;
  Point(std::int64_t a, std::int64_t b) : x(a), y(b) {}
};

}  // namespace fixtures
using namespace fixtures;

BOOST_DATA_TEST_CASE(create_then_open_sees_same_objects, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  BOOST_TEST(t->name() == t.name);
  BOOST_TEST(t->backend() == backend);
  BOOST_TEST(t->size() == std::size_t{1} << 20);
  BOOST_TEST(t->free_memory() > 900u * 1024);
  BOOST_TEST(t->free_memory() < t->size());

  int& created = t->construct<int>("answer", 42);
  Segment other = Segment::open(t.name, options_for(backend));
  int* seen = other.find<int>("answer");
  BOOST_REQUIRE(seen != nullptr);
  BOOST_TEST(*seen == 42);
  created = 43;  // one object, two views of it
  BOOST_TEST(*seen == 43);

  const SegmentInfo info = other.info();
  BOOST_TEST(info.name == t.name);
  BOOST_TEST(info.format_version == 2u);
  BOOST_TEST(info.creator_pid == ::getpid());
  BOOST_TEST(info.creator_uid == ::getuid());
  BOOST_TEST(info.creator_alive);
  BOOST_TEST(info.size == t->size());
  BOOST_TEST(info.boost_version >= 107400u);
}

BOOST_DATA_TEST_CASE(missing_segment_is_not_found, bdata::make(test_backends()), backend) {
  BOOST_TEST(errc_of([&] { Segment::open(unique_name("shmkit-missing", backend), options_for(backend)); }) ==
             Errc::not_found);
}

BOOST_DATA_TEST_CASE(removed_segment_is_gone, bdata::make(test_backends()), backend) {
  const std::string name = unique_name("shmkit-removed", backend);
  { Segment s = Segment::create(name, Segment::min_size, options_for(backend)); }
  Segment::remove(name, backend);
  BOOST_TEST(errc_of([&] { Segment::open(name, options_for(backend)); }) == Errc::not_found);
  BOOST_TEST(!Segment::remove(name, backend));  // nothing left to remove
}

BOOST_DATA_TEST_CASE(create_twice_is_already_exists, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  BOOST_TEST(errc_of([&] { Segment::create(t.name, 1 << 20, options_for(backend)); }) == Errc::already_exists);
  // The first one is untouched by the failed attempt.
  t->construct<int>("still-here", 1);
  Segment view = Segment::open(t.name, options_for(backend));
  BOOST_TEST(*view.find<int>("still-here") == 1);
}

BOOST_DATA_TEST_CASE(open_or_create_creates_once, bdata::make(test_backends()), backend) {
  const std::string name = unique_name("shmkit-ooc", backend);
  {
    Segment a = Segment::open_or_create(name, 1 << 20, options_for(backend));
    a.construct<int>("n", 7);
    Segment b = Segment::open_or_create(name, 1 << 20, options_for(backend));
    BOOST_REQUIRE(b.find<int>("n") != nullptr);
    BOOST_TEST(*b.find<int>("n") == 7);
  }
  Segment::remove(name, backend);
}

BOOST_DATA_TEST_CASE(bad_arguments_are_refused, bdata::make(test_backends()), backend) {
  const auto o = options_for(backend);
  BOOST_TEST(errc_of([&] { Segment::create("", 1 << 20, o); }) == Errc::invalid_argument);
  if (name_is_path(backend)) {
    // The name is a path: '/' and 300 characters are fine; a NUL or 4001 characters are not.
    BOOST_TEST(errc_of([&] { Segment::create(scratch_dir() + std::string("/a\0b", 4), 1 << 20, o); }) ==
               Errc::invalid_argument);
    BOOST_TEST(errc_of([&] { Segment::create(scratch_dir() + "/" + std::string(4001, 'a'), 1 << 20, o); }) ==
               Errc::invalid_argument);
  } else {
    BOOST_TEST(errc_of([&] { Segment::create("has/slash", 1 << 20, o); }) == Errc::invalid_argument);
    BOOST_TEST(errc_of([&] { Segment::create(std::string(300, 'a'), 1 << 20, o); }) == Errc::invalid_argument);
    // One rule on every backend: a letter or digit first, so no ".", ".." or hidden names.
    for (const char* bad : {".", "..", ".hidden", "-dash", "_under"}) {
      BOOST_TEST(errc_of([&] { Segment::create(bad, 1 << 20, o); }) == Errc::invalid_argument, bad);
      BOOST_TEST(errc_of([&] { Segment::open(bad, o); }) == Errc::invalid_argument, bad);
    }
  }
  BOOST_TEST(errc_of([&] { Segment::create(unique_name("shmkit-tiny", backend), 4096, o); }) == Errc::too_small);
  TempSegment t(backend);
  BOOST_TEST(errc_of([&] { t->construct<int>("", 1); }) == Errc::invalid_argument);
}

BOOST_DATA_TEST_CASE(segment_is_movable, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  t->construct<int>("v", 5);
  Segment moved = std::move(*t.segment);
  BOOST_TEST(*moved.find<int>("v") == 5);
  *t.segment = std::move(moved);
  BOOST_TEST(*t->find<int>("v") == 5);
}

BOOST_DATA_TEST_CASE(named_object_lifecycle, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  Segment& s = *t;
  BOOST_TEST(s.find<Point>("p") == nullptr);  // absence is a result, not an error

  Point& p = s.construct<Point>("p", 3, 4);
  BOOST_TEST(p.x == 3);
  BOOST_TEST(p.y == 4);
  BOOST_TEST(errc_of([&] { s.construct<Point>("p", 0, 0); }) == Errc::already_exists);

  Point& again = s.find_or_construct<Point>("p", 9, 9);  // exists: arguments unused
  BOOST_TEST(&again == &p);
  BOOST_TEST(again.x == 3);
  Point& fresh = s.find_or_construct<Point>("q", 9, 9);
  BOOST_TEST(fresh.x == 9);

  std::uint64_t* arr = s.construct_array<std::uint64_t>("arr", 1000, 17u);
  for (int i = 0; i < 1000; ++i) BOOST_REQUIRE(arr[i] == 17u);
  auto [found, count] = s.find_array<std::uint64_t>("arr");
  BOOST_TEST(found == arr);
  BOOST_TEST(count == 1000u);

  const auto objects = s.objects();
  BOOST_REQUIRE(objects.size() == 3u);
  BOOST_TEST(objects[0].name == "arr");  // sorted by name
  BOOST_TEST(objects[0].count == 1000u);
  BOOST_TEST(objects[0].bytes == 8000u);
  BOOST_TEST(objects[1].name == "p");
  BOOST_TEST(objects[1].count == 1u);
  BOOST_TEST(objects[1].bytes == sizeof(Point));
  BOOST_TEST(objects[1].type.find("Point") != std::string::npos);
  BOOST_TEST(objects[2].name == "q");

  const std::size_t free_before = s.free_memory();
  BOOST_TEST(s.destroy<std::uint64_t>("arr"));
  BOOST_TEST(!s.destroy<std::uint64_t>("arr"));
  BOOST_TEST(s.find<std::uint64_t>("arr") == nullptr);
  BOOST_TEST(s.free_memory() >= free_before + 8000);
  BOOST_TEST(s.objects().size() == 2u);
}

BOOST_DATA_TEST_CASE(wrong_type_is_type_mismatch, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  t->construct<std::int32_t>("counter", 1);
  BOOST_TEST(errc_of([&] { t->find<double>("counter"); }) == Errc::type_mismatch);
  BOOST_TEST(errc_of([&] { t->find<std::uint32_t>("counter"); }) == Errc::type_mismatch);
  BOOST_TEST(errc_of([&] { t->find_or_construct<Point>("counter"); }) == Errc::type_mismatch);
  BOOST_TEST(errc_of([&] { t->destroy<Point>("counter"); }) == Errc::type_mismatch);
  BOOST_TEST(*t->find<std::int32_t>("counter") == 1);  // untouched
  // An object Boost made directly is not in shmkit's directory: not found, never misread, and
  // its name stays taken.
  t->manager().construct<std::uint64_t>("raw")(5u);
  BOOST_TEST(t->find<std::uint64_t>("raw") == nullptr);
  BOOST_TEST(errc_of([&] { t->construct<std::uint64_t>("raw", 1u); }) == Errc::already_exists);
}

BOOST_DATA_TEST_CASE(nested_containers_across_views, bdata::make(test_backends()), backend) {
  TempSegment t(backend, 4 << 20);
  using Index = shmkit::map<shmkit::string, shmkit::vector<int>>;
  Index& index = t->construct<Index>("index");
  index.emplace("primes", std::initializer_list<int>{}).first->second.assign({2, 3, 5, 7});
  // operator[] needs a key built with the allocator; emplace builds it in place.
  index.emplace("squares", std::initializer_list<int>{1, 4, 9});

  auto& words = t->construct<shmkit::unordered_map<shmkit::string, int>>("words");
  words.emplace("alpha", 1);
  words.emplace("beta", 2);
  auto& q = t->construct<shmkit::deque<shmkit::string>>("queue");
  for (int i = 0; i < 1000; ++i) q.emplace_back(("item-" + std::to_string(i)).c_str());  // clang 14: no std::string overload (template template)
  auto& tags = t->construct<shmkit::set<shmkit::string>>("tags");
  tags.emplace("b");
  tags.emplace("a");
  shmkit::string& title = t->construct<shmkit::string>("title", "a string longer than the small-string buffer");

  // Making an allocator is one call: segment.allocator() converts to any Allocator<T>.
  shmkit::vector<int> local(t->allocator());
  local.push_back(1);
  BOOST_TEST(t->contains(local.data(), sizeof(int)));

  Segment view = Segment::open(t.name, options_for(backend));
  Index* seen = view.find<Index>("index");
  BOOST_REQUIRE(seen != nullptr);
  BOOST_REQUIRE(seen->size() == 2u);
  auto primes = seen->find(std::string_view("primes"));
  BOOST_REQUIRE(primes != seen->end());
  BOOST_TEST((std::vector<int>(primes->second.begin(), primes->second.end()) == std::vector<int>{2, 3, 5, 7}));
  BOOST_TEST(seen->at(shmkit::string("squares", view.allocator())).size() == 3u);
  BOOST_TEST(view.contains(&*primes->second.begin(), sizeof(int)));

  auto* seen_words = view.find<shmkit::unordered_map<shmkit::string, int>>("words");
  BOOST_REQUIRE(seen_words != nullptr);
  BOOST_TEST(seen_words->at(shmkit::string("beta", view.allocator())) == 2);
  auto* seen_q = view.find<shmkit::deque<shmkit::string>>("queue");
  BOOST_REQUIRE(seen_q != nullptr);
  BOOST_REQUIRE(seen_q->size() == 1000u);
  BOOST_TEST(std::string_view(seen_q->at(999).data(), seen_q->at(999).size()) == "item-999");
  auto* seen_tags = view.find<shmkit::set<shmkit::string>>("tags");
  BOOST_TEST(std::string_view(seen_tags->begin()->data(), 1) == "a");
  BOOST_TEST(std::string_view(view.find<shmkit::string>("title")->c_str()) == title.c_str());

  // The second view changes it; the first sees the change.
  seen->emplace("cubes", std::initializer_list<int>{1, 8, 27});
  BOOST_TEST(index.size() == 3u);
  BOOST_TEST(index.find(std::string_view("cubes"))->second.back() == 27);
  BOOST_TEST(t->destroy<Index>("index"));
}

BOOST_DATA_TEST_CASE(full_segment_is_out_of_memory_and_stays_usable, bdata::make(test_backends()), backend) {
  TempSegment t(backend, 256 * 1024);
  Segment& s = *t;
  // A named object too big for the segment.
  BOOST_TEST(errc_of([&] { s.construct_array<char>("huge", 1 << 20); }) == Errc::out_of_memory);
  BOOST_TEST(s.find<char>("huge") == nullptr);  // nothing half-made is left behind

  // A container that grows until the segment is full.
  auto& v = s.construct<shmkit::vector<std::uint64_t>>("v");
  Errc seen = Errc::ok;
  try {
    for (std::uint64_t i = 0;; ++i) v.push_back(i);
  } catch (const Error& e) {
    seen = e.errc();
    BOOST_TEST_MESSAGE(e.what());
    BOOST_TEST(std::string(e.what()).find(t.name) != std::string::npos);
  }
  BOOST_TEST(seen == Errc::out_of_memory);
  const std::size_t kept = v.size();
  BOOST_TEST(kept > 1000u);
  for (std::uint64_t i = 0; i < kept; ++i) BOOST_REQUIRE(v[i] == i);  // strong guarantee: data intact

  // A container built from arguments that cannot fit.
  BOOST_TEST(errc_of([&] { s.construct<shmkit::string>("long", std::string(300 * 1024, 'x').c_str()); }) ==
             Errc::out_of_memory);
  BOOST_TEST(s.find<shmkit::string>("long") == nullptr);

  // Free memory, and the segment works again.
  BOOST_TEST(s.destroy<shmkit::vector<std::uint64_t>>("v"));
  auto& w = s.construct<shmkit::vector<std::uint64_t>>("w");
  for (std::uint64_t i = 0; i < 1000; ++i) w.push_back(i);
  BOOST_TEST(w.back() == 999u);
  auto& m = s.construct<shmkit::Mutex>("lock");
  { std::lock_guard<shmkit::Mutex> g(m); }
}

// The smallest segment holds named objects and a container; sizes Boost.Interprocess's own
// tests use (10 to 32 KiB) work as they are.
BOOST_DATA_TEST_CASE(small_segments_hold_objects, bdata::make(test_backends()), backend) {
  for (const std::size_t size : {Segment::min_size, std::size_t{10 * 1024}, std::size_t{32 * 1024}}) {
    const std::string name = unique_name("shmkit-small", backend);
    {
      Segment s = Segment::create(name, size, options_for(backend));
      // Windows rounds a named section up to whole pages; elsewhere the size is exact.
      BOOST_TEST((s.size() >= size && s.size() < size + 4096));
      s.construct<std::uint64_t>("a", 41u);
      s.construct_array<std::uint32_t>("b", 16, 7u);
      auto& v = s.construct<shmkit::vector<int>>("v");
      for (int i = 0; i < 64; ++i) v.push_back(i);
      const SegmentView view = SegmentView::open(name, options_for(backend));
      BOOST_TEST(*view.find<std::uint64_t>("a") == 41u);
      BOOST_TEST(view.find_array<std::uint32_t>("b").second == 16u);
      BOOST_TEST(view.find<shmkit::vector<int>>("v")->back() == 63);
      BOOST_TEST(view.objects().size() == 3u);
    }
    Segment::remove(name, backend);
  }
  BOOST_TEST(errc_of([&] {
               Segment::create(unique_name("shmkit-small", backend), Segment::min_size - 1, options_for(backend));
             }) == Errc::too_small);
}

BOOST_DATA_TEST_CASE(object_names_are_checked, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  const std::string long_name(255, 'n');
  t->construct<int>(long_name, 1);
  BOOST_TEST(*t->find<int>(long_name) == 1);
  BOOST_TEST(errc_of([&] { t->construct<int>(std::string(256, 'n'), 1); }) == Errc::invalid_argument);
}
