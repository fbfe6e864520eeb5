// Runs one forward pass of all expert-parallel ranks: every unit's plan (prof::cost::build_plan) is
// enqueued on the ranks' compute and comm lanes with events for the cross-lane dependencies, each
// operator is timed into the iteration's trace (rank, lane, layer, op kind, iteration), and the first
// error of any lane aborts the pass.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "model/weights.h"
#include "parallel/abort_signal.h"
#include "parallel/communicator.h"
#include "parallel/lane.h"
#include "parallel/shared_memory_communicator.h"
#include "scmoe/engine/runner.h"
#include "scmoe/profiler/capture/host_collector.h"
#include "scmoe/profiler/cost_model.h"

namespace scmoe::engine {

struct ForwardResult {
  std::vector<at::Tensor> outputs;                // per rank, [tokens_per_rank, hidden]
  double wall_ms = 0.0;                           // enqueue of the first op to the end of the last, all ranks
  prof::Trace trace;
  std::int64_t tokens_dropped = 0;                // all ranks, all MoE layers
  double aux_loss = 0.0;                          // mean over ranks and MoE layers
  std::vector<ShortcutSimilarity> similarity;     // shortcut archs: one per MoE layer, mean over ranks
};

// The inputs of one iteration: ep_size * tokens_per_rank tokens drawn from (seed, iteration), rank r
// taking the r-th slice, so a run with fewer ranks and more tokens per rank sees the same tokens.
std::vector<at::Tensor> make_rank_inputs(const EngineConfig& config, int iteration);

class ForwardExecutor {
 public:
  ForwardExecutor(const EngineConfig& config, const ModelWeights& weights, AbortSignal& abort);
  ~ForwardExecutor();
  ForwardExecutor(const ForwardExecutor&) = delete;
  ForwardExecutor& operator=(const ForwardExecutor&) = delete;

  // Throws the first exception raised on any lane, or Cancelled when the run was cancelled.
  ForwardResult run(Arch arch, const prof::cost::Plan& plan, int iteration, const std::vector<at::Tensor>& inputs);

 private:
  void on_lane_error(std::exception_ptr error);

  EngineConfig config_;
  const ModelWeights& weights_;
  AbortSignal& abort_;
  SharedMemoryGroup group_;
  std::vector<std::unique_ptr<Communicator>> comms_;
  std::vector<std::unique_ptr<Lane>> compute_lanes_, comm_lanes_;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  prof::capture::HostCollector collector_;
  std::vector<std::array<prof::capture::HostTrackId, 2>> tracks_;  // [rank][lane]
  std::array<prof::capture::HostNameId, prof::cost::kOpCount> op_names_{};
};

}  // namespace scmoe::engine
