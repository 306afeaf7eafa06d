// Segments that grow while other processes use them: a helper process grows the segment 1,000
// times while this one writes and reads containers in it (segment_grow_kill_test.cpp: growers
// killed mid-grow).
#define BOOST_TEST_MODULE segment_grow_cross_process
#include <signal.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "await.hpp"
#include "backends.hpp"
#include "child_process.hpp"
#include "grow_segment.hpp"
#include "shmkit/memfd_handle.hpp"
#include "../helpers/segment_types.hpp"

using namespace shmkit;
using namespace shmkit::test;
namespace bdata = boost::unit_test::data;

namespace {

constexpr std::size_t kSize = kGrowStartSize;
using GrowMap = shmkit::map<std::uint64_t, std::uint64_t>;

}  // namespace

BOOST_DATA_TEST_CASE(one_process_grows_a_thousand_times_while_another_writes, bdata::make(growable_backends()),
                     backend) {
  constexpr std::uint64_t kGrows = 1000, kStep = 8192;
  GrowSegment g(backend, kSize + kGrows * kStep);
  auto& grows = g->construct<std::atomic<std::uint64_t>>("grows", 0u);
  auto& lock = g->construct<Mutex>("grow-lock");
  auto& values = g->construct<GrowValues>("grow-values");
  auto& map = g->construct<GrowMap>("grow-map");
  ChildProcess child = g.helper({"grow-times", std::to_string(kGrows), std::to_string(kStep)});

  // Write as fast as the room allows: a full segment waits for the next grow.
  std::uint64_t n = 0, refused = 0;
  std::optional<ExitStatus> status;
  while (!(status = child.wait_for(std::chrono::milliseconds(0)))) {
    for (int burst = 0; burst < 64; ++burst) {
      std::lock_guard guard(lock);
      try {
        values.push_back(grow_value(n));
        if (n % 4 == 0) {
          try {
            map.emplace(n, grow_value(n));
          } catch (const Error&) {
            values.pop_back();  // both or neither
            throw;
          }
        }
        ++n;
      } catch (const Error& e) {
        BOOST_REQUIRE(e.errc() == Errc::out_of_memory);
        ++refused;
        break;
      }
    }
    // Reads back what was written around the newest values (they sit in grown memory).
    std::lock_guard guard(lock);
    for (std::uint64_t i = n > 256 ? n - 256 : 0; i < n; ++i) BOOST_REQUIRE_EQUAL(values[i], grow_value(i));
  }
  BOOST_REQUIRE_MESSAGE(status->ok(), "helper: " << status->describe());
  BOOST_TEST(grows.load() == kGrows);
  BOOST_TEST(g->size() == kSize + kGrows * kStep);
  BOOST_TEST_MESSAGE(to_string(backend) << ": " << n << " values written, " << refused << " times full");
  BOOST_TEST(n > 1000u);

  // Every value, through this mapping and through a read-only view opened afterwards.
  BOOST_REQUIRE_EQUAL(values.size(), n);
  for (std::uint64_t i = 0; i < n; ++i) BOOST_REQUIRE_EQUAL(values[i], grow_value(i));
  BOOST_REQUIRE_EQUAL(map.size(), (n + 3) / 4);
  for (const auto& [k, v] : map) BOOST_REQUIRE_EQUAL(v, grow_value(k));
  SegmentView view = SegmentView::open(g.name, options_for(backend));
  BOOST_TEST(view.size() == kSize + kGrows * kStep);
  const GrowValues* seen = view.find<GrowValues>("grow-values");
  BOOST_REQUIRE(seen != nullptr);
  for (std::uint64_t i = 0; i < n; ++i) BOOST_REQUIRE_EQUAL((*seen)[i], grow_value(i));
}
