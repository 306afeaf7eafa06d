// Containers that read like std: each member of the std::map spelling (operator[], at,
// try_emplace, insert_or_assign, find/contains/count/erase) on shmkit::map, flat_map,
// unordered_map, set and unordered_set of shmkit::string, with the segment's allocator supplied
// for new keys and values. Each body is one generic lambda run twice, on the shmkit container in
// a segment and on std::map<std::string, std::string> (std::set, std::unordered_map...), with
// const char* and std::string keys: the spelling is the same by construction, and the results
// must agree. std::string_view keys, which std::map<std::string, ...> does not take, are checked
// on the shmkit containers alone.
#define BOOST_TEST_MODULE containers_std
#include <boost/test/unit_test.hpp>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "shmkit/containers.hpp"
#include "temp_segment.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

// Runs body(container) on a T built in a fresh segment, and on a default-built Std.
template <class T, class Std, class Body>
void on_both(Body body) {
  TempSegment t(Backend::named, 4 << 20);
  body(t.segment->construct<T>("c"));
  Std reference;
  body(reference);
}

template <class Body>
void on_shmkit_maps(Body body) {
  TempSegment t(Backend::named, 4 << 20);
  body(t.segment->construct<map<string, string>>("m"));
  body(t.segment->construct<flat_map<string, string>>("f"));
  body(t.segment->construct<unordered_map<string, string>>("u"));
}

template <class Body>
void on_maps(Body body) {
  on_both<map<string, string>, std::map<std::string, std::string>>(body);
  on_both<flat_map<string, string>, std::map<std::string, std::string>>(body);
  on_both<unordered_map<string, string>, std::unordered_map<std::string, std::string>>(body);
}

// The value stored under k, as a std::string (whatever the container's string type).
template <class M>
std::string value(M& m, std::string_view k) {
  auto it = m.find(std::string(k));
  BOOST_REQUIRE(it != m.end());
  return std::string(std::string_view(it->second));
}

}  // namespace

BOOST_AUTO_TEST_CASE(subscript_inserts_and_assigns_with_every_key_spelling) {
  on_maps([](auto& kv) {
    kv["user"] = "bob";
    kv["user"s] = "alice";
    kv["port"s] = "80"s;
    kv[std::string("host")] = "h";
    BOOST_TEST(kv.size() == 3u);
    BOOST_TEST(value(kv, "user") == "alice");
    BOOST_TEST(value(kv, "port") == "80");
    BOOST_TEST(value(kv, "host") == "h");
    BOOST_TEST(kv["absent"].empty());  // default-constructed, and now present
    BOOST_TEST(kv.size() == 4u);
  });
}

BOOST_AUTO_TEST_CASE(at_finds_with_every_key_spelling_and_throws_out_of_range) {
  on_maps([](auto& kv) {
    kv["port"] = "80";
    BOOST_TEST(std::string_view(kv.at("port")) == "80");
    BOOST_TEST(std::string_view(kv.at("port"s)) == "80");
    kv.at("port") = "81";
    const auto& ckv = kv;
    BOOST_TEST(std::string_view(ckv.at("port")) == "81");
    BOOST_CHECK_THROW(kv.at("missing"), std::out_of_range);
    BOOST_CHECK_THROW(ckv.at("missing"s), std::out_of_range);
  });
}

BOOST_AUTO_TEST_CASE(try_emplace_inserts_once_and_never_overwrites) {
  on_maps([](auto& kv) {
    auto [it, inserted] = kv.try_emplace("k", "v");
    BOOST_TEST(inserted);
    BOOST_TEST(std::string_view(it->second) == "v");
    auto [again, second] = kv.try_emplace("k"s, "other");
    BOOST_TEST(!second);
    BOOST_TEST(std::string_view(again->second) == "v");
    BOOST_TEST(kv.try_emplace("n"s, 3u, 'x').second);  // value built from constructor arguments
    BOOST_TEST(value(kv, "n") == "xxx");
    BOOST_TEST(kv.try_emplace("e").second);
    BOOST_TEST(value(kv, "e").empty());
    BOOST_TEST(kv.size() == 3u);
  });
}

BOOST_AUTO_TEST_CASE(insert_or_assign_inserts_then_assigns) {
  on_maps([](auto& kv) {
    BOOST_TEST(kv.insert_or_assign("k", "v1").second);
    BOOST_TEST(!kv.insert_or_assign("k"s, "v2"s).second);
    BOOST_TEST(value(kv, "k") == "v2");
    BOOST_TEST(kv.size() == 1u);
  });
}

BOOST_AUTO_TEST_CASE(find_contains_count_erase_with_every_key_spelling) {
  on_maps([](auto& kv) {
    kv["a"] = "1";
    kv["b"] = "2";
    const auto& ckv = kv;
    BOOST_TEST((kv.find("a") != kv.end()));
    BOOST_TEST((ckv.find("a"s) != ckv.end()));
    BOOST_TEST((kv.find("z") == kv.end()));
    BOOST_TEST(kv.contains("b"));
    BOOST_TEST(ckv.contains("b"s));
    BOOST_TEST(!kv.contains("z"));
    BOOST_TEST(kv.count("a") == 1u);
    BOOST_TEST(kv.count("a"s) == 1u);
    BOOST_TEST(kv.count("z") == 0u);
    BOOST_TEST(kv.erase("a"s) == 1u);
    BOOST_TEST(kv.erase("a") == 0u);
    BOOST_TEST(kv.erase("b") == 1u);
    BOOST_TEST(kv.empty());
  });
}

BOOST_AUTO_TEST_CASE(string_view_keys_on_shmkit_maps) {
  on_shmkit_maps([](auto& kv) {
    kv["k"sv] = "v"sv;
    BOOST_TEST(std::string_view(kv.at("k"sv)) == "v");
    BOOST_TEST(!kv.try_emplace("k"sv, "other").second);
    BOOST_TEST(kv.try_emplace("n"sv, "w"sv).second);
    BOOST_TEST(!kv.insert_or_assign("k"sv, "v2"sv).second);
    BOOST_TEST(std::string_view(kv.at("k")) == "v2");
    const auto& ckv = kv;
    BOOST_TEST((ckv.find("n"sv) != ckv.end()));
    BOOST_TEST(ckv.contains("n"sv));
    BOOST_TEST(ckv.count("z"sv) == 0u);
    BOOST_CHECK_THROW(ckv.at("z"sv), std::out_of_range);
    BOOST_TEST(kv.erase("n"sv) == 1u);
    BOOST_TEST(kv.size() == 1u);
  });
}

BOOST_AUTO_TEST_CASE(nested_values_get_the_allocator_through_subscript) {
  TempSegment t(Backend::named, 4 << 20);
  auto& idx = t.segment->construct<map<string, vector<double>>>("idx");
  idx["elbow"].push_back(0.5);
  idx.try_emplace("knee"s, std::initializer_list<double>{1.0, 2.0});
  BOOST_TEST(idx.at("elbow"sv).size() == 1u);
  BOOST_TEST(idx.at("knee").size() == 2u);
  BOOST_TEST(idx.at("knee")[1] == 2.0);
}

BOOST_AUTO_TEST_CASE(sets_insert_find_contains_count_erase_with_every_key_spelling) {
  auto body = [](auto& s) {
    BOOST_TEST(s.insert("a").second);
    BOOST_TEST(s.insert("b"s).second);
    BOOST_TEST(s.emplace("c").second);
    BOOST_TEST(!s.insert("a"s).second);
    BOOST_TEST((s.find("a") != s.end()));
    BOOST_TEST((s.find("b"s) != s.end()));
    BOOST_TEST(s.contains("c"));
    BOOST_TEST(s.count("a"s) == 1u);
    BOOST_TEST(s.count("z") == 0u);
    BOOST_TEST(s.erase("b"s) == 1u);
    BOOST_TEST(s.erase("b") == 0u);
    BOOST_TEST(s.size() == 2u);
  };
  on_both<set<string>, std::set<std::string>>(body);
  TempSegment t(Backend::named, 4 << 20);
  auto& s = t.segment->construct<set<string>>("s");
  BOOST_TEST(s.insert("x"sv).second);
  BOOST_TEST(s.contains("x"sv));
  BOOST_TEST(s.erase("x"sv) == 1u);
  auto& us = t.segment->construct<unordered_set<string>>("us");
  us.emplace("a");
  us.emplace("b"s);
  BOOST_TEST((us.find("a") != us.end()));
  BOOST_TEST(us.contains("b"s));
  BOOST_TEST(us.count("b"sv) == 1u);
  BOOST_TEST(us.erase("a"sv) == 1u);
  BOOST_TEST(!us.contains("a"));
}

BOOST_AUTO_TEST_CASE(strings_assign_compare_and_view_like_std_string) {
  TempSegment t(Backend::named, 1 << 20);
  auto& s = t.segment->construct<string>("s", "hello");
  BOOST_TEST(s == "hello");
  s = "world"s;
  BOOST_TEST(s == "world"s);
  s = "planet"sv;
  BOOST_TEST(s == "planet"sv);
  BOOST_TEST(s.view() == "planet");
  const std::string_view v = s;
  BOOST_TEST(v == "planet");
  BOOST_TEST((s < "q"sv));
  BOOST_TEST((s > "a"s));
  BOOST_TEST(s.contains("ane"));
  BOOST_TEST(s.starts_with("pla"));
  BOOST_TEST(s.ends_with("net"s));
  BOOST_TEST(!s.contains("xyz"));
  string copy(std::string("from std"), s.get_allocator());
  BOOST_TEST(copy == "from std");
}
