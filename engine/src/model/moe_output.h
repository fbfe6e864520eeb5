// The Block-MoE output: the residual stream plus the mix of the shared expert and the routed experts
// (scmoe-method.md §3): Direct Add, CG-1 (sigmoid(w.x) * SE + routed) or CG-2 (softmax(W x) weights both),
// with the optional post-sum LayerNorm (Megatron-Core's variant) before the residual add.
#pragma once

#include <ATen/ATen.h>

#include <optional>

#include "model/weights.h"
#include "scmoe/engine/config.h"

namespace scmoe::engine {

// shared = std::nullopt for archs without a shared expert (then the mix is the routed output alone).
// se_input = x, the input of the shared expert, which the combine gates read.
at::Tensor moe_block_output(const BlockMoeWeights& w, CombineMode mode, bool post_sum_norm, const at::Tensor& residual,
                            const at::Tensor& se_input, const std::optional<at::Tensor>& shared,
                            const at::Tensor& routed);

}  // namespace scmoe::engine
