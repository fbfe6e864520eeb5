// The other ranks of a multi-process run that a Runner starts itself: world_size > 1 without a rendezvous
// makes the Runner's process rank 0 and starts ranks 1..world_size-1 on this machine as `scmoe run`
// processes with the same config (a JSON file), so a window or a single `scmoe run --world-size N` drives a
// multi-process run whose every iteration reaches it through rank 0's callbacks.
#pragma once

#include <memory>
#include <string>

#include "scmoe/engine/config.h"
#include "scmoe/engine/launch.h"
#include "scmoe/engine/runner.h"

namespace scmoe::engine {

class RunnerRanks {
 public:
  RunnerRanks() = default;
  ~RunnerRanks();  // removes the config file; the ranks were reaped by finish() (else killed by LocalRanks)
  RunnerRanks(const RunnerRanks&) = delete;
  RunnerRanks& operator=(const RunnerRanks&) = delete;

  // Nothing to do unless config.world_size > 1 and config.rendezvous is empty; then picks a free loopback
  // port (written into config.rendezvous) and starts the other ranks. Returns "" or the error. The
  // executable is $SCMOE_CLI, else `scmoe` beside this one.
  std::string start(EngineConfig& config);
  // After rank 0's run: waits for the others (they end with it, or with its abort message; 5 s after it
  // they are killed) and reports a rank that failed in summary.error when rank 0 has no error.
  void finish(RunSummary& summary);

 private:
  std::unique_ptr<launch::LocalRanks> ranks_;
  std::string config_file_;
};

}  // namespace scmoe::engine
