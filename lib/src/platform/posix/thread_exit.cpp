// POSIX: code run at thread exit (seam: thread_exit.hpp) is a thread_local object's destructor,
// which glibc (and every native-TLS POSIX C++ runtime) runs while the thread's storage still exists.
#include <cstddef>

#include "shmkit/error.hpp"
#include "thread_exit.hpp"

namespace shmkit::detail {
namespace {

constexpr std::size_t kMaxCallbacks = 8;  // per thread; shmkit registers one

struct ThreadExitList {
  struct Entry {
    ThreadExitFn fn;
    void* arg;
  };
  Entry entries[kMaxCallbacks];
  std::size_t count = 0;
  ~ThreadExitList() {
    while (count > 0) {
      --count;
      entries[count].fn(entries[count].arg);
    }
  }
};
thread_local ThreadExitList t_exit_list;

}  // namespace

void at_thread_exit(ThreadExitFn fn, void* arg) {
  ThreadExitList& list = t_exit_list;
  if (list.count == kMaxCallbacks) throw Error(Errc::resource_limit, "at_thread_exit: too many callbacks for one thread");
  list.entries[list.count++] = {fn, arg};
}

}  // namespace shmkit::detail
