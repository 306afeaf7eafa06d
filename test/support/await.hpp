// Waits for a condition another thread or process makes true (a value it stores in shared
// memory): the store is the event; the timeout is only a failure guard, never the sync itself.
#pragma once

#include <chrono>
#include <thread>

namespace shmkit::test {

template <class Pred>
bool await(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace shmkit::test
