// Runs one forward pass of all expert-parallel ranks of this process: every unit's plan
// (prof::cost::build_plan) is enqueued on the ranks' compute and comm lanes with events for the cross-lane
// dependencies, each operator is timed into the iteration's trace (rank, lane, layer, op kind, iteration),
// and the first error of any lane aborts the pass.
//
// device = cuda: each rank runs on its GPU (gpu_runtime.h) with NCCL communicators from the CUDA module,
// its lanes are CUDA streams (the comm lane's of high priority), ops launch asynchronously inside NVTX
// ranges (domain "scmoe", named "scmoe:<op>") and are timed by CUDA events (DeviceOpTimer), and CUPTI
// captures every run into the iteration's trace unless config.cupti_capture is off.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/weights.h"
#include "parallel/abort_signal.h"
#include "parallel/communicator.h"
#include "parallel/cuda_backend.h"
#include "parallel/gloo_process_group.h"
#include "parallel/lane.h"
#include "parallel/shared_memory_communicator.h"
#include "schedule/device_op_timer.h"
#include "scmoe/engine/runner.h"
#include "scmoe/profiler/capture/cupti_collector.h"
#include "scmoe/profiler/capture/host_collector.h"
#include "scmoe/profiler/cost_model.h"

namespace scmoe::engine {

struct ForwardResult {
  std::vector<at::Tensor> outputs;                // per rank of this process, [tokens_per_rank, hidden]
  // Enqueue of the first op to the end of the last, all ranks; on a GPU the end is the device time of the
  // last op (the host's wait for it and the reading of the timing events are not part of the iteration).
  double wall_ms = 0.0;
  prof::Trace trace;
  std::int64_t tokens_dropped = 0;                // all ranks, all MoE layers
  double aux_loss = 0.0;                          // mean over ranks and MoE layers
  std::vector<ShortcutSimilarity> similarity;     // shortcut archs: one per MoE layer, mean over ranks
};

// The inputs of one iteration: ep_size * tokens_per_rank tokens drawn from (seed, iteration), rank r
// taking the r-th slice, so a run with fewer ranks and more tokens per rank sees the same tokens. Drawn on
// the CPU for every device; on device = cuda the slices of this process's ranks are then moved to their
// GPUs in config.dtype (the others stay on the CPU, unused).
std::vector<at::Tensor> make_rank_inputs(const EngineConfig& config, int iteration);

class ForwardExecutor {
 public:
  ForwardExecutor(const EngineConfig& config, const ModelWeights& weights, AbortSignal& abort);
  ~ForwardExecutor();
  ForwardExecutor(const ForwardExecutor&) = delete;
  ForwardExecutor& operator=(const ForwardExecutor&) = delete;

  // Throws the first exception raised on any lane, or Cancelled when the run was cancelled.
  // `inputs`: make_rank_inputs(config, iteration), one per rank of the group.
  ForwardResult run(Arch arch, const prof::cost::Plan& plan, int iteration, const std::vector<at::Tensor>& inputs);

 private:
  void on_lane_error(std::exception_ptr error);
  void set_up_gpu();
  void start_cupti();
  void add_gpu_metadata(prof::Trace& trace);  // device, dtype, CUPTI status; appends the CUPTI capture

  EngineConfig config_;
  const ModelWeights& weights_;
  AbortSignal& abort_;
  std::vector<int> ranks_;  // the ranks of this process; the per-rank members below are indexed like it
  SharedMemoryGroup group_;
  std::shared_ptr<CudaBackend> gpu_;  // device = cuda only
  std::unique_ptr<GlooProcessGroup> process_group_;  // CPU with world_size > 1: one rank per process
  std::vector<std::unique_ptr<Communicator>> comms_;
  std::vector<std::unique_ptr<Lane>> compute_lanes_, comm_lanes_;
  std::vector<std::array<std::unique_ptr<DeviceOpTimer>, 2>> timers_;  // GPU: [rank][lane]
  std::mutex error_mutex_;
  std::exception_ptr error_;
  prof::capture::HostCollector collector_;
  std::vector<std::array<prof::capture::HostTrackId, 2>> tracks_;  // [rank][lane]
  std::array<prof::capture::HostNameId, prof::cost::kOpCount> op_names_{};
  std::unique_ptr<prof::capture::CuptiCollector> cupti_;
  std::string cupti_status_;  // GPU: "on", "off" (config), or why CUPTI could not start
};

}  // namespace scmoe::engine
