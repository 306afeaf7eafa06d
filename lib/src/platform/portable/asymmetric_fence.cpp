// Elsewhere: no process-wide barrier, so no process uses light fences and a full fence on the
// waiting side is all the handshake needs.
#include "asymmetric_fence.hpp"

namespace shmkit::detail {

bool enable_light_fences() noexcept { return false; }

bool heavy_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return true;
}

}  // namespace shmkit::detail
