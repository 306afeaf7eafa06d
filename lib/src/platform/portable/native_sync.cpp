// Portable implementation of the native sync seam (native_sync_kind 2): no pthreads, no OS lock.
// A mutex is a 64-bit owner word in the shared storage, taken by CAS; waiters sleep on a 32-bit
// word through the word-wait seam (word_wait.hpp) and, while they wait, look every few ms whether
// the holder is still alive (process_identity.hpp). Nothing stored is a pointer, so the storage
// works at any address in any process. Death of a holder is found by polling, not reported by a
// kernel: a holder that dies is seen within kLivenessPeriodNs by a waiter, at once by a try-lock.
//
// Owner word: pid (32 bits) | start-time hash (8 bits) | thread tag (24 bits); 0 is free and all
// ones is "not recoverable" (pid 0xffffffff names no process). The thread tag tells the threads of
// one process apart (recursive locking) and, through a process-local table of live tags, lets a
// waiter in the holder's own process see that the holding thread ended. Limits, unlike robust
// pthreads: a thread that ends holding a lock while its process lives on is seen only by waiters
// of that process (others see it when the process ends); a lock still held by code that runs at
// thread exit after our callback (thread_exit.hpp) counts as abandoned; no fairness (every unlock
// wakes all).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <new>

#include "process_identity.hpp"
#include "shmkit/detail/native_sync.hpp"
#include "shmkit/error.hpp"
#include "thread_exit.hpp"
#include "word_wait.hpp"

namespace shmkit::detail {
namespace {

using Word = std::uint64_t;
constexpr Word kFree = 0;
constexpr Word kNotRecoverable = ~Word{0};
constexpr std::uint32_t kTagMask = 0xffffff;
constexpr DeadlineNs kFirstCheckNs = 100'000;       // 0.1 ms
constexpr DeadlineNs kLivenessPeriodNs = 2'000'000;  // 2 ms

struct MutexState {
  std::atomic<Word> owner;             // see above; the only word that decides who holds the lock
  std::atomic<std::uint32_t> wake;     // bumped by an unlock that saw waiters; they sleep on it
  std::atomic<std::uint32_t> waiters;  // threads (any process) in the slow path of lock
  std::atomic<std::uint32_t> depth;    // recursion depth; touched by the holder only
  std::atomic<std::uint32_t> kind;     // MutexKind
  std::atomic<std::uint32_t> inconsistent;  // taken from a dead holder, make_consistent not yet called
};
struct CondState {
  std::atomic<std::uint32_t> seq;      // bumped by every notify; waiters sleep on it
  std::atomic<std::uint32_t> waiters;  // lets notify skip wake_all when nobody sleeps
};
// Lock-free atomics of these widths are address-free: the same bytes work in every mapping.
static_assert(std::atomic<Word>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(MutexState) <= sizeof(NativeMutex::storage) && alignof(MutexState) <= alignof(NativeMutex));
static_assert(sizeof(CondState) <= sizeof(NativeCondition::storage) && alignof(CondState) <= alignof(NativeCondition));

MutexState& state(NativeMutex& m) { return *std::launder(reinterpret_cast<MutexState*>(m.storage)); }
CondState& state(NativeCondition& c) { return *std::launder(reinterpret_cast<CondState*>(c.storage)); }

// ---- Live thread tags of this process ----------------------------------------------------------
// An append-only list of slots that is never freed and takes no lock: safe in thread-exit
// destructors and in a forked child (no lock can have been left held by a vanished thread).
struct TagChunk {
  std::atomic<std::uint32_t> slot[64];
  std::atomic<TagChunk*> next;
};
constinit TagChunk g_live_tags{};
constinit std::atomic<std::uint32_t> g_next_tag{1};
constinit thread_local std::uint32_t t_tag = 0;  // trivially destructible: valid to the thread's very end

bool tag_live(std::uint32_t tag) noexcept {
  // acquire: pairs with the release that cleared a slot at thread exit, so the ended thread's
  // writes are visible to whoever then takes its lock as owner_died.
  for (TagChunk* c = &g_live_tags; c != nullptr; c = c->next.load(std::memory_order_acquire))
    for (auto& s : c->slot)
      if (s.load(std::memory_order_acquire) == tag) return true;
  return false;
}

// A thread's tag is released when the thread ends (thread_exit.hpp; not a thread_local
// destructor, which mingw-w64 may run after freeing its storage): a lock the thread still holds
// is then abandoned, and a waiter takes it as owner_died. The slot comes as the argument.
void release_tag(void* slot) noexcept {
  static_cast<std::atomic<std::uint32_t>*>(slot)->store(0, std::memory_order_release);
}

// First use in a thread: claims a tag and a slot for it, and arranges the release.
void register_tag() {
  std::uint32_t tag;
  do tag = g_next_tag.fetch_add(1, std::memory_order_relaxed) & kTagMask;  // after 2^24 threads: skip live ones
  while (tag == 0 || tag_live(tag));
  for (TagChunk* c = &g_live_tags;;) {
    for (auto& s : c->slot) {
      std::uint32_t empty = 0;
      if (s.compare_exchange_strong(empty, tag, std::memory_order_acq_rel)) {
        try {
          at_thread_exit(release_tag, &s);
        } catch (...) {
          release_tag(&s);
          throw;
        }
        t_tag = tag;
        return;
      }
    }
    TagChunk* n = c->next.load(std::memory_order_acquire);
    if (n == nullptr) {
      auto* fresh = new TagChunk{};
      if (c->next.compare_exchange_strong(n, fresh, std::memory_order_acq_rel)) n = fresh;
      else delete fresh;  // another thread appended first; n is its chunk
    }
    c = n;
  }
}

std::uint32_t start_hash(std::uint64_t start_time) noexcept {
  if (start_time == 0) return 0;  // unknown
  std::uint64_t x = start_time ^ (start_time >> 32);
  x ^= x >> 16;
  x ^= x >> 8;
  return (x & 0xff) != 0 ? static_cast<std::uint32_t>(x & 0xff) : 1;
}

Word process_bits(const ProcessIdentity& p) noexcept {
  return Word{static_cast<std::uint32_t>(p.pid)} << 32 | Word{start_hash(p.start_time)} << 24;
}

// This process's owner bits, recomputed when the pid changes: a forked child must not lock under
// its parent's identity. current_pid() is cheap; the full identity (uid, start time) is not.
Word this_process_bits() noexcept {
  static std::atomic<Word> cached{0};
  const auto pid = static_cast<std::uint32_t>(current_pid());
  Word bits = cached.load(std::memory_order_relaxed);
  if (bits == 0 || static_cast<std::uint32_t>(bits >> 32) != pid) {
    bits = process_bits(current_process());
    cached.store(bits, std::memory_order_relaxed);
  }
  return bits;
}

// This thread's owner word.
Word my_word() {
  if (t_tag == 0) register_tag();
  return this_process_bits() | t_tag;
}

bool holder_alive(Word w, Word mine) noexcept {
  const auto pid = static_cast<std::int32_t>(w >> 32);
  const auto hash = static_cast<std::uint32_t>(w >> 24) & 0xff;
  if ((w >> 24) == (mine >> 24)) return tag_live(static_cast<std::uint32_t>(w) & kTagMask);  // our process
  if (pid == static_cast<std::int32_t>(mine >> 32) && hash != 0) return false;  // an earlier owner of our pid
  if (pid <= 0 || !process_alive(pid, 0)) return false;
  return hash == 0 || start_hash(process_start_time(pid)) == hash;
}

[[noreturn]] void throw_not_recoverable() {
  throw Error(Errc::not_recoverable, "native mutex: the lock is not recoverable");
}

LockOutcome took(MutexState& s, LockOutcome outcome) {
  s.depth.store(1, std::memory_order_relaxed);
  s.inconsistent.store(outcome == LockOutcome::owner_died ? 1 : 0, std::memory_order_relaxed);
  return outcome;
}

}  // namespace

void native_mutex_init(NativeMutex& m, MutexKind kind) {
  MutexState* s = ::new (m.storage) MutexState{};
  s->kind.store(static_cast<std::uint32_t>(kind), std::memory_order_relaxed);
}

void native_mutex_destroy(NativeMutex&) noexcept {}

LockOutcome native_mutex_lock(NativeMutex& m, DeadlineNs deadline) {
  MutexState& s = state(m);
  const Word me = my_word();
  Word w = kFree;
  // seq_cst throughout the lock word, wake word and waiter count: the unlocker's "CAS to free,
  // then read waiters" and our "count ourselves, read wake, fail the CAS" are a Dekker pair;
  // either it sees us and bumps `wake`, or our CAS sees the lock free. Acquire is implied.
  if (s.owner.compare_exchange_strong(w, me, std::memory_order_seq_cst)) return took(s, LockOutcome::acquired);
  if (w == me && s.kind.load(std::memory_order_relaxed) == static_cast<std::uint32_t>(MutexKind::recursive)) {
    s.depth.fetch_add(1, std::memory_order_relaxed);
    return LockOutcome::acquired;
  }
  s.waiters.fetch_add(1, std::memory_order_seq_cst);
  struct Leave {
    MutexState& s;
    ~Leave() { s.waiters.fetch_sub(1, std::memory_order_seq_cst); }
  } leave{s};
  // The holder is looked at after a short first sleep (most contention ends sooner, and a look
  // at another process costs system calls), then every kLivenessPeriodNs, and always before
  // giving up: a try-lock, like pthread's, reports a dead holder at once.
  DeadlineNs next_check = deadline == 0 ? 0 : steady_now_ns() + kFirstCheckNs;
  for (;;) {
    const std::uint32_t seen = s.wake.load(std::memory_order_seq_cst);
    w = kFree;
    if (s.owner.compare_exchange_strong(w, me, std::memory_order_seq_cst)) return took(s, LockOutcome::acquired);
    if (w == kNotRecoverable) throw_not_recoverable();
    const DeadlineNs now = steady_now_ns();
    const bool last_try = deadline == 0 || now >= deadline;
    if (now >= next_check || last_try) {
      // Exactly one waiter's CAS replaces the dead holder's word; the others see it changed.
      if (!holder_alive(w, me)) {
        if (s.owner.compare_exchange_strong(w, me, std::memory_order_seq_cst)) return took(s, LockOutcome::owner_died);
        continue;
      }
      next_check = now + kLivenessPeriodNs;
    }
    if (last_try) return LockOutcome::timeout;
    wait_on_word(s.wake, seen, std::min(deadline, next_check));
  }
}

void native_mutex_unlock(NativeMutex& m) noexcept {
  MutexState& s = state(m);
  Word w = s.owner.load(std::memory_order_relaxed);
  // Not ours (never, or taken from us because our thread had ended): like pthread's EPERM, no-op.
  if (w == kFree || w == kNotRecoverable || (static_cast<std::uint32_t>(w) & kTagMask) != t_tag ||
      (w >> 24) != (this_process_bits() >> 24))
    return;
  if (s.depth.load(std::memory_order_relaxed) > 1) {
    s.depth.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  // Unlocked while still inconsistent: not recoverable from then on (pthread: ENOTRECOVERABLE).
  // depth and inconsistent are left as they are: the next holder's took() sets both.
  const Word next = s.inconsistent.load(std::memory_order_relaxed) != 0 ? kNotRecoverable : kFree;
  // CAS, not a store: between our load and here a waiter may have judged us dead and taken it.
  // seq_cst (release for the critical section) before reading waiters: see native_mutex_lock.
  if (!s.owner.compare_exchange_strong(w, next, std::memory_order_seq_cst)) return;
  if (s.waiters.load(std::memory_order_seq_cst) != 0) {
    s.wake.fetch_add(1, std::memory_order_seq_cst);
    wake_all(s.wake);
  }
}

void native_mutex_make_consistent(NativeMutex& m) noexcept {
  state(m).inconsistent.store(0, std::memory_order_relaxed);  // the holder's own field
}

void native_condition_init(NativeCondition& c) { ::new (c.storage) CondState{}; }

void native_condition_destroy(NativeCondition&) noexcept {}

LockOutcome native_condition_wait(NativeCondition& c, NativeMutex& m, DeadlineNs deadline) {
  CondState& s = state(c);
  // Read under the mutex, before unlocking: a notify after our caller's predicate check bumps
  // `seq` past `seen`, so wait_on_word returns at once. seq_cst pairs with notify's "bump, then
  // read waiters": either it sees our count and wakes, or we read its bump.
  s.waiters.fetch_add(1, std::memory_order_seq_cst);
  const std::uint32_t seen = s.seq.load(std::memory_order_seq_cst);
  native_mutex_unlock(m);
  wait_on_word(s.seq, seen, deadline);
  const bool timed_out = s.seq.load(std::memory_order_acquire) == seen && steady_now_ns() >= deadline;
  s.waiters.fetch_sub(1, std::memory_order_relaxed);
  // Like pthread_cond_timedwait: the mutex is held again on return, whatever the deadline; a
  // dead holder found on the way is reported ahead of a timeout.
  if (native_mutex_lock(m, kNoDeadline) == LockOutcome::owner_died) return LockOutcome::owner_died;
  return timed_out ? LockOutcome::timeout : LockOutcome::acquired;
}

void native_condition_notify_one(NativeCondition& c) noexcept { native_condition_notify_all(c); }

void native_condition_notify_all(NativeCondition& c) noexcept {
  CondState& s = state(c);
  s.seq.fetch_add(1, std::memory_order_seq_cst);
  if (s.waiters.load(std::memory_order_seq_cst) != 0) wake_all(s.seq);
}

bool native_mutex_is_robust() noexcept { return true; }
std::uint32_t native_sync_kind() noexcept { return 2; }  // 2: portable atomics + polling

}  // namespace shmkit::detail
