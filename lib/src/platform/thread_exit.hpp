// Running code when a thread ends (internal platform seam): posix/thread_exit.cpp (a thread_local
// object's destructor) and windows/thread_exit.cpp (a fiber-local storage callback). Why not a
// thread_local destructor everywhere: mingw-w64's GCC keeps thread_locals in emulated TLS, whose
// storage can be freed before the destructors of the objects in it run (GCC PR 80816), so such a
// destructor would read its own members from freed memory.
#pragma once

namespace shmkit::detail {

using ThreadExitFn = void (*)(void* arg) noexcept;

// Calls fn(arg) once, on the calling thread, when that thread ends (after its function
// returned; in no fixed order relative to its thread_local destructors). fn must not use the
// thread's thread_locals, which may be gone by then: everything it needs goes through `arg`.
// Callbacks of one thread run in reverse order of registration. Not for the main thread's end
// (process exit may skip them). Throws Error(resource_limit) or Error(system) if it cannot register.
void at_thread_exit(ThreadExitFn fn, void* arg);

}  // namespace shmkit::detail
