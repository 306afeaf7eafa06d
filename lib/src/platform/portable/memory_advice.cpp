// Platforms without madvise/mlock wiring: pre-fault by touching pages; no huge pages; locking
// is refused with a clear error rather than silently skipped.
#include "memory_advice.hpp"

#include <string>

namespace shmkit::detail {

MemoryAdvice apply_memory_advice(std::byte* data, std::size_t size, bool writable, const MemoryAdvice& want,
                                 std::string_view segment_name) {
  MemoryAdvice done;
  if (want.lock)
    throw Error(Errc::unsupported, "locking segment '" + std::string(segment_name) +
                                       "' into RAM is implemented for Linux only: create it without MemoryAdvice::lock");
  if (want.prefault) {
    for (std::size_t off = 0; off < size; off += 4096) {
      if (writable)
        __atomic_fetch_add(reinterpret_cast<unsigned char*>(data + off), 0, __ATOMIC_RELAXED);
      else
        (void)__atomic_load_n(reinterpret_cast<const unsigned char*>(data + off), __ATOMIC_RELAXED);
    }
    done.prefault = true;
  }
  return done;
}

}  // namespace shmkit::detail
