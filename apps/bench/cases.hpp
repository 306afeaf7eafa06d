// The benchmark cases, one family per file. Each family registers the child roles its peers
// run (register_*_roles, called before a child dispatches) and either adds its latency and
// throughput cases to the common rounds (add_*: run interleaved by run_rounds) or, for costs
// measured inside one process, runs them directly (run_*).
#pragma once

#include <array>
#include <cstdint>
#include <string>

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
void add_ring_cases(const Settings& s, Cases& out);  // the naive SPSC byte ring

void register_channel_roles();
void add_channel_cases(const Settings& s, Cases& out);  // shmkit broadcast and queue

void register_syscall_roles();
void run_syscalls(const Settings& s, Results& out);  // system calls per publish

void register_state_roles();
void run_state(const Settings& s, Results& out);  // named map, find by name, attach

void run_iceoryx(const Settings& s, Results& out);  // the companion benchmark, when built

}  // namespace shmkit::bench
