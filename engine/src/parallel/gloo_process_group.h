// This process's place in a multi-process CPU run (world_size > 1: one rank per process, design.md
// "Processes and hosts"). Joining it meets the other ranks at the rendezvous store (gloo_rendezvous.h:
// checks and clock offsets), starts the heartbeats (gloo_watchdog.h) and connects c10d's
// ProcessGroupGloo, over which this rank's Communicator runs the split exchange and the All-to-All(v).
// After each forward pass every rank's results are gathered and merged the same way on every rank (one
// multi-rank trace on rank 0's clock, the slowest rank's time), so the cost model and the adaptive
// schedule decide alike everywhere and rank 0 reports the whole group.
//
// Faults: every wait for the other ranks also watches the heartbeats and the run's abort message, so a
// rank that died or hangs ends every other rank within the rank timeout (SCMOE_RANK_TIMEOUT_S, 30 s by
// default) with one error naming it. A rank that fails publishes its error for the others to report.
#pragma once

#include <exception>
#include <memory>
#include <string>

#include "parallel/abort_signal.h"
#include "parallel/communicator.h"
#include "scmoe/engine/config.h"

namespace scmoe::engine {

struct ForwardResult;

class GlooProcessGroup {
 public:
  // Rank config.rank of config.world_size at config.rendezvous. Throws the error that stops the start
  // (RankFailure, std::runtime_error) or Cancelled.
  GlooProcessGroup(const EngineConfig& config, const AbortSignal& abort);
  // A run that ended well leaves in step with the others (rank 0 keeps the store until every rank left).
  // After a failure or a cancel it tells the others why, and abandons the transport where a collective is
  // still pending (c10d's Gloo cannot cancel one; its threads end with the process).
  ~GlooProcessGroup();
  GlooProcessGroup(const GlooProcessGroup&) = delete;
  GlooProcessGroup& operator=(const GlooProcessGroup&) = delete;

  std::unique_ptr<Communicator> communicator();
  // Replaces `result`'s trace, time and statistics with the whole group's (identical on every rank).
  void merge_iteration(ForwardResult& result);
  // An error of this rank (a lane's): published so that the other ranks report it, naming this rank.
  void report_failure(std::exception_ptr error);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace scmoe::engine
