// shmkit::FrameLoan: zero-copy publishing. A channel writer lends out the payload area of its
// next slot; the caller fills it in place and publishes it, with no copy:
//
//   shmkit::FrameLoan loan = writer.loan();
//   std::size_t n = encode_into(loan.data());   // write straight into shared memory
//   loan.publish(n);                             // readers see the frame from here on
//
// One loan per writer at a time. A loan dropped without publish() publishes nothing. It refers
// to its writer: do not move or destroy the writer while a loan is out.
// At high frame rates, keep the loan in the object loan() initialised: moving it right away
// reads what loan() just stored, and that read can wait until the previous frames' stores have
// reached the readers' cores, which can halve the rate of small loans. Small frames are faster
// copied than loaned; large ones faster loaned (docs/benchmarks.md has the figures).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "shmkit/error.hpp"

namespace shmkit {

namespace detail {
class WriterCore;
}

class FrameLoan {
 public:
  FrameLoan() noexcept = default;
  FrameLoan(FrameLoan&& other) noexcept;
  FrameLoan& operator=(FrameLoan&& other) noexcept;
  FrameLoan(const FrameLoan&) = delete;
  FrameLoan& operator=(const FrameLoan&) = delete;
  ~FrameLoan();

  // True while the loan holds a slot. A queue loan that found no room holds none: status() says
  // why (timeout or peer_gone).
  explicit operator bool() const noexcept { return core_ != nullptr; }
  Errc status() const noexcept { return status_; }

  // The slot's payload area: max_frame bytes, 32-byte aligned.
  std::span<std::byte> data() const noexcept { return {data_, capacity_}; }
  // The sequence number the frame will carry.
  std::uint64_t sequence() const noexcept { return sequence_; }

  // Publishes the first `size` bytes of data(); returns the sequence. The loan is empty after.
  // Error(invalid_argument) if size > data().size() or the loan is empty.
  std::uint64_t publish(std::size_t size);

 private:
  friend class detail::WriterCore;
  detail::WriterCore* core_ = nullptr;
  std::byte* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::uint64_t sequence_ = 0;
  Errc status_ = Errc::ok;
};

}  // namespace shmkit
