// shmkit::Snapshot<T>: the latest value of a trivially copyable T, published by one writer and
// read by any number of processes, without locks (a seqlock).
//
// store() never waits for readers; load() copies the value and retries if a store() ran
// meanwhile, so every copy it returns is one whole stored value, never a mix of two. All shared
// words are accessed with atomic operations (release/acquire word copies bracketed by the
// sequence number, no fences), so it is data-race free for the C++ memory model and TSan.
// One writer at a time: two concurrent store() calls are a caller bug (use a Mutex around them).
// If the writer dies in the middle of a store(), readers would retry forever: load() notices
// that the writing process is gone and throws Error(owner_died); the next store() repairs it.
// Use it for "latest pose / latest sensor reading" state where readers want the newest value
// and never a queue of every value (see docs/persistence.md for the alternatives).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <type_traits>

namespace shmkit {

namespace detail {
// Process identity of the caller, cached (internal; src/snapshot.cpp).
std::int32_t snapshot_self_pid() noexcept;
// Throws Error(owner_died) if process `pid` no longer exists; returns otherwise.
void snapshot_check_writer(std::int32_t pid);
// Pauses a spinning reader (yields after a while).
void snapshot_backoff(std::uint32_t round) noexcept;
}  // namespace detail

template <class T>
class Snapshot {
  static_assert(std::is_trivially_copyable_v<T>, "Snapshot<T> copies T as bytes: T must be trivially copyable");
  static_assert(!std::is_pointer_v<T>, "a pointer means nothing in another process");
  static constexpr std::size_t kWords = (sizeof(T) + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t);

 public:
  // Version of a Snapshot that was never stored to.
  static constexpr std::uint64_t empty_version = 0;

  // Starts empty (version() == 0); load() then returns a value-initialized T.
  Snapshot() noexcept { put(T{}, std::memory_order_relaxed); }
  // Starts holding `initial` at version 1.
  explicit Snapshot(const T& initial) noexcept : Snapshot() { store(initial); }
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // Publishes a new value; never blocks. Only one process/thread may store at a time.
  void store(const T& value) noexcept {
    writer_pid_.store(detail::snapshot_self_pid(), std::memory_order_relaxed);
    // An odd sequence left by a writer that died mid-store is simply continued.
    const std::uint64_t odd = seq_.load(std::memory_order_relaxed) | 1;
    seq_.store(odd, std::memory_order_relaxed);
    // Release word stores: a reader that sees a new word also sees the odd mark before it. (No
    // fences: ThreadSanitizer does not model them, and on x86 these stores cost nothing extra.)
    put(value, std::memory_order_release);
    seq_.store(odd + 1, std::memory_order_release);
  }

  // A consistent copy of the latest value. Throws Error(owner_died) if the writer died mid-store.
  T load() const { return load_with_version().first; }

  // The value and the version it was stored as (versions start at 1 and grow by 1 per store).
  std::pair<T, std::uint64_t> load_with_version() const {
    std::uint64_t buf[kWords];
    for (std::uint32_t round = 0;; ++round) {
      const std::uint64_t before = seq_.load(std::memory_order_acquire);
      if ((before & 1) == 0) {
        // Acquire word loads keep the re-check below after them, and pair with the writer's
        // release stores: a word from a newer store() makes the re-check see the sequence move.
        for (std::size_t i = 0; i < kWords; ++i) buf[i] = words_[i].load(std::memory_order_acquire);
        if (seq_.load(std::memory_order_relaxed) == before) {
          std::pair<T, std::uint64_t> out{T{}, before / 2};
          std::memcpy(static_cast<void*>(&out.first), buf, sizeof(T));
          return out;
        }
      } else if (round != 0 && round % 4096 == 0) {
        detail::snapshot_check_writer(writer_pid_.load(std::memory_order_relaxed));
      }
      detail::snapshot_backoff(round);
    }
  }

  // The value if its version is newer than `seen` (then `seen` is updated); nullopt otherwise.
  // Cheap when nothing changed: one atomic load.
  std::optional<T> load_if_newer(std::uint64_t& seen) const {
    if (version() <= seen) return std::nullopt;
    auto [value, v] = load_with_version();
    if (v <= seen) return std::nullopt;
    seen = v;
    return value;
  }

  // Number of completed stores so far (0: never stored).
  std::uint64_t version() const noexcept { return seq_.load(std::memory_order_acquire) / 2; }

 private:
  void put(const T& value, std::memory_order order) noexcept {
    std::uint64_t buf[kWords] = {};
    std::memcpy(buf, static_cast<const void*>(&value), sizeof(T));
    for (std::size_t i = 0; i < kWords; ++i) words_[i].store(buf[i], order);
  }

  // Even: stable, version = seq/2. Odd: a store is in progress.
  alignas(64) std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::int32_t> writer_pid_{0};
  std::uint32_t reserved_ = 0;
  // On their own cache line(s): readers polling seq_ do not share a line with the data being written.
  alignas(64) std::atomic<std::uint64_t> words_[kWords];
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "Snapshot needs lock-free 64-bit atomics");
static_assert(std::atomic<std::int32_t>::is_always_lock_free);

}  // namespace shmkit
