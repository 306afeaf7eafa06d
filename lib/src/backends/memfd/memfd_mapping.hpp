// memfd backend's platform layer (internal, Linux): an anonymous, sealed memfd mapped shared.
// The segment has no name in any file system; other processes get its fd over the control
// socket (control_server.cpp / control_client.cpp) and validate it before mapping.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "unique_fd.hpp"
#include "mapping.hpp"

namespace shmkit::detail {

class MemfdMapping final : public Mapping {
 public:
  // Takes ownership of the fd and of the mapping [data, data + size); the memfd had
  // `backing_size` bytes when it was mapped.
  MemfdMapping(UniqueFd fd, void* data, std::size_t size, std::size_t backing_size, bool writable) noexcept;
  ~MemfdMapping() override;

  // The memfd (owned): what a ControlServer passes to clients.
  int fd() const noexcept { return fd_.get(); }
  std::size_t backing_size() const noexcept override { return backing_size_.load(std::memory_order_relaxed); }
  bool refresh_backing_size() const noexcept override;
  void extend(std::uint64_t bytes, const std::string& what) override;

 private:
  UniqueFd fd_;
  mutable std::atomic<std::size_t> backing_size_;  // refreshed by refresh_backing_size(), from any thread
};

// memfd_create(name, MFD_CLOEXEC|MFD_ALLOW_SEALING|MFD_NOEXEC_SEAL) (without MFD_NOEXEC_SEAL on
// kernels before 6.3), sized to `size`, sealed F_SEAL_SHRINK (and F_SEAL_GROW when max_size ==
// size: it never grows) then F_SEAL_SEAL, `max_size` bytes mapped MAP_SHARED read-write (only
// `size` committed). `name` only labels /proc/<pid>/fd links ("memfd:<name>"), at most 249 bytes.
// max_size 0: size.
std::unique_ptr<MemfdMapping> create_memfd_mapping(const std::string& name, std::size_t size, std::size_t max_size = 0);

// Validates a received fd before mapping it: a memfd (F_GET_SEALS works and it has no name),
// sealed at least F_SEAL_SHRINK|F_SEAL_SEAL (so nobody can shrink it under us), opened and not
// write-sealed as `writable` needs, of at most `map_size` bytes (the segment's maximum size,
// which is mapped: the header then says how much of it is the segment).
// Throws Error(protocol_error) for a wrong kind of fd or missing seals, too_small / corrupt for
// a size mismatch, permission_denied when it cannot be mapped writable. Closes the fd on error.
std::unique_ptr<MemfdMapping> map_received_memfd(UniqueFd fd, std::size_t map_size, bool writable);

}  // namespace shmkit::detail
