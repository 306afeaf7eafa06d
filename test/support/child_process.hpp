// Test support: run a real child process (fork + exec of a test binary), wait for it with a
// timeout, kill it. exec, not fork alone: the child maps segments afresh at its own addresses.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace shmkit::test {

struct ExitStatus {
  bool exited = false;   // exited normally (then code is valid)
  int code = -1;
  int signal = 0;        // killed by this signal
  bool ok() const { return exited && code == 0; }
  std::string describe() const;
};

class ChildProcess {
 public:
  // Starts `program` with `args`. stdout/stderr are inherited (Boost.Test shows them on failure).
  ChildProcess(const std::string& program, const std::vector<std::string>& args);
  // The same, with stdout (and stderr, if given) written to files, for tests that read output.
  ChildProcess(const std::string& program, const std::vector<std::string>& args, const std::string& stdout_path,
               const std::string& stderr_path = "");
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();  // kills (SIGKILL) and reaps a child still running: no stray processes

  pid_t pid() const { return pid_; }
  // Waits up to `timeout`; nullopt if still running.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  // Waits up to `timeout`, then kills: the status of a hung child says so (signal 9).
  ExitStatus wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  void kill(int signal);

 private:
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

// Path of a helper binary built next to the running test (argv[0]'s directory).
std::string helper_path(const std::string& name);

// A name unique to this process and call, for segments and sockets.
std::string unique_name(const std::string& prefix);

// Number of open fds of this process (/proc/self/fd), for leak checks.
int open_fd_count();

}  // namespace shmkit::test
