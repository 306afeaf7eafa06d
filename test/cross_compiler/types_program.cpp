// One side of cross_compiler_types: built once with g++ (by CMake) and once with clang++ (by
// run.cmake). `create <segment>` makes a segment holding every type the README and examples/
// construct, plus types whose spelling differs between the compilers (integer keywords,
// anonymous namespaces, templates of user types), filled with known values; `check <segment>`
// finds each with find<T> and checks the values; `remove <segment>` removes it. Exit 0 when all
// is well, else 1 with the reason on stderr.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "shmkit/shmkit.hpp"

// README: the index and its lock.
using Index = shmkit::map<shmkit::string, shmkit::vector<double>>;
// examples/shared_map.cpp: the readings and the handshake.
using Readings = shmkit::map<shmkit::string, shmkit::vector<int>>;
struct Handshake {
  static constexpr bool shmkit_shareable = true;
  shmkit::Mutex mutex;
  shmkit::Condition changed;
  bool child_done = false;
};
// docs/architecture.md: a configuration map and a marked struct.
using Config = shmkit::map<shmkit::string, shmkit::string>;
struct Registry {
  static constexpr bool shmkit_shareable = true;
  using allocator_type = shmkit::Allocator<void>;
  explicit Registry(const allocator_type& a) : ids(a) {}
  shmkit::Mutex lock;
  shmkit::map<shmkit::string, std::uint32_t> ids;
  std::atomic<std::uint64_t> version{0};
};
// Spelled differently by gcc and clang unless normalised.
namespace {
struct Hidden {
  unsigned long a;
  long long b;
};
}  // namespace
template <class T, std::size_t N>
struct Box {
  T items[N];
};
struct Pose {
  double x, y, theta;
};

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "check failed: %s\n", what);
    ++failures;
  }
}

template <class T>
T& get(shmkit::Segment& s, const char* name) {
  T* p = s.find<T>(name);
  if (p == nullptr) throw std::runtime_error(std::string("missing object ") + name);
  return *p;
}

void create(const std::string& name) {
  auto s = shmkit::Segment::create(name, 4 << 20);
  auto& index = s.construct<Index>("joints");
  index.emplace("elbow", std::initializer_list<double>{0.1, 0.2});
  s.construct<shmkit::Mutex>("joints-lock");
  auto& readings = s.construct<Readings>("readings");
  readings["temperature"] = {21, 22, 23};
  s.construct<Handshake>("handshake").child_done = true;
  auto& config = s.construct<Config>("config");
  config["user"] = "bob";
  auto& reg = s.construct<Registry>("registry");
  reg.ids["a"] = 1;
  reg.version = 3;
  s.construct<shmkit::string>("title", "shmkit");
  s.construct<shmkit::set<shmkit::string>>("tags").insert("x");
  s.construct<shmkit::unordered_map<shmkit::string, std::uint64_t>>("counts")["n"] = 5;
  s.construct<shmkit::deque<std::uint64_t>>("queue").push_back(9);
  s.construct<shmkit::flat_map<std::int32_t, shmkit::string>>("flat").try_emplace(1, "one");
  s.construct<shmkit::btree_map<std::uint64_t, Pose>>("poses").try_emplace(1, Pose{1, 2, 3});
  s.construct<shmkit::btree_map<std::uint32_t, double, std::greater<>>>("descending").try_emplace(2, 0.5);
  s.construct<shmkit::Snapshot<Pose>>("pose").store(Pose{4, 5, 6});
  s.construct<unsigned long>("counter", 42ul);
  s.construct<std::atomic<unsigned long>>("atomic", 7ul);
  s.construct<Hidden>("hidden", Hidden{1, 2});
  s.construct<Box<unsigned long, 4>>("box", Box<unsigned long, 4>{{1, 2, 3, 4}});
  s.construct_array<Pose>("path", 3, Pose{7, 8, 9});
  s.construct<shmkit::SharedMutex>("rw");
  s.construct<shmkit::Semaphore>("sem", 2u);
}

void check(const std::string& name) {
  auto s = shmkit::Segment::open(name);
  expect(get<Index>(s, "joints").at("elbow").at(1) == 0.2, "joints");
  std::lock_guard guard(get<shmkit::Mutex>(s, "joints-lock"));
  expect(get<Readings>(s, "readings").at("temperature").size() == 3, "readings");
  expect(get<Handshake>(s, "handshake").child_done, "handshake");
  expect(get<Config>(s, "config").at("user") == "bob", "config");
  auto& reg = get<Registry>(s, "registry");
  expect(reg.ids.at("a") == 1 && reg.version == 3, "registry");
  expect(get<shmkit::string>(s, "title") == "shmkit", "title");
  expect(get<shmkit::set<shmkit::string>>(s, "tags").contains("x"), "tags");
  expect(get<shmkit::unordered_map<shmkit::string, std::uint64_t>>(s, "counts").at("n") == 5, "counts");
  expect(get<shmkit::deque<std::uint64_t>>(s, "queue").front() == 9, "queue");
  expect(get<shmkit::flat_map<std::int32_t, shmkit::string>>(s, "flat").at(1) == "one", "flat");
  expect(get<shmkit::btree_map<std::uint64_t, Pose>>(s, "poses").at(1).theta == 3, "poses");
  expect(get<shmkit::btree_map<std::uint32_t, double, std::greater<>>>(s, "descending").at(2) == 0.5, "descending");
  expect(get<shmkit::Snapshot<Pose>>(s, "pose").load().y == 5, "pose");
  expect(get<unsigned long>(s, "counter") == 42, "counter");
  expect(get<std::atomic<unsigned long>>(s, "atomic") == 7, "atomic");
  expect(get<Hidden>(s, "hidden").b == 2, "hidden");
  expect(get<Box<unsigned long, 4>>(s, "box").items[3] == 4, "box");
  auto [path, n] = s.find_array<Pose>("path");
  expect(path != nullptr && n == 3 && path[2].theta == 9, "path");
  (void)get<shmkit::SharedMutex>(s, "rw");
  expect(get<shmkit::Semaphore>(s, "sem").try_wait_for(std::chrono::milliseconds(0)), "sem");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s create|check|remove <segment>\n", argv[0]);
    return 2;
  }
  const std::string_view command = argv[1];
  try {
    if (command == "create") create(argv[2]);
    else if (command == "check") check(argv[2]);
    else if (command == "remove") shmkit::Segment::remove(argv[2]);
    else return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s %s: %s\n", argv[1], argv[2], e.what());
    return 1;
  }
  std::printf("%s %s: %s\n", argv[1], argv[2], failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
