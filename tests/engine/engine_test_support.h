// Shared helpers of the engine tests: a tiny config and one forward pass through the real executor.
#pragma once

#include <ATen/ATen.h>

#include "model/weights.h"
#include "parallel/abort_signal.h"
#include "schedule/forward_executor.h"
#include "schedule/unit_ops.h"
#include "scmoe/engine/config.h"
#include "scmoe/profiler/cost_model.h"

namespace scmoe::engine::testing {

inline EngineConfig tiny_config() {
  EngineConfig c;
  c.hidden = 16;
  c.heads = 4;
  c.kv_heads = 2;  // grouped-query attention
  c.ffn = 32;
  c.pairs = 1;
  c.seq_len = 8;
  c.tokens_per_rank = 16;
  c.num_experts = 4;
  c.ep_size = 2;
  c.capacity_factor = 2.0;
  c.link = LinkModel{};
  c.warmup = 1;
  c.iterations = 2;
  return c;
}

inline prof::cost::UnitShape shape_of(const EngineConfig& c, Arch arch) {
  return {to_cost_arch(arch), c.shortcut_position, !c.moe_every_block, c.pipeline_chunks};
}

// One forward pass of every rank with the given plan.
inline ForwardResult forward(const EngineConfig& c, const ModelWeights& weights, Arch arch, int slot, bool overlap,
                             int iteration = 0) {
  AbortSignal abort;
  ForwardExecutor executor(c, weights, abort);
  return executor.run(arch, prof::cost::build_plan(shape_of(c, arch), slot, overlap), iteration,
                      make_rank_inputs(c, iteration));
}

}  // namespace scmoe::engine::testing
