// Heartbeats between the ranks of a multi-process run, so that a rank that died or hangs is named. Every
// rank's watchdog thread writes its heartbeat (a counter, and how many collectives the rank entered) into
// the store every 100 ms and reads the others'. A rank whose heartbeat stands still for the rank timeout
// stopped (a killed process writes nothing; a stopped or deadlocked one neither): the watchdog publishes
// that as the run's abort message, and every rank's next wait throws it. A collective that fails at once
// (a peer's connection closed) asks explain(), which watches the heartbeats for a moment to tell which
// rank went silent.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parallel/gloo_store.h"

namespace scmoe::engine {

class Watchdog {
 public:
  Watchdog(const StoreAddress& address, int rank, int world, std::chrono::milliseconds stall_timeout);
  // Stops the thread; a thread blocked on a store that stopped answering is left to end on its own.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Why the run must stop, once known: a silent rank, the abort message another rank published, rank 0's
  // store gone.
  std::optional<std::string> failure() const;
  // After a failed collective: watches for `window` (> kSilentAfter) for a failure (above), a silent
  // rank (below) or, when all beat, a rank that entered fewer collectives than this one; its
  // explanation, or nullopt.
  std::optional<std::string> explain(std::chrono::milliseconds window);
  // The other ranks whose heartbeat has not moved for kSilentAfter and that have not left: dead or hung.
  std::vector<int> silent_ranks() const;
  // Counts a collective this rank entered (the heartbeat carries the count).
  void entered_collective();

  static constexpr std::chrono::milliseconds kBeatInterval{100};
  // A live rank's heartbeat is seen to move every one or two intervals; five leave room for a loaded machine.
  static constexpr std::chrono::milliseconds kSilentAfter = 5 * kBeatInterval;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace scmoe::engine
