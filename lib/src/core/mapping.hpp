// A backend's mapping of a segment into this process (internal): what the core reads and writes
// through; each backend (lib/src/backends/*) subclasses it and owns the OS resources.
#pragma once

#include <cstddef>
#include <memory>

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

}  // namespace shmkit::detail
