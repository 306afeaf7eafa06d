// Linux: the heavy side is membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) (Linux 4.16): an IPI to
// every CPU running a thread of a process registered with ..._REGISTER_GLOBAL_EXPEDITED, each of
// which executes a full barrier; a registered thread that is not running passed one when it was
// switched out. Processes of any user take part, which is what a channel between uids needs.
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "asymmetric_fence.hpp"

namespace shmkit::detail {
namespace {

long membarrier(int cmd) noexcept { return ::syscall(SYS_membarrier, cmd, 0U, 0); }

bool supported() noexcept {
  static const bool yes = [] {
    const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    return cmds >= 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0 &&
           (cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0;
  }();
  return yes;
}

}  // namespace

bool enable_light_fences() noexcept {
  static const bool registered = supported() && membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
  return registered;
}

bool heavy_fence() noexcept {
  // A full fence of our own first: orders our waiter count and armed bit before whatever the
  // barrier makes the other processes do (the RMWs before the call already are on x86).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return supported() && membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
}

}  // namespace shmkit::detail
