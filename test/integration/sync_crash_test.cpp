// Owner death never bricks a lock: a forked holder is killed with SIGKILL at a random point of
// its update, 200 rounds per primitive per backend, while other forked processes that use only
// std::lock_guard / std::unique_lock / std::shared_lock (as a user who never heard of RobustLock
// would) do their work. Each of them must finish, count exactly, and see the poison flag.
// One segment per backend for all rounds; children are forked (cheap) and leave with _exit.
#define BOOST_TEST_MODULE sync_crash
#include <signal.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <shared_mutex>

#include "backends.hpp"
#include "printing.hpp"
#include "shmkit/condition.hpp"
#include "shmkit/mutex.hpp"
#include "shmkit/recursive_mutex.hpp"
#include "shmkit/shared_mutex.hpp"
#include "temp_segment.hpp"

using namespace shmkit;
using namespace shmkit::test;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace crash {

constexpr int kRounds = 200;
constexpr std::uint64_t kWorkerIters = 50;

// Exit codes of the workers.
enum : int { kOk = 0, kNoPoison = 2, kTimedOut = 3, kWrongData = 4 };

struct Arena {
  static constexpr bool shmkit_shareable = true;  // locks and plain words only
  Mutex mutex;
  RecursiveMutex recursive;
  Condition cond;
  SharedMutex rw;
  std::uint64_t a = 0;  // invariant a == b, broken by the victim half-way through its update
  std::uint64_t b = 0;
  std::uint64_t work = 0;  // the workers' increments, under the lock
  bool go = false;         // the condition's predicate
};

// A forked child and a pipe from it: the child writes a byte to say "I hold it / I started",
// and its end closes when it dies, so the parent blocks on real events, never on a spin.
struct Child {
  pid_t pid = -1;
  int fd = -1;  // read end (the parent's)
};

// Signals the parent from inside a child.
thread_local int t_signal_fd = -1;
void tell_parent() {
  const char byte = 1;
  if (::write(t_signal_fd, &byte, 1) != 1) ::_exit(8);
}

template <class F>
Child fork_child(F body) {
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    t_signal_fd = fds[1];
    int rc = 1;
    try {
      rc = body();
    } catch (...) {
      rc = 9;
    }
    ::_exit(rc);
  }
  ::close(fds[1]);  // only the child holds the write end: its death is EOF here
  return Child{pid, fds[0]};
}

// Reads one byte (true) or EOF/timeout (false).
bool read_event(const Child& c) {
  pollfd p{c.fd, POLLIN, 0};
  if (::poll(&p, 1, 20'000) != 1) return false;
  char byte = 0;
  return ::read(c.fd, &byte, 1) == 1;
}

void await_event(const Child& c) { BOOST_REQUIRE_MESSAGE(read_event(c), "child " << c.pid << " did not report in"); }

// The child's exit status (-signal if it was killed); fails the test if it does not end in time.
int reap(Child& c) {
  char byte = 0;
  bool ended = false;
  for (;;) {
    pollfd p{c.fd, POLLIN, 0};
    if (::poll(&p, 1, 20'000) != 1) break;
    const ssize_t n = ::read(c.fd, &byte, 1);
    if (n == 0) {
      ended = true;
      break;
    }
    if (n < 0) break;
  }
  ::close(c.fd);
  int status = 0;
  if (!ended) {
    ::kill(c.pid, SIGKILL);
    ::waitpid(c.pid, &status, 0);
    BOOST_FAIL("child " << c.pid << " did not finish: a lock stayed bricked");
  }
  BOOST_REQUIRE(::waitpid(c.pid, &status, 0) == c.pid);
  return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

void kill_victim(Child& victim) {
  ::kill(victim.pid, SIGKILL);
  BOOST_REQUIRE_EQUAL(reap(victim), -SIGKILL);
}

// Worker: lock_guard only; records whether it ever saw the poison.
template <class M>
int lock_guard_worker(Arena& arena, M& m) {
  if (t_signal_fd >= 0) tell_parent();
  bool saw_poison = false;
  for (std::uint64_t i = 0; i < kWorkerIters; ++i) {
    std::lock_guard<M> guard(m);
    saw_poison = saw_poison || m.poisoned();
    ++arena.work;
  }
  return saw_poison ? kOk : kNoPoison;
}

// The victim: some ordinary updates, then one it does not finish: killed holding the lock.
template <class M>
int mutex_victim(Arena& arena, M& m, unsigned seed) {
  std::minstd_rand rng(seed);
  const auto before = static_cast<unsigned>(rng() % 20);
  for (unsigned i = 0; i < before; ++i) {
    std::lock_guard<M> g(m);
    ++arena.a;
    ++arena.b;
  }
  m.lock();
  if constexpr (std::is_same_v<M, RecursiveMutex>) {
    if (rng() % 2 == 0) m.lock();  // dies holding it twice
  }
  ++arena.a;
  if (rng() % 2 == 0) ++arena.b;  // the update may be left half-done or whole: users cannot know
  tell_parent();
  ::pause();
  return 1;
}

template <class M>
void mutex_rounds(Backend backend) {
  TempSegment t(backend, 1 << 20);
  Arena& arena = t->construct<Arena>("arena");
  M& m = [&]() -> M& {
    if constexpr (std::is_same_v<M, Mutex>) return arena.mutex;
    else return arena.recursive;
  }();
  const unsigned seed = std::random_device{}();
  BOOST_TEST_MESSAGE("seed " << seed);
  std::minstd_rand rng(seed);
  for (int round = 0; round < kRounds; ++round) {
    arena.work = 0;
    const unsigned victim_seed = static_cast<unsigned>(rng());
    Child victim = fork_child([&] { return mutex_victim(arena, m, victim_seed); });
    await_event(victim);
    // A worker starts while the victim holds the lock, so it locks after the death; the parent
    // is the second process at work.
    Child worker = fork_child([&] { return lock_guard_worker(arena, m); });
    await_event(worker);
    kill_victim(victim);
    BOOST_REQUIRE_EQUAL(lock_guard_worker(arena, m), static_cast<int>(kOk));
    BOOST_REQUIRE_EQUAL(reap(worker), static_cast<int>(kOk));
    std::lock_guard<M> g(m);
    BOOST_REQUIRE(m.poisoned());  // still up until someone clears it
    BOOST_REQUIRE_EQUAL(arena.work, 2 * kWorkerIters);
    arena.b = arena.a;  // repair, then clear
    m.clear_poison();
  }
  std::lock_guard<M> g(m);
  BOOST_TEST(!m.poisoned());
  BOOST_TEST(arena.a >= static_cast<std::uint64_t>(kRounds));
}

}  // namespace crash
using namespace crash;

BOOST_DATA_TEST_CASE(mutex_killed_holder, bdata::make(test_backends()), backend) { mutex_rounds<Mutex>(backend); }

BOOST_DATA_TEST_CASE(recursive_mutex_killed_holder, bdata::make(test_backends()), backend) {
  mutex_rounds<RecursiveMutex>(backend);
}

// Workers wait on the condition with std::unique_lock; the victim sets the predicate, notifies
// and dies holding the mutex, so the waits re-acquire a dead holder's mutex.
BOOST_DATA_TEST_CASE(condition_waiters_reacquire_from_killed_holder, bdata::make(test_backends()), backend) {
  TempSegment t(backend, 1 << 20);
  Arena& arena = t->construct<Arena>("arena");
  for (int round = 0; round < kRounds; ++round) {
    arena.work = 0;
    arena.go = false;
    const auto waiter = [&] {
      std::unique_lock<Mutex> lock(arena.mutex);
      tell_parent();  // under the lock: the victim's lock() waits until wait() releases it
      if (!arena.cond.wait_for(lock, 20s, [&] { return arena.go; })) return static_cast<int>(kTimedOut);
      const bool saw_poison = arena.mutex.poisoned();
      ++arena.work;
      return saw_poison ? static_cast<int>(kOk) : static_cast<int>(kNoPoison);
    };
    Child w1 = fork_child(waiter);
    Child w2 = fork_child(waiter);
    await_event(w1);
    await_event(w2);
    Child victim = fork_child([&] {
      arena.mutex.lock();  // both waiters are inside wait(): they counted themselves under the lock
      ++arena.a;
      arena.go = true;
      arena.cond.notify_all();
      tell_parent();
      ::pause();
      return 1;
    });
    await_event(victim);
    kill_victim(victim);
    BOOST_REQUIRE_EQUAL(reap(w1), static_cast<int>(kOk));
    BOOST_REQUIRE_EQUAL(reap(w2), static_cast<int>(kOk));
    std::lock_guard<Mutex> g(arena.mutex);
    BOOST_REQUIRE(arena.mutex.poisoned());
    BOOST_REQUIRE_EQUAL(arena.work, 2u);
    arena.b = arena.a;
    arena.mutex.clear_poison();
  }
}

// Even rounds: a writer is killed holding exclusive ownership; a writer process
// (std::unique_lock) and a reader (std::shared_lock, the parent) must get in and see the poison.
// Odd rounds: a reader is killed holding shared ownership; two writers must get in (its share
// is reclaimed) and the poison stays down, since a reader changed nothing.
BOOST_DATA_TEST_CASE(shared_mutex_killed_reader_or_writer, bdata::make(test_backends()), backend) {
  TempSegment t(backend, 1 << 20);
  Arena& arena = t->construct<Arena>("arena");
  const unsigned seed = std::random_device{}();
  BOOST_TEST_MESSAGE("seed " << seed);
  std::minstd_rand rng(seed);
  for (int round = 0; round < kRounds; ++round) {
    const bool writer_dies = round % 2 == 0;
    arena.work = 0;
    const auto before = static_cast<unsigned>(rng() % 20);
    Child victim = fork_child([&] {
      for (unsigned i = 0; i < before; ++i) {
        std::unique_lock<SharedMutex> w(arena.rw);
        ++arena.a;
        ++arena.b;
      }
      if (writer_dies) {
        arena.rw.lock();
        ++arena.a;
      } else {
        arena.rw.lock_shared();
      }
      tell_parent();
      ::pause();
      return 1;
    });
    await_event(victim);
    const auto writer = [&] {
      if (t_signal_fd >= 0) tell_parent();
      bool saw_poison = false;
      for (std::uint64_t i = 0; i < kWorkerIters; ++i) {
        std::unique_lock<SharedMutex> w(arena.rw);
        saw_poison = saw_poison || arena.rw.poisoned();
        ++arena.work;
      }
      return saw_poison == writer_dies ? static_cast<int>(kOk) : static_cast<int>(kNoPoison);
    };
    const auto reader = [&] {
      if (t_signal_fd >= 0) tell_parent();
      bool saw_poison = false;
      std::uint64_t last = 0;
      for (std::uint64_t i = 0; i < kWorkerIters; ++i) {
        std::shared_lock<SharedMutex> r(arena.rw);
        saw_poison = saw_poison || arena.rw.poisoned();
        if (arena.work < last) return static_cast<int>(kWrongData);
        last = arena.work;
      }
      return saw_poison ? static_cast<int>(kOk) : static_cast<int>(kNoPoison);
    };
    Child worker = fork_child(writer);
    await_event(worker);
    kill_victim(victim);
    // The parent is the second process at work: a reader when a writer died, else a writer.
    BOOST_REQUIRE_EQUAL(writer_dies ? reader() : writer(), static_cast<int>(kOk));
    BOOST_REQUIRE_EQUAL(reap(worker), static_cast<int>(kOk));
    std::unique_lock<SharedMutex> w(arena.rw, 5s);
    BOOST_REQUIRE(w.owns_lock());
    BOOST_REQUIRE_EQUAL(arena.rw.poisoned(), writer_dies);
    BOOST_REQUIRE_EQUAL(arena.work, (writer_dies ? 1 : 2) * kWorkerIters);
    arena.b = arena.a;
    arena.rw.clear_poison();
  }
}
