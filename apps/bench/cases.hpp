// The benchmark cases, one family per file. Each family registers the child roles its peers
// run (register_*_roles, called before a child dispatches) and either adds its latency and
// throughput cases to the common rounds (add_*: run interleaved by run_rounds) or, for costs
// measured inside one process, runs them directly (run_*).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"

namespace shmkit::bench {

// The frame sizes the issue asks for.
inline constexpr std::array<std::uint64_t, 4> kFrameSizes{64, 4096, 65536, 1048576};

// Bytes of ring every streaming case gets (channels, the naive ring, message_queue).
inline constexpr std::uint64_t kRingBudget = 8u << 20;

std::string size_name(std::uint64_t bytes);  // "64", "4K", "64K", "1M"
// Should the case `id` run under --only?
bool selected(const Settings& s, const std::string& id);

void register_floor_roles();
void add_floor_cases(const Settings& s, Cases& out);  // cache-line ping-pong, memcpy

void register_ipc_roles();
void add_ipc_cases(const Settings& s, Cases& out);  // pipe, unix sockets, message_queue, futex, eventfd

void register_ring_roles();
void add_ring_cases(const Settings& s, Cases& out);  // the naive SPSC byte ring, the 64 B line stream

void register_channel_roles();
void add_channel_cases(const Settings& s, Cases& out);  // shmkit broadcast and queue

void register_eventfd_roles();
void add_eventfd_cases(const Settings& s, Cases& out);  // epoll readers on the writer's eventfd / the thread's fd
void run_eventfd_publish(const Settings& s, Results& out);  // publish cost with 0, 1, 4 eventfd subscribers

void register_syscall_roles();
// Runs `words` (an strace -c command line writing its table to `out`) and returns the calls on
// the table's total line, removing `out`; -1 if strace is missing, not permitted or failed.
long run_strace(std::vector<std::string> words, const std::string& out);
void run_syscalls(const Settings& s, Results& out);  // system calls per publish

void register_state_roles();
void run_state(const Settings& s, Results& out);  // named map, find by name, attach

// The iceoryx companion's cases (skipped, with the reason, when it is not built or RouDi is
// missing). An IceoryxSession must live while they run: it starts RouDi when none is up.
class IceoryxSession {
 public:
  explicit IceoryxSession(const Settings& s);
  ~IceoryxSession();
  IceoryxSession(const IceoryxSession&) = delete;
  IceoryxSession& operator=(const IceoryxSession&) = delete;

 private:
  pid_t roudi_ = -1;
};
void add_iceoryx_cases(const Settings& s, Cases& out);

}  // namespace shmkit::bench
