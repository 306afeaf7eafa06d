// The wait loop every channel endpoint shares (internal), over the word-wait seam (word_wait.hpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <utility>

#include "shmkit/detail/channel_layout.hpp"
#include "shmkit/detail/deadline.hpp"
#include "shmkit/error.hpp"
#include "shmkit/channel_types.hpp"
#include "shmkit/wait_strategy.hpp"
#include "asymmetric_fence.hpp"
#include "word_wait.hpp"

namespace shmkit::detail {


// The waker's half: after its seq_cst index store, if a sleeper armed `word` (low bit set),
// disarm it by moving to the next even value and wake every sleeper. True if it made the call.
// A publish that finds the word unarmed costs two loads and no system call.
inline bool wake_if_armed(std::atomic<std::uint32_t>& word) noexcept {
  std::uint32_t v = word.load(std::memory_order_seq_cst);
  while ((v & 1U) != 0) {
    if (word.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst)) {
      wake_all(word);
      return true;
    }
  }
  return false;
}
// Wakes every sleeper unconditionally (close, stop): the word changes whether armed or not.
inline void bump_and_wake(std::atomic<std::uint32_t>& word) noexcept {
  std::uint32_t v = word.load(std::memory_order_relaxed);
  while (!word.compare_exchange_weak(v, (v | 1U) + 1, std::memory_order_seq_cst)) {
  }
  wake_all(word);
}

// Tells the CPU we are spinning (frees pipeline resources for the sibling hyperthread).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// The word a side sleeps on and the count of sleepers the other side checks before waking.
// When the other side may skip its full fence (a writer with light fences, asymmetric_fence.hpp),
// `full_fences` and `peer_light` are the channel's WaitLine::full_fences and
// WriterLine::light_fences: a sleeper that sees the writer on light fences issues the heavy
// fence and asks for full fences (or, when it cannot issue it, demands them and sleeps in short
// slices until the writer is seen to have switched). `stats`, when set, counts sleeps and fences.
struct WaitPoint {
  std::atomic<std::uint32_t>* word;
  std::atomic<std::uint32_t>* waiters;
  std::atomic<std::uint32_t>* full_fences = nullptr;
  const std::atomic<std::uint32_t>* peer_light = nullptr;
  ReaderStats* stats = nullptr;
};

// Where a channel's readers sleep for data (the writer may publish with light fences).
inline WaitPoint data_wait_point(WaitLine& wl, const WriterLine& w, ReaderStats* stats = nullptr) noexcept {
  return WaitPoint{&wl.data_word, &wl.data_waiters, &wl.full_fences, &w.light_fences, stats};
}

// A sleeper that could not issue the heavy fence wakes this often to look again (a wake the
// light-fenced writer may have missed until it switched to full fences).
inline constexpr DeadlineNs kUnfencedSleepSliceNs = 1'000'000;

// Waits until `probe` reports an outcome, per `strategy`, for at most `timeout` (zero: probes
// once). The clock is read only once the first probe found nothing.
//  probe(): std::optional<Errc>, nullopt to keep waiting. Inside the blocking phase it runs after
//           the waiter count went up, so it must read the other side's index with seq_cst.
//  peer_dead(): true once the other side's process is gone; asked every liveness_check. Then
//           one last probe (what the peer published before dying still counts) or peer_gone.
//  maybe_ready(): a cheap look (the next slot's version, relaxed) that lets the spin phase skip
//           a probe: the probe of a caught-up reader reads the writer's line, which the writer
//           stores to on every frame, and a reader spinning on that line takes it away from the
//           writer once per frame. The spin phase probes when maybe_ready() says so, and every
//           kProbeEverySpins spins anyway (closed, a lapping writer); the blocking phase always.
// can_block false (read-only mapping: no waiter count): sleeps in short naps instead.
inline constexpr std::uint32_t kProbeEverySpins = 16;

template <class Probe, class PeerDead, class MaybeReady>
Errc wait_loop(const WaitStrategy& strategy, std::chrono::nanoseconds timeout, WaitPoint point, bool can_block,
               Probe&& probe, PeerDead&& peer_dead, MaybeReady&& maybe_ready) {
  // A read that will spin may skip its first probe too: otherwise a reader that keeps up takes
  // the writer's line once per frame all the same, on entry.
  const bool spins = strategy.kind != WaitKind::block && timeout.count() > 0;
  if (!spins || maybe_ready())
    if (auto r = probe()) return *r;
  if (timeout.count() <= 0) return Errc::timeout;
  DeadlineNs now = steady_now_ns();
  const DeadlineNs deadline = timeout.count() >= kNoDeadline - now ? kNoDeadline : now + timeout.count();
  const DeadlineNs liveness = std::max<DeadlineNs>(1'000'000, std::chrono::nanoseconds(strategy.liveness_check).count());
  DeadlineNs next_check = now + liveness;
  auto check_peer = [&](DeadlineNs t) -> std::optional<Errc> {
    if (t < next_check) return std::nullopt;
    next_check = t + liveness;
    if (!peer_dead()) return std::nullopt;
    if (auto r = probe()) return r;
    return Errc::peer_gone;
  };

  if (strategy.kind != WaitKind::block) {
    const DeadlineNs spin_end =
        strategy.kind == WaitKind::busy_poll ? kNoDeadline : now + std::max<DeadlineNs>(0, strategy.spin.count());
    for (std::uint32_t i = 1;; ++i) {
      if (i % kProbeEverySpins == 0 || maybe_ready())
        if (auto r = probe()) return *r;
      if (i % 64 == 0) {  // the clock costs more than a spin: read it every 64 spins
        now = steady_now_ns();
        if (auto r = check_peer(now)) return *r;
        if (now >= deadline) return Errc::timeout;
        if (now >= spin_end) break;
      }
      cpu_relax();
    }
  }

  std::chrono::microseconds nap{50};
  for (;;) {
    if (can_block) {
      // seq_cst pairs with the waker's seq_cst index store + seq_cst loads of the count and the
      // word (a Dekker handshake): either the probe below sees the new index, or the waker sees
      // our count and the armed bit and makes the wake call.
      point.waiters->fetch_add(1, std::memory_order_seq_cst);
      std::optional<Errc> r;
      {
        // Leaves the count even if the probe throws (Error(corrupt)). Relaxed: a count that
        // lingers a moment only costs the waker one spare wake.
        struct Leave {
          std::atomic<std::uint32_t>* waiters;
          ~Leave() { waiters->fetch_sub(1, std::memory_order_relaxed); }
        } leave{point.waiters};
        // Arm the word (low bit): the next waker clears it with one system call, and wakers
        // after it make none until someone sleeps again.
        const std::uint32_t armed = point.word->fetch_or(1, std::memory_order_seq_cst) | 1U;
        DeadlineNs wake_by = std::min(deadline, next_check);
        // Against a light-fenced writer (seen after our count and arm, sc): the heavy fence makes
        // its last `published` store visible to the probe below, or its next waiter-count load
        // see our count. A writer seen on full fences pairs with the plain sc handshake; it went
        // back to light fences only after storing light_fences = 1 (sc), which its later count
        // load follows, so that load sees our count.
        if (point.full_fences != nullptr && point.peer_light->load(std::memory_order_seq_cst) != 0) {
          if (heavy_fence()) {
            if (point.stats != nullptr) ++point.stats->heavy_fences;
            // One heavy fence per sleep costs far more (an IPI to the writer's CPU, tens of us on
            // a VM) than a full fence per frame while readers keep sleeping: ask for those. Only a
            // request: nothing relies on when the writer sees it.
            std::uint32_t none = kFencesAsWriterLikes;
            if (point.full_fences->load(std::memory_order_relaxed) == none)
              point.full_fences->compare_exchange_strong(none, kFencesRequested, std::memory_order_relaxed);
          } else {
            point.full_fences->store(kFencesRequired, std::memory_order_seq_cst);
            // A writer seen with light fences off has published everything with full fences since.
            if (point.peer_light->load(std::memory_order_seq_cst) != 0)
              wake_by = std::min(wake_by, steady_now_ns() + kUnfencedSleepSliceNs);
          }
        }
        r = probe();
        if (!r) {
          if (point.stats != nullptr) ++point.stats->sleeps;
          wait_on_word(*point.word, armed, wake_by);
        }
      }
      if (r) return *r;
    } else {
      std::this_thread::sleep_for(nap);
      nap = std::min(nap * 2, std::chrono::microseconds{1000});
    }
    if (auto r = probe()) return *r;
    now = steady_now_ns();
    if (auto r = check_peer(now)) return *r;
    if (now >= deadline) return Errc::timeout;
  }
}

// Without a cheap look: every spin probes.
template <class Probe, class PeerDead>
Errc wait_loop(const WaitStrategy& strategy, std::chrono::nanoseconds timeout, WaitPoint point, bool can_block,
               Probe&& probe, PeerDead&& peer_dead) {
  return wait_loop(strategy, timeout, point, can_block, std::forward<Probe>(probe), std::forward<PeerDead>(peer_dead),
                   [] { return true; });
}

}  // namespace shmkit::detail
