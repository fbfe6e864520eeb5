// The operators of one unit (Block-MLP l + Block-MoE l+1) for one rank, one function per cost-model op, so
// that any plan from prof::cost::build_plan can be executed against them. UnitState carries the tensors
// between ops; which lane runs an op is the executor's business.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <vector>

#include "model/router.h"
#include "model/token_dispatcher.h"
#include "model/weights.h"
#include "parallel/communicator.h"
#include "scmoe/engine/config.h"
#include "scmoe/profiler/cost_model.h"

namespace scmoe::engine {

struct UnitState {
  const at::Tensor* input = nullptr;  // H_{l-1}: the iteration input or the previous unit's output
  at::Tensor hmh_l, hmlp_l, hmh_l1;   // notation of scmoe-method.md §2
  at::Tensor moe_in;                  // LN(Hmh_{l+1}): input of the shared expert (and of baseline experts)
  at::Tensor shortcut;                // S, before its LayerNorm (shortcut archs)
  at::Tensor expert_in;               // what the gate and the routed experts read
  at::Tensor shared_out;
  Routing routing;
  std::vector<DispatchPacket> packets;
  std::vector<std::vector<std::int64_t>> received_counts, received_splits;
  std::vector<at::Tensor> received, expert_out, returned;
  at::Tensor routed, output;
};

struct UnitContext {
  const EngineConfig* config = nullptr;
  Arch arch = Arch::Top2;
  const UnitWeights* weights = nullptr;
  Communicator* comm = nullptr;
  std::optional<at::Generator> gate_noise;  // seeded per (iteration, rank, unit)
};

prof::cost::Arch to_cost_arch(Arch arch);
int top_k(Arch arch);
// What the routed ops of a run with `config` are made of, for prof::cost::times_for_arch.
prof::cost::RoutedWork routed_work(const EngineConfig& config);

// Runs `op` (chunk `chunk` of the pipelined ops) of one unit.
void run_unit_op(prof::cost::Op op, int chunk, const UnitContext& ctx, UnitState& s);

}  // namespace scmoe::engine
