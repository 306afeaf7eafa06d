// Typed frames on shmkit's channels: publish(const T&), read<T>()/try_read<T>() and loan<T>()
// beside the byte-span API, for T that may be copied as bytes between processes.
//
//   struct Tick { std::int64_t ts; double price; };
//   writer.publish(Tick{now, 101.5});
//   if (auto r = reader.read<Tick>(std::chrono::seconds(1))) use(r->price, r.frame.sequence);
//   auto loan = writer.loan<Tick>();   // zero-copy: fill *loan in the slot, then
//   loan->price = 101.5; loan.publish();
//
// A frame whose size is not sizeof(T) is Error(type_mismatch) naming both sizes (the writer
// publishes another type): the frame is consumed, so the reader can carry on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "shmkit/channel_types.hpp"
#include "shmkit/error.hpp"
#include "shmkit/frame_loan.hpp"

namespace shmkit {

// What a typed frame may be: bytes that mean the same in another process (no pointers into this
// process's heap, no virtual table), hence trivially copyable. A byte span is the byte API's.
template <class T>
concept FrameType = std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> &&
                    !std::is_convertible_v<const T&, std::span<const std::byte>>;

// The outcome of a typed read: ReadResult's status, frame and lost, and the value (valid when
// status is ok). Checked by static_assert, not a constraint, so that a read<T> of a wrong type
// is refused by read's own FrameType constraint, which every compiler then names.
template <class T>
struct TypedReadResult {
  static_assert(FrameType<T>, "a typed frame must be a FrameType (trivially copyable, no pointer)");
  Errc status = Errc::timeout;
  FrameInfo frame;
  std::uint64_t lost = 0;

  explicit operator bool() const noexcept { return status == Errc::ok; }
  const T& value() const noexcept { return *std::launder(reinterpret_cast<const T*>(storage_)); }
  T& value() noexcept { return *std::launder(reinterpret_cast<T*>(storage_)); }
  const T& operator*() const noexcept { return value(); }
  T& operator*() noexcept { return value(); }
  const T* operator->() const noexcept { return &value(); }
  T* operator->() noexcept { return &value(); }

  // The bytes a read copies the frame into (memcpy creates the T there).
  std::span<std::byte> buffer() noexcept { return {reinterpret_cast<std::byte*>(storage_), sizeof(T)}; }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

// A zero-copy loan of one T: the T lives in the channel slot; fill it through * or ->, then
// publish() (sizeof(T) bytes). Dropped without publish(), nothing is published. Like
// FrameLoan, one at a time per writer, and the writer must outlive it.
template <FrameType T>
class TypedLoan {
 public:
  TypedLoan() noexcept = default;
  // Starts the T's lifetime in the slot; nothing is written (T is filled by the caller).
  explicit TypedLoan(FrameLoan loan) : loan_(std::move(loan)) {
    if (!loan_) return;
    if (loan_.data().size() < sizeof(T))
      throw Error(Errc::invalid_argument, "loan<T>(): sizeof(T) is " + std::to_string(sizeof(T)) +
                                              " bytes but the channel's max_frame is " +
                                              std::to_string(loan_.data().size()) +
                                              ": create the channel with max_frame >= sizeof(T)");
    value_ = ::new (static_cast<void*>(loan_.data().data())) T;
  }

  explicit operator bool() const noexcept { return static_cast<bool>(loan_); }
  Errc status() const noexcept { return loan_.status(); }
  std::uint64_t sequence() const noexcept { return loan_.sequence(); }
  T& operator*() const noexcept { return *value_; }
  T* operator->() const noexcept { return value_; }

  // Publishes the T; returns its sequence. The loan is empty after.
  std::uint64_t publish() {
    value_ = nullptr;
    return loan_.publish(sizeof(T));
  }

 private:
  static_assert(alignof(T) <= 32, "a channel slot's payload is 32-byte aligned: T may not need more");
  static_assert(std::is_default_constructible_v<T>, "loan<T>() begins a T in the slot: T needs a default constructor");
  FrameLoan loan_;
  T* value_ = nullptr;
};

namespace detail {

[[noreturn]] void throw_frame_size_mismatch(std::uint64_t sequence, std::size_t frame_size, std::size_t type_size);

// read<T>() on either reader: copy-out into the result; a frame of another size is consumed and
// reported. Reader is BroadcastReader or QueueReader; Read does the (try_)read of the byte API.
template <FrameType T, class Reader, class Read>
TypedReadResult<T> read_typed(Reader& reader, Read&& read) {
  TypedReadResult<T> out;
  ReadResult r;
  try {
    r = read(out.buffer());
  } catch (const Error& e) {
    if (e.errc() != Errc::too_small) throw;
    // Larger than T: take it off the ring in place, then say so.
    ReadResult p = reader.try_peek();
    const std::uint64_t sequence = p.frame.sequence;
    const std::size_t size = p.frame.size;
    reader.finish();
    throw_frame_size_mismatch(sequence, size, sizeof(T));
  }
  if (r && r.frame.size != sizeof(T)) throw_frame_size_mismatch(r.frame.sequence, r.frame.size, sizeof(T));
  out.status = r.status;
  out.frame = r.frame;
  out.lost = r.lost;
  return out;
}

}  // namespace detail
}  // namespace shmkit
