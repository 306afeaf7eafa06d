// A backend's mapping of a segment into this process (internal): what the core reads and writes
// through; each backend (lib/src/backends/*) subclasses it and owns the OS resources.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace shmkit::detail {

class Mapping {
 public:
  virtual ~Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  std::byte* data() const noexcept { return data_; }
  // Bytes mapped: the segment's maximum size (only the header's total_size is backed and touched).
  std::size_t size() const noexcept { return size_; }
  bool writable() const noexcept { return writable_; }
  // Bytes the backing object had when it was mapped (validation at open).
  virtual std::size_t backing_size() const noexcept { return size_; }
  // Reads the object's size again (a grow elsewhere may have extended it since it was mapped);
  // true if it is larger now. Default: false (fixed objects).
  virtual bool refresh_backing_size() const noexcept { return false; }
  // Makes the backing object hold at least `bytes` (never shrinks it; safe when several processes
  // extend at once), memory or disk reserved: Error(out_of_memory) naming the limit if it does
  // not fit. `what` names the segment. Default: Error(unsupported) (the object cannot grow).
  virtual void extend(std::uint64_t bytes, const std::string& what);

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
