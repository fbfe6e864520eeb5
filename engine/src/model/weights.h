// The parameters of the model, created once per run from the seed and shared read-only by every rank
// (each rank uses the backbone and only its own experts). Plain structs of ATen tensors.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "scmoe/engine/config.h"

namespace scmoe::engine {

struct LayerNormWeights {
  at::Tensor weight;  // [hidden]
  at::Tensor bias;    // [hidden]
  at::Tensor operator()(const at::Tensor& x) const;
};

struct AttentionWeights {
  at::Tensor wq;  // [hidden, hidden]
  at::Tensor wk;  // [hidden, kv_heads * head_dim]
  at::Tensor wv;  // [hidden, kv_heads * head_dim]
  at::Tensor wo;  // [hidden, hidden]
};

struct MlpWeights {  // GELU MLP: the dense MLP, every expert and the shared expert
  at::Tensor w1;  // [hidden, ffn]
  at::Tensor b1;  // [ffn]
  at::Tensor w2;  // [ffn, hidden]
  at::Tensor b2;  // [hidden]
};

struct BlockMlpWeights {  // layer l
  LayerNormWeights ln_attn, ln_mlp;
  AttentionWeights attn;
  MlpWeights mlp;
};

struct BlockMoeWeights {  // layer l+1
  LayerNormWeights ln_attn, ln_moe;
  LayerNormWeights ln_shortcut;   // ShortcutNorm::Dedicated
  LayerNormWeights ln_post_sum;   // post_sum_norm
  AttentionWeights attn;
  at::Tensor router;              // [hidden, num_experts]
  std::vector<MlpWeights> experts;
  MlpWeights shared_expert;
  at::Tensor cg1;                 // [hidden]: CG-1 gate vector w
  at::Tensor cg2;                 // [hidden, 2]: CG-2 gate matrix W^T
};

struct UnitWeights {
  std::optional<BlockMlpWeights> block_mlp;  // absent when MoE is in every block
  BlockMoeWeights block_moe;
};

struct ModelWeights {
  std::vector<UnitWeights> units;
};

// Number of units (Block-MLP + Block-MoE pairs, or single Block-MoE when MoE is in every block).
int unit_count(const EngineConfig& config);

// GPT-2 style initialisation (normal, std 0.02; LayerNorm weight around 1) from config.seed. Every arch
// gets the same weights for the same seed, so A/B runs compare like with like.
ModelWeights make_weights(const EngineConfig& config);

}  // namespace scmoe::engine
