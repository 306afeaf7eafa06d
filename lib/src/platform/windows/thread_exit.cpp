// Windows: code run at thread exit (seam: thread_exit.hpp) is a fiber-local storage callback.
// One FLS index for the process; its per-thread value is a list of the thread's callbacks, which
// Windows hands to the callback when the thread ends, on that thread. The list lives on the heap,
// not in a thread_local: mingw-w64's emulated TLS may already have freed those (GCC PR 80816).
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <new>
#include <string>

#include "shmkit/error.hpp"
#include "thread_exit.hpp"

namespace shmkit::detail {
namespace {

struct Node {
  ThreadExitFn fn;
  void* arg;
  Node* next;
};

void WINAPI run_callbacks(void* value) {
  for (Node* n = static_cast<Node*>(value); n != nullptr;) {
    Node* next = n->next;
    n->fn(n->arg);
    delete n;
    n = next;
  }
}

DWORD fls_index() {
  static const DWORD index = ::FlsAlloc(run_callbacks);
  if (index == FLS_OUT_OF_INDEXES)
    throw Error(Errc::resource_limit, "at_thread_exit: FlsAlloc failed (no fiber-local storage index left)");
  return index;
}

}  // namespace

void at_thread_exit(ThreadExitFn fn, void* arg) {
  const DWORD index = fls_index();
  auto* node = new Node{fn, arg, static_cast<Node*>(::FlsGetValue(index))};
  if (!::FlsSetValue(index, node)) {
    const DWORD error = ::GetLastError();
    delete node;
    throw Error(Errc::system, "at_thread_exit: FlsSetValue failed (Windows error " + std::to_string(error) + ")");
  }
}

}  // namespace shmkit::detail
