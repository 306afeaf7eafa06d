// Type identity: the canonical names shmkit records (its containers as written, integers by
// size, compiler differences normalised, explicit names), the tag's copy never cut mid-word, and
// a type_mismatch message that gives both names in full and where they differ.
#define BOOST_TEST_MODULE type_name
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "shmkit/shmkit.hpp"
#include "temp_segment.hpp"

using namespace shmkit;
using namespace shmkit::test;

namespace demo {
struct Pose {
  double x, y;
};
template <class T, std::size_t N>
struct Box {
  T items[N];
};
}  // namespace demo
namespace {
struct Hidden {
  int a;
};
}  // namespace
struct Renamed {
  static constexpr std::string_view shmkit_type_name = "robot::Pose";
  double x;
};
struct Vendor {
  int v;
};
SHMKIT_TYPE_NAME(Vendor, "vendor::Gadget");

BOOST_AUTO_TEST_CASE(shmkit_types_are_spelled_as_written) {
  BOOST_TEST((type_name<map<string, vector<double>>>() == "shmkit::map<shmkit::string, shmkit::vector<double>>"));
  BOOST_TEST((type_name<map<string, string>>() == "shmkit::map<shmkit::string, shmkit::string>"));
  BOOST_TEST((type_name<unordered_map<string, std::uint64_t>>() == "shmkit::unordered_map<shmkit::string, std::uint64_t>"));
  BOOST_TEST((type_name<set<string>>() == "shmkit::set<shmkit::string>"));
  BOOST_TEST((type_name<deque<std::uint8_t>>() == "shmkit::deque<std::uint8_t>"));
  BOOST_TEST((type_name<flat_map<std::int16_t, string>>() == "shmkit::flat_map<std::int16_t, shmkit::string>"));
  BOOST_TEST((type_name<btree_map<std::uint64_t, demo::Pose>>() == "shmkit::btree_map<std::uint64_t, demo::Pose>"));
  BOOST_TEST((type_name<btree_map<std::uint32_t, double, std::greater<>>>() ==
              "shmkit::btree_map<std::uint32_t, double, std::greater<>>"));
  BOOST_TEST(type_name<Mutex>() == "shmkit::Mutex");
  BOOST_TEST(type_name<Snapshot<demo::Pose>>() == "shmkit::Snapshot<demo::Pose>");
}

BOOST_AUTO_TEST_CASE(compiler_differences_are_normalised) {
  BOOST_TEST(type_name<int>() == "std::int32_t");
  BOOST_TEST(type_name<unsigned long long>() == "std::uint64_t");
  BOOST_TEST(type_name<const char>() == "char");
  BOOST_TEST(type_name<std::atomic<std::uint32_t>>() == "std::atomic<std::uint32_t>");
  BOOST_TEST(type_name<demo::Pose[4]>() == "demo::Pose[4]");
  BOOST_TEST((type_name<demo::Box<unsigned long, 4>>() == "demo::Box<unsigned long, 4>"));
  BOOST_TEST((type_name<demo::Box<demo::Box<long long, 2>, 3>>() == "demo::Box<demo::Box<long long, 2>, 3>"));
  BOOST_TEST(type_name<Hidden>() == "(anonymous namespace)::Hidden");
  // gcc's spellings, as its __PRETTY_FUNCTION__ gives them, become clang's.
  char out[64] = {};
  const std::string_view gcc = "demo::Box<long unsigned int, 4>";
  BOOST_TEST(std::string_view(out, detail::normalize_type_name(gcc, out)) == "demo::Box<unsigned long, 4>");
  const std::string_view clang = "demo::Box<demo::Box<short, 2UL> >";
  BOOST_TEST(std::string_view(out, detail::normalize_type_name(clang, out)) == "demo::Box<demo::Box<short, 2>>");
  const std::string_view gcc_void = "shmkit::btree_map<unsigned int, double, std::greater<void> >";
  BOOST_TEST(std::string_view(out, detail::normalize_type_name(gcc_void, out)) ==
             "shmkit::btree_map<unsigned int, double, std::greater<>>");
  const std::string_view anon = "{anonymous}::X<short unsigned int>";
  BOOST_TEST(std::string_view(out, detail::normalize_type_name(anon, out)) == "(anonymous namespace)::X<unsigned short>");
}

BOOST_AUTO_TEST_CASE(explicit_names) {
  BOOST_TEST(type_name<Renamed>() == "robot::Pose");
  BOOST_TEST(type_name<Vendor>() == "vendor::Gadget");
  BOOST_TEST((type_name<map<string, Renamed>>() == "shmkit::map<shmkit::string, robot::Pose>"));
}

BOOST_AUTO_TEST_CASE(stored_names_are_cut_between_words) {
  char tag[88];
  const std::string_view shortname = "shmkit::map<shmkit::string, shmkit::vector<double>>";
  BOOST_TEST(detail::stored_type_name(shortname, tag) == shortname.size());
  BOOST_TEST(std::string_view(tag) == shortname);
  using Deep = map<string, map<string, map<string, map<string, vector<double>>>>>;
  const std::string_view deep = type_name<Deep>();
  BOOST_REQUIRE(deep.size() > 87u);
  const std::size_t n = detail::stored_type_name(deep, tag);
  const std::string_view kept(tag, n);
  BOOST_TEST(n <= 87u);
  BOOST_TEST(kept.ends_with("..."));
  const std::string_view head = kept.substr(0, n - 3);
  BOOST_TEST(deep.starts_with(head));
  BOOST_TEST((head.ends_with("<") || head.ends_with(",")), head);

  // What tools list: the readable name, cut the same way.
  TempSegment t(Backend::named, 1 << 20);
  t->construct<map<string, vector<double>>>("joints");
  t->construct<Deep>("deep");
  bool seen_joints = false, seen_deep = false;
  for (const auto& info : t->objects()) {
    if (info.name == "joints") seen_joints = info.type == shortname;
    if (info.name == "deep") seen_deep = info.type == kept;
  }
  BOOST_TEST(seen_joints);
  BOOST_TEST(seen_deep);
}

BOOST_AUTO_TEST_CASE(mismatch_names_both_types_in_full_and_where_they_differ) {
  TempSegment t(Backend::named, 1 << 20);
  t->construct<map<string, vector<float>>>("joints");
  try {
    (void)t->find<map<string, vector<double>>>("joints");
    BOOST_ERROR("find with the wrong type must throw");
  } catch (const Error& e) {
    const std::string what = e.what();
    BOOST_TEST(e.errc() == Errc::type_mismatch);
    BOOST_TEST(what.find("holds a shmkit::map<shmkit::string, shmkit::vector<float>>") != std::string::npos, what);
    BOOST_TEST(what.find("not a shmkit::map<shmkit::string, shmkit::vector<double>>") != std::string::npos, what);
    BOOST_TEST(what.find("differ at 'float' (stored) against 'double' (asked for)") != std::string::npos, what);
  }
  t->construct<std::uint32_t>("counter");
  try {
    (void)t->find<std::int32_t>("counter");
    BOOST_ERROR("find with the wrong type must throw");
  } catch (const Error& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("differ at 'std::uint32_t' (stored) against 'std::int32_t' (asked for)") != std::string::npos,
               what);
  }
}
