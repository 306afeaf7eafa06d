// The few POSIX names that otherwise portable tests and helpers use, for Windows builds only:
// test/CMakeLists.txt force-includes this header (-include) into every test and helper there, so
// their sources stay as they are (support/posix_compat/ stands in for missing headers). Nothing
// here is used by the library.
#pragma once

#ifdef _WIN32
#include <csignal>

// The signal number ChildProcess::kill() takes and ExitStatus::signal reports for a kill (Linux's
// number; support/child_process_windows.cpp maps TerminateProcess onto it).
#ifndef SIGKILL
#define SIGKILL 9
#endif

#ifdef __cplusplus
#include <fcntl.h>
#include <io.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <thread>

// Windows has no numeric user ids: shmkit records uid 0 there (platform/windows/process_identity.cpp).
inline unsigned getuid() noexcept { return 0; }

// A write at an offset (seek, then write), in binary mode: ::open() without O_BINARY opens in
// text mode on Windows, which would turn each '\n' byte written into "\r\n".
inline ssize_t pwrite(int fd, const void* buf, std::size_t n, off_t offset) noexcept {
  if (_setmode(fd, _O_BINARY) == -1 || _lseeki64(fd, offset, SEEK_SET) < 0) return -1;
  return _write(fd, buf, static_cast<unsigned>(n));
}

// Sleeps until the process is killed (helpers that park holding something, waiting for the kill).
inline int pause() noexcept {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}
#endif
#endif  // _WIN32
