// The smallest useful shmkit program: two processes share a map<string, vector<int>>.
//
//   shmkit-example-shared-map            the parent: creates the segment, fills the map, starts a
//                                        child (this program again, with --child) and waits
//   shmkit-example-shared-map --child    the child: opens the segment by name, reads and changes
//                                        the map, and signals the parent through a Condition
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
#else
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
extern char** environ;
#endif

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "shmkit/shmkit.hpp"

namespace {

// This program again, as `<self> --child <name>`: a new process (exec, not just fork), which
// maps the segment afresh, at an address of its own. wait() returns its exit code.
#ifdef _WIN32
int current_pid() { return static_cast<int>(GetCurrentProcessId()); }

class ChildProcess {
 public:
  ChildProcess(const char*, const std::string& name) {
    char self[MAX_PATH];
    const DWORD n = GetModuleFileNameA(nullptr, self, MAX_PATH);
    if (n == 0 || n == MAX_PATH) throw std::runtime_error("GetModuleFileName failed");
    std::string command = "\"" + std::string(self) + "\" --child " + name;
    STARTUPINFOA si{};
    si.cb = sizeof si;
    if (!CreateProcessA(self, command.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &info_))
      throw std::runtime_error("CreateProcess failed: error " + std::to_string(GetLastError()));
  }
  int wait() {
    WaitForSingleObject(info_.hProcess, INFINITE);
    DWORD code = 1;
    GetExitCodeProcess(info_.hProcess, &code);
    CloseHandle(info_.hThread);
    CloseHandle(info_.hProcess);
    return static_cast<int>(code);
  }

 private:
  PROCESS_INFORMATION info_{};
};
#else
int current_pid() { return static_cast<int>(getpid()); }

class ChildProcess {
 public:
  ChildProcess(const char* self, const std::string& name) {
    std::string flag = "--child", arg = name, program = self;
    char* argv[] = {program.data(), flag.data(), arg.data(), nullptr};
    if (const int e = posix_spawn(&pid_, self, nullptr, nullptr, argv, environ); e != 0)
      throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(e));
  }
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }

 private:
  pid_t pid_ = -1;
};
#endif

using Readings = shmkit::map<shmkit::string, shmkit::vector<int>>;

struct Handshake {
  static constexpr bool shmkit_shareable = true;  // shmkit/shareable.hpp
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
    std::printf("child  (pid %d) reads  %-12s %zu values, first %d\n", current_pid(), sensor.c_str(), values.size(),
                values.empty() ? 0 : values.front());
    values.push_back(-1);  // mark: the child was here
  }
  readings->emplace("from-child", std::initializer_list<int>{7, 8, 9});
  handshake->child_done = true;
  handshake->changed.notify_all();
  return 0;
}

int parent(const char* self) {
  const std::string name = "shmkit-example-" + std::to_string(current_pid());
  shmkit::Segment segment = shmkit::Segment::create(name, 1 << 20);
  auto& readings = segment.construct<Readings>("readings");
  auto& handshake = segment.construct<Handshake>("handshake");
  {
    std::lock_guard lock(handshake.mutex);
    // emplace builds the key and the vector with the segment's allocator (scoped allocator).
    readings.emplace("temperature", std::initializer_list<int>{21, 22, 23});
    readings.emplace("pressure", std::initializer_list<int>{1013, 1012});
  }
  std::printf("parent (pid %d) made segment '%s' (%zu bytes, %zu free)\n", current_pid(), name.c_str(), segment.size(),
              segment.free_memory());

  std::fflush(stdout);  // before the child's output
  ChildProcess child_process(self, name);
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
  const int child_exit = child_process.wait();
  shmkit::Segment::remove(name);
  const bool ok = done && child_exit == 0;
  std::printf("%s\n", ok ? "demo: OK, both processes shared the map" : "demo: FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc == 3 && std::strcmp(argv[1], "--child") == 0) return child(argv[2]);
  return parent(argv[0]);
} catch (const std::exception& e) {  // shmkit::Error, or starting the child failed
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
