// The smallest useful shmkit program: two processes share a map<string, vector<int>>.
//
//   shmkit-example-shared-map            the parent: creates the segment, fills the map, starts a
//                                        child (this program again, with --child) and waits
//   shmkit-example-shared-map --child    the child: opens the segment by name, reads and changes
//                                        the map, and signals the parent through a Condition
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "shmkit/shmkit.hpp"

namespace {

using Readings = shmkit::map<shmkit::string, shmkit::vector<int>>;

struct Handshake {
  shmkit::Mutex mutex;
  shmkit::Condition changed;
  bool child_done = false;
};

int child(const std::string& name) {
  shmkit::Segment segment = shmkit::Segment::open(name);
  auto* readings = segment.find<Readings>("readings");
  auto* handshake = segment.find<Handshake>("handshake");
  if (readings == nullptr || handshake == nullptr) {
    std::fprintf(stderr, "child: objects missing\n");
    return 1;
  }
  std::lock_guard lock(handshake->mutex);
  for (auto& [sensor, values] : *readings) {
    std::printf("child  (pid %d) reads  %-12s %zu values, first %d\n", getpid(), sensor.c_str(), values.size(),
                values.empty() ? 0 : values.front());
    values.push_back(-1);  // mark: the child was here
  }
  readings->emplace("from-child", std::initializer_list<int>{7, 8, 9});
  handshake->child_done = true;
  handshake->changed.notify_all();
  return 0;
}

int parent(const char* self) {
  const std::string name = "shmkit-example-" + std::to_string(getpid());
  shmkit::Segment segment = shmkit::Segment::create(name, 1 << 20);
  auto& readings = segment.construct<Readings>("readings");
  auto& handshake = segment.construct<Handshake>("handshake");
  {
    std::lock_guard lock(handshake.mutex);
    // emplace builds the key and the vector with the segment's allocator (scoped allocator).
    readings.emplace("temperature", std::initializer_list<int>{21, 22, 23});
    readings.emplace("pressure", std::initializer_list<int>{1013, 1012});
  }
  std::printf("parent (pid %d) made segment '%s' (%zu bytes, %zu free)\n", getpid(), name.c_str(), segment.size(),
              segment.free_memory());

  std::fflush(stdout);  // or the child inherits unwritten output
  const pid_t pid = fork();
  if (pid == 0) {
    // exec, not just fork: the child maps the segment afresh, at an address of its own.
    execl(self, self, "--child", name.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  bool done;
  {
    std::unique_lock lock(handshake.mutex);
    done = handshake.changed.wait_for(lock, std::chrono::seconds(10), [&] { return handshake.child_done; });
    for (const auto& [sensor, values] : readings) {
      std::printf("parent sees  %-12s", sensor.c_str());
      for (int v : values) std::printf(" %d", v);
      std::printf("\n");
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  shmkit::Segment::remove(name);
  const bool ok = done && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::printf("%s\n", ok ? "demo: OK, both processes shared the map" : "demo: FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc == 3 && std::strcmp(argv[1], "--child") == 0) return child(argv[2]);
  return parent(argv[0]);
} catch (const shmkit::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
