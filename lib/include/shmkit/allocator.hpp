// shmkit::Allocator<T>: the allocator of a segment, for containers that live in shared memory.
// Segment::allocator() returns Allocator<void>, which converts to Allocator<T> for every T.
//
// It is Boost.Interprocess's allocator (offset pointers, version-2 in-place expansion), except
// that a full segment throws shmkit::Error(out_of_memory) naming the segment, not bad_alloc.
// The segment stays usable after it: free something and allocate again.
#pragma once

#include <cstddef>

#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/exceptions.hpp>

#include "shmkit/detail/segment_manager.hpp"

namespace shmkit {
namespace detail {
// Throws Error(out_of_memory) for a request of `bytes` from the segment managed by `manager`.
[[noreturn]] void throw_segment_full(std::size_t bytes, const SegmentManager* manager);
// Automatic growth (SegmentOptions::growth_step): grows the segment so that `bytes` more may fit;
// false if it does not grow automatically or cannot grow any more.
bool grow_segment_for(std::size_t bytes, const SegmentManager* manager);
}  // namespace detail

template <class T>
class Allocator : public boost::interprocess::allocator<T, detail::SegmentManager> {
  using Base = boost::interprocess::allocator<T, detail::SegmentManager>;

 public:
  using cvoid_ptr = boost::interprocess::offset_ptr<const void>;
  using typename Base::multiallocation_chain;
  using typename Base::pointer;
  using typename Base::segment_manager;
  using typename Base::size_type;
  using version = boost::interprocess::version_type<Allocator, 2>;
  template <class U>
  struct rebind {
    using other = Allocator<U>;
  };

  Allocator(segment_manager* manager) noexcept : Base(manager) {}  // NOLINT: implicit by design
  Allocator(const Allocator& other) noexcept = default;
  Allocator& operator=(const Allocator& other) noexcept = default;
  template <class U>
  Allocator(const Allocator<U>& other) noexcept : Base(other.get_segment_manager()) {}  // NOLINT

  // Each allocation that does not fit grows the segment (if it grows automatically) and is tried
  // again; when it cannot grow, Error(out_of_memory).
  pointer allocate(size_type count, cvoid_ptr hint = cvoid_ptr()) {
    for (;;) {
      try {
        return Base::allocate(count, hint);
      } catch (const boost::interprocess::bad_alloc&) {
        full(count * sizeof(T));
      }
    }
  }
  pointer allocation_command(boost::interprocess::allocation_type command, size_type limit_size,
                             size_type& prefer_in_recvd_out_size, pointer& reuse) {
    for (;;) {
      const size_type prefer = prefer_in_recvd_out_size;
      try {
        return Base::allocation_command(command, limit_size, prefer_in_recvd_out_size, reuse);
      } catch (const boost::interprocess::bad_alloc&) {
        full(prefer * sizeof(T));
        prefer_in_recvd_out_size = prefer;
      }
    }
  }
  pointer allocate_one() {
    for (;;) {
      try {
        return Base::allocate_one();
      } catch (const boost::interprocess::bad_alloc&) {
        full(sizeof(T));
      }
    }
  }
  void allocate_individual(size_type num_elements, multiallocation_chain& chain) {
    for (;;) {
      try {
        Base::allocate_individual(num_elements, chain);
        return;
      } catch (const boost::interprocess::bad_alloc&) {
        full(num_elements * sizeof(T));
      }
    }
  }
  void allocate_many(size_type elem_size, size_type num_elements, multiallocation_chain& chain) {
    for (;;) {
      try {
        Base::allocate_many(elem_size, num_elements, chain);
        return;
      } catch (const boost::interprocess::bad_alloc&) {
        full(elem_size * num_elements * sizeof(T));
      }
    }
  }

 private:
  // Returns once the segment grew; throws Error(out_of_memory) when it cannot.
  void full(std::size_t bytes) const {
    if (!detail::grow_segment_for(bytes, this->get_segment_manager()))
      detail::throw_segment_full(bytes, this->get_segment_manager());
  }
};

template <class T, class U>
bool operator==(const Allocator<T>& a, const Allocator<U>& b) noexcept {
  return a.get_segment_manager() == b.get_segment_manager();
}
template <class T, class U>
bool operator!=(const Allocator<T>& a, const Allocator<U>& b) noexcept {
  return !(a == b);
}

}  // namespace shmkit
