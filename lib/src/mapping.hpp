// A backend's mapping of a segment into this process (internal): the seam between the portable
// Segment logic (segment.cpp) and each backend (portable/named_mapping.cpp, linux/memfd_*.cpp).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "shmkit/detail/deadline.hpp"

namespace shmkit::detail {

class Mapping {
 public:
  virtual ~Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool writable() const noexcept { return writable_; }

 protected:
  Mapping() = default;
  void set(void* data, std::size_t size, bool writable) noexcept {
    data_ = static_cast<std::byte*>(data);
    size_ = size;
    writable_ = writable;
  }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  bool writable_ = false;
};

// ---- Named backend (portable/named_mapping.cpp) ----
// Creates the object exclusively (Error(already_exists) if taken) and maps it read-write.
std::unique_ptr<Mapping> create_named_mapping(const std::string& name, std::size_t size, unsigned permissions);
// Opens and maps an existing object; waits (until deadline) for a creator that has not sized it yet.
// writable = false: opened O_RDONLY and mapped PROT_READ (the kernel refuses any write).
std::unique_ptr<Mapping> open_named_mapping(const std::string& name, DeadlineNs deadline, bool writable = true);
bool remove_named_mapping(const std::string& name);

}  // namespace shmkit::detail
