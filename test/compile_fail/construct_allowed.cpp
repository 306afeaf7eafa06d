// Must compile (the control of the construct_* compile-fail tests): every kind of type that may
// live in a segment, built with the same command line.
#include <atomic>
#include <cstdint>

#include "shmkit/shmkit.hpp"

struct Point {  // trivially copyable
  double x, y;
};

struct Registry {  // shmkit containers and sync objects, marked in one line
  static constexpr bool shmkit_shareable = true;
  shmkit::Mutex lock;
  std::atomic<std::uint64_t> version{0};
  std::uint32_t count = 0;
};

struct Counters {  // a type that cannot be edited, marked from outside
  std::atomic<std::uint64_t> hits{0};
};
template <>
inline constexpr bool shmkit::enable_shareable<Counters> = true;

void construct_all(shmkit::Segment& s) {
  s.construct<int>("i");
  s.construct<Point>("p");
  s.construct_array<Point>("ps", 4);
  s.construct<std::atomic<std::uint64_t>>("a");
  s.construct<Registry>("r");
  s.construct<Counters>("c");
  s.construct<shmkit::Mutex>("m");
  s.construct<shmkit::Condition>("cv");
  s.construct<shmkit::SharedMutex>("rw");
  s.construct<shmkit::Semaphore>("sem", 0u);
  s.construct<shmkit::Snapshot<Point>>("snap");
  s.construct<shmkit::string>("str");
  s.construct<shmkit::vector<Point>>("v");
  s.construct<shmkit::deque<shmkit::string>>("d");
  s.construct<shmkit::map<shmkit::string, shmkit::vector<double>>>("idx");
  s.construct<shmkit::flat_map<int, shmkit::string>>("fm");
  s.construct<shmkit::set<shmkit::string>>("set");
  s.construct<shmkit::unordered_map<shmkit::string, int>>("um");
  s.construct<shmkit::unordered_set<std::uint64_t>>("us");
  s.construct<shmkit::btree_map<std::uint64_t, Point>>("bt");
  s.find_or_construct<Registry>("r");
}
