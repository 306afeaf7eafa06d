// shmkit::btree_map: every operation checked against std::map over long random sequences
// (inserts, erases, lookups, bounds, full iteration both ways), at sizes that grow the tree to
// four levels and shrink it back; a full segment leaves the map unchanged; struct values.
#define BOOST_TEST_MODULE btree_map
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <iterator>
#include <map>
#include <random>
#include <vector>

#include "shmkit/btree_map.hpp"
#include "shmkit/error.hpp"
#include "temp_segment.hpp"

using namespace shmkit;
using namespace shmkit::test;

namespace {

using Map = btree_map<std::uint64_t, std::uint64_t>;

// The whole map equals the reference, forwards and backwards.
void check_equal(const Map& m, const std::map<std::uint64_t, std::uint64_t>& ref) {
  BOOST_REQUIRE_EQUAL(m.size(), ref.size());
  BOOST_REQUIRE_EQUAL(m.empty(), ref.empty());
  auto it = m.begin();
  for (const auto& [k, v] : ref) {
    BOOST_REQUIRE(it != m.end());
    BOOST_REQUIRE_EQUAL(it->first, k);
    BOOST_REQUIRE_EQUAL(it->second, v);
    ++it;
  }
  BOOST_REQUIRE(it == m.end());
  auto back = m.end();
  for (auto r = ref.rbegin(); r != ref.rend(); ++r) {
    --back;
    BOOST_REQUIRE_EQUAL(back->first, r->first);
  }
  BOOST_REQUIRE(back == m.begin());
}

}  // namespace

BOOST_AUTO_TEST_CASE(random_operations_match_std_map) {
  TempSegment t(Backend::named, 64 << 20);
  auto& m = t.segment->construct<Map>("m");
  std::map<std::uint64_t, std::uint64_t> ref;
  std::mt19937_64 rng(7);
  // Phases: grow to 60k keys (four levels with 512-byte nodes), churn, shrink to nothing, regrow.
  const struct {
    int ops;
    int insert_percent;
    std::uint64_t key_space;
  } phases[] = {{60'000, 100, 1'000'000}, {100'000, 50, 1'000'000}, {200'000, 20, 1'000'000},
                {5'000, 100, 64},         {50'000, 70, 5'000}};
  std::uint32_t max_height = 0;
  for (const auto& ph : phases) {
    for (int i = 0; i < ph.ops; ++i) {
      const std::uint64_t k = rng() % ph.key_space;
      const std::uint64_t v = rng();
      if (static_cast<int>(rng() % 100) < ph.insert_percent) {
        const auto [it, added] = m.try_emplace(k, v);
        const auto [rit, radded] = ref.try_emplace(k, v);
        BOOST_REQUIRE_EQUAL(added, radded);
        BOOST_REQUIRE_EQUAL(it->first, k);
        BOOST_REQUIRE_EQUAL(it->second, rit->second);
      } else {
        BOOST_REQUIRE_EQUAL(m.erase(k), ref.erase(k));
      }
      const std::uint64_t q = rng() % ph.key_space;
      const auto lb = m.lower_bound(q);
      const auto rlb = ref.lower_bound(q);
      BOOST_REQUIRE_EQUAL(lb == m.end(), rlb == ref.end());
      if (rlb != ref.end()) BOOST_REQUIRE_EQUAL(lb->first, rlb->first);
      const auto ub = m.upper_bound(q);
      const auto rub = ref.upper_bound(q);
      BOOST_REQUIRE_EQUAL(ub == m.end(), rub == ref.end());
      if (rub != ref.end()) BOOST_REQUIRE_EQUAL(ub->first, rub->first);
      BOOST_REQUIRE_EQUAL(m.contains(q), ref.count(q) == 1);
      max_height = std::max(max_height, m.height());
    }
    check_equal(m, ref);
  }
  BOOST_TEST(max_height >= 4u);
  // Erase everything through iterators: each returns the next entry.
  for (auto it = m.begin(); it != m.end();) {
    const std::uint64_t k = it->first;
    it = m.erase(it);
    auto rit = ref.erase(ref.find(k));
    BOOST_REQUIRE_EQUAL(it == m.end(), rit == ref.end());
    if (rit != ref.end()) BOOST_REQUIRE_EQUAL(it->first, rit->first);
  }
  check_equal(m, ref);
  BOOST_TEST(m.height() <= 1u);
}

BOOST_AUTO_TEST_CASE(clear_and_destroy_return_every_node_to_the_segment) {
  TempSegment t(Backend::named, 16 << 20);
  // The segment's object directory takes its first table at the first construct and keeps it.
  t.segment->construct<std::uint64_t>("probe", 1u);
  BOOST_REQUIRE(t.segment->destroy<std::uint64_t>("probe"));
  const std::size_t free_before = t.segment->free_memory();
  {
    auto& m = t.segment->construct<Map>("m");
    for (std::uint64_t k = 0; k < 100'000; ++k) m[k * 7919 % 100'003] = k;
    BOOST_TEST(m.size() == 100'000u);
    BOOST_TEST(t.segment->free_memory() < free_before - 100'000 * 16);
    m.clear();
    BOOST_TEST(m.empty());
    for (std::uint64_t k = 0; k < 1000; ++k) m.insert(std::pair<std::uint64_t, std::uint64_t>{k, k});
  }
  t.segment->destroy<Map>("m");
  BOOST_TEST(t.segment->free_memory() == free_before);
}

// A full segment throws out_of_memory from the insert that needed a node, and the map is as it
// was: every entry still there, the failed key absent, and it takes inserts again after a clear.
BOOST_AUTO_TEST_CASE(full_segment_leaves_the_map_unchanged) {
  TempSegment t(Backend::named, 256 << 10);
  auto& m = t.segment->construct<Map>("m");
  std::map<std::uint64_t, std::uint64_t> ref;
  std::mt19937_64 rng(11);
  bool threw = false;
  for (int i = 0; i < 1'000'000 && !threw; ++i) {
    const std::uint64_t k = rng();
    try {
      m.try_emplace(k, i);
      ref.try_emplace(k, i);
    } catch (const Error& e) {
      BOOST_TEST(e.errc() == Errc::out_of_memory);
      BOOST_TEST(!m.contains(k));
      threw = true;
    }
  }
  BOOST_REQUIRE(threw);
  check_equal(m, ref);
  m.clear();
  for (std::uint64_t k = 0; k < 100; ++k) BOOST_TEST(m.try_emplace(k, k).second);
}

BOOST_AUTO_TEST_CASE(struct_values_and_map_interface) {
  struct Quote {
    double bid;
    double ask;
    std::uint32_t size;
  };
  TempSegment t(Backend::named, 4 << 20);
  auto& m = t.segment->construct<btree_map<std::uint32_t, Quote, std::greater<>>>("quotes");
  for (std::uint32_t i = 0; i < 5000; ++i) m.emplace(i, Quote{i + 0.5, i + 1.5, i});
  BOOST_TEST(m.begin()->first == 4999u);  // std::greater: descending
  BOOST_TEST(m.at(42).ask == 43.5);
  BOOST_CHECK_THROW(m.at(5000), std::out_of_range);
  auto [it, added] = m.insert_or_assign(42, Quote{1, 2, 3});
  BOOST_TEST(!added);
  BOOST_TEST(it->second.size == 3u);
  BOOST_TEST(m.count(7) == 1u);
  BOOST_TEST(std::distance(m.begin(), m.end()) == 5000);
  const auto& cm = m;
  BOOST_TEST((cm.find(4999) == cm.begin()));
  BOOST_TEST((cm.find(6000) == cm.end()));
}
