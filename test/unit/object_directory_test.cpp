// The object directory: every named object listed with its identity, lookups through it on
// writable and read-only mappings, and a damaged directory refused as corrupt, never misread.
#define BOOST_TEST_MODULE object_directory
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <string>

#include "backends.hpp"
#include "child_process.hpp"
#include "object_directory.hpp"
#include "printing.hpp"
#include "segment_header.hpp"
#include "shmkit/segment_view.hpp"
#include "temp_segment.hpp"

using namespace shmkit;
using namespace shmkit::test;
namespace bdata = boost::unit_test::data;

namespace {

detail::SegmentHeader& header_of(Segment& s) {
  return *reinterpret_cast<detail::SegmentHeader*>(reinterpret_cast<std::byte*>(&s.manager()) -
                                                   detail::kManagerOffset);
}

std::string object_name(int i) { return "object-" + std::to_string(1000 + i); }

template <class F>
Errc errc_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    BOOST_TEST_MESSAGE(e.what());
    return e.errc();
  }
  return Errc::ok;
}

}  // namespace

BOOST_DATA_TEST_CASE(hundreds_of_objects_found_through_the_directory, bdata::make(test_backends()), backend) {
  TempSegment t(backend, 2 << 20);
  // Constructed in an order unlike the names' so inserts land everywhere in the sorted table
  // (and the table grows from 4 entries through several doublings).
  constexpr int kObjects = 300;
  for (int i = 0; i < kObjects; ++i) {
    const int k = (i * 7) % kObjects;
    t->construct_array<std::uint32_t>(object_name(k), static_cast<std::size_t>(k % 5 + 1), static_cast<std::uint32_t>(k));
  }
  const SegmentView view = SegmentView::open(t.name, options_for(backend));
  for (int k = 0; k < kObjects; ++k) {
    auto [p, n] = view.find_array<std::uint32_t>(object_name(k));
    BOOST_REQUIRE(p != nullptr);
    BOOST_REQUIRE_EQUAL(n, static_cast<std::size_t>(k % 5 + 1));
    BOOST_REQUIRE_EQUAL(p[n - 1], static_cast<std::uint32_t>(k));
    BOOST_REQUIRE_EQUAL(t->find<std::uint32_t>(object_name(k))[n - 1], static_cast<std::uint32_t>(k));
  }
  BOOST_TEST(view.find<std::uint32_t>("object-") == nullptr);
  BOOST_TEST(view.find<std::uint32_t>("object-9999") == nullptr);
  BOOST_TEST(view.find<std::uint32_t>("a") == nullptr);
  BOOST_TEST(view.find<std::uint32_t>("z") == nullptr);

  for (int k = 0; k < kObjects; k += 2) BOOST_REQUIRE(t->destroy<std::uint32_t>(object_name(k)));
  const std::vector<ObjectInfo> listed = view.objects();
  BOOST_REQUIRE_EQUAL(listed.size(), static_cast<std::size_t>(kObjects / 2));
  for (std::size_t i = 0; i < listed.size(); ++i) {
    const int k = static_cast<int>(2 * i + 1);
    BOOST_TEST(listed[i].name == object_name(k));
    BOOST_TEST(listed[i].count == static_cast<std::size_t>(k % 5 + 1));
    BOOST_TEST(listed[i].bytes == listed[i].count * sizeof(std::uint32_t));
    BOOST_TEST(listed[i].type.find("int") != std::string::npos);
  }
  BOOST_TEST(view.find<std::uint32_t>(object_name(0)) == nullptr);
  BOOST_TEST(*view.find<std::uint32_t>(object_name(1)) == 1u);
  BOOST_TEST(t->objects().size() == listed.size());
}

// What docs/format.md promises a foreign reader: the header locates a sorted table of entries
// whose offsets reach the object's tag and first element.
BOOST_DATA_TEST_CASE(directory_bytes_are_as_documented, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  double& pi = t->construct<double>("pi", 3.25);
  t->construct_array<std::uint16_t>("counts", 3, std::uint16_t{7});
  const detail::SegmentHeader& h = header_of(*t);
  const auto* base = reinterpret_cast<const std::byte*>(&h);
  BOOST_REQUIRE_EQUAL(h.directory_count, 2u);
  BOOST_REQUIRE_GE(h.directory_capacity, 2u);
  BOOST_REQUIRE_EQUAL(h.directory_offset % 8, 0u);
  const auto* entries = reinterpret_cast<const detail::DirectoryEntry*>(base + h.directory_offset);
  BOOST_TEST(std::string(entries[0].name, entries[0].name_length) == "counts");  // sorted by name
  BOOST_TEST(std::string(entries[1].name, entries[1].name_length) == "pi");
  const detail::DirectoryEntry& e = entries[1];
  BOOST_TEST(reinterpret_cast<const double*>(base + e.value_offset) == &pi);
  const auto* tag = reinterpret_cast<const detail::ObjectTag*>(base + e.block_offset);
  BOOST_TEST(tag->magic == detail::kObjectMagic);
  BOOST_TEST(e.type_hash == tag->type_hash);
  BOOST_TEST(e.count == 1u);
  BOOST_TEST(e.element_size == sizeof(double));
  BOOST_TEST(e.element_align == alignof(double));
  BOOST_TEST(std::string(e.type_name, e.type_name_length) == "double");
  BOOST_TEST(e.value_offset == e.block_offset + tag->value_offset);
  BOOST_TEST(entries[0].count == 3u);
  BOOST_TEST(h.object_epoch.load() % 2 == 0u);
}

BOOST_DATA_TEST_CASE(damaged_directory_is_corrupt, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  t->construct<int>("x", 1);
  t->construct<int>("y", 2);
  detail::SegmentHeader& h = header_of(*t);
  const SegmentView view = SegmentView::open(t.name, options_for(backend));
  auto corrupt = [&] {
    const Errc find = errc_of([&] { view.find<int>("y"); });
    const Errc list = errc_of([&] { view.objects(); });
    const Errc writable = errc_of([&] { t->find<int>("y"); });
    return find == Errc::corrupt && list == Errc::corrupt && writable == Errc::corrupt;
  };
  unsigned char saved[sizeof(detail::SegmentHeader)];
  std::memcpy(saved, static_cast<const void*>(&h), sizeof h);
  auto restore = [&] { std::memcpy(static_cast<void*>(&h), saved, sizeof h); };

  h.directory_offset = t->size() - 8;  // table runs past the end
  BOOST_TEST(corrupt());
  restore();
  h.directory_count = h.directory_capacity + 1;
  BOOST_TEST(corrupt());
  restore();
  h.directory_offset += 4;  // misaligned
  BOOST_TEST(corrupt());
  restore();
  auto* entries = reinterpret_cast<detail::DirectoryEntry*>(reinterpret_cast<std::byte*>(&h) + h.directory_offset);
  const detail::DirectoryEntry y = entries[1];
  entries[1].block_offset = t->size();  // object outside the segment
  BOOST_TEST(corrupt());
  entries[1] = y;
  entries[1].name_length = 0;
  BOOST_TEST(errc_of([&] { view.objects(); }) == Errc::corrupt);
  entries[1] = y;
  entries[1].count = 1000;  // more elements than the block holds
  BOOST_TEST(corrupt());
  entries[1] = y;
  BOOST_TEST(*view.find<int>("y") == 2);  // repaired: readable again
}

BOOST_DATA_TEST_CASE(change_left_half_done_by_a_dead_writer_is_corrupt, bdata::make(test_backends()), backend) {
  TempSegment t(backend);
  t->construct<int>("x", 1);
  detail::SegmentHeader& h = header_of(*t);
  // A process that has exited stands for a writer killed inside its change.
  ChildProcess gone(helper_path("shmkit-test-segment-helper"), {});
  const pid_t dead = gone.pid();
  BOOST_REQUIRE(gone.wait().exited);
  h.directory_writer_pid = static_cast<std::int32_t>(dead);
  h.directory_writer_start_time = 0;
  h.object_epoch.store(h.object_epoch.load() | 1);
  const SegmentView view = SegmentView::open(t.name, options_for(backend));
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST(errc_of([&] { view.find<int>("x"); }) == Errc::corrupt);
  BOOST_TEST(errc_of([&] { view.objects(); }) == Errc::corrupt);
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(2)));  // not the timeout
  h.object_epoch.store(h.object_epoch.load() + 1);
  BOOST_TEST(*view.find<int>("x") == 1);
}
