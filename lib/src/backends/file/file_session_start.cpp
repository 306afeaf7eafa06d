// The OS-independent half of joining a file segment's session (file_mapping.hpp): the counts,
// the boot id and the stale-lock repair a process does in the header. The OS files do the locks
// and the write-back around it.
#include <algorithm>
#include <cstring>
#include <iterator>

#include "boost_internals.hpp"
#include "boot_id.hpp"
#include "file_mapping.hpp"
#include "file_state.hpp"

namespace shmkit::detail {
namespace {

bool any_nonzero(const std::uint8_t (&id)[16]) {
  return std::any_of(std::begin(id), std::end(id), [](std::uint8_t b) { return b != 0; });
}

}  // namespace

void record_session_start(Mapping& mapping, SegmentManager& manager, FileSessionReport& r) {
  FileState& file = file_state(*reinterpret_cast<SegmentHeader*>(mapping.data()));
  if (r.first_in_session) {
    // Nobody else has the file: every count left in it belongs to processes that are gone.
    r.clean = file.writers.load(std::memory_order_acquire) == 0;
    if (!r.clean) ++file.unclean_sessions;
    std::uint8_t boot[16];
    current_boot_id(boot);
    r.other_boot = any_nonzero(boot) && any_nonzero(file.boot_id) && std::memcmp(boot, file.boot_id, sizeof boot) != 0;
    // Alone, any held lock word is stale: from another boot it names a thread that no longer
    // exists (waiting would hang; no kernel reports it dead), and a copied or restored file can
    // carry one from this boot. Re-create both; one that was held poisons the allocator.
    const bool held_a = manager_lock(manager).reinitialize_stale();
    const bool held_b = allocator_lock(manager).reinitialize_stale();
    r.stale_lock_poisoned = held_a || held_b;
    std::memcpy(file.boot_id, boot, sizeof boot);
    file.writers.store(0, std::memory_order_relaxed);
    file.sessions.fetch_add(1, std::memory_order_relaxed);
  }
  file.writers.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace shmkit::detail
