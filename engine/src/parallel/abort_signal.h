// One flag for a whole run: set by cancel() or by the first error on any lane, read by every blocking
// wait (events, barriers) so that nothing waits forever once the run is over.
#pragma once

#include <atomic>
#include <chrono>
#include <stdexcept>

namespace scmoe::engine {

// Thrown out of a wait when the run was cancelled or failed elsewhere.
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("run cancelled") {}
};

class AbortSignal {
 public:
  void trigger() { flag_.store(true, std::memory_order_release); }
  bool triggered() const { return flag_.load(std::memory_order_acquire); }
  void throw_if_triggered() const {
    if (triggered()) throw Cancelled();
  }
  // Blocking waits re-check the flag at this interval: it bounds how long a cancel takes to be noticed
  // by a waiter nobody notifies.
  static constexpr std::chrono::milliseconds kPollInterval{5};

 private:
  std::atomic<bool> flag_{false};
};

}  // namespace scmoe::engine
