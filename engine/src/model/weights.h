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

// The routed experts of one Block-MoE. On a GPU the same weights also exist stacked, [experts, ...], for
// the grouped GEMM (at::_grouped_mm); each expert's MlpWeights are then views into the stacks, so nothing
// is stored twice. On the CPU the stacks are undefined.
struct ExpertWeights {
  std::vector<MlpWeights> each;
  at::Tensor w1, b1, w2, b2;  // [experts, hidden, ffn], [experts, ffn], [experts, ffn, hidden], [experts, hidden]
  const MlpWeights& operator[](std::size_t e) const { return each[e]; }
  std::size_t size() const { return each.size(); }
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
  at::Tensor router;              // [hidden, num_experts], fp32 on every device (routing decisions)
  ExpertWeights experts;
  MlpWeights shared_expert;
  at::Tensor cg1;                 // [hidden]: CG-1 gate vector w
  at::Tensor cg2;                 // [hidden, 2]: CG-2 gate matrix W^T
};

struct UnitWeights {
  std::optional<BlockMlpWeights> block_mlp;  // absent when MoE is in every block
  BlockMoeWeights block_moe;
};

struct ModelWeights {
  std::vector<UnitWeights> units;  // on the CPU, or on the GPU of this process's first rank
  // device = cuda with several local GPUs: a replica on each further GPU (index 0 is GPU 1).
  std::vector<std::vector<UnitWeights>> replicas;
  // The weights of the rank on local GPU `local_gpu` (0 on the CPU).
  const std::vector<UnitWeights>& on_local_gpu(int local_gpu) const {
    return local_gpu == 0 ? units : replicas[static_cast<std::size_t>(local_gpu - 1)];
  }
};

// Number of units (Block-MLP + Block-MoE pairs, or single Block-MoE when MoE is in every block).
int unit_count(const EngineConfig& config);

// GPT-2 style initialisation (normal, std 0.02; LayerNorm weight around 1) from config.seed. Every arch
// gets the same weights for the same seed, so A/B runs compare like with like. On device = cuda the same
// values (drawn on the CPU) are placed on every GPU of this process in config.dtype, except the router,
// which stays fp32 (as Megatron-Core's router dtype option: routing decisions are not made in bf16).
// Throws, naming the field "device", when this build or machine cannot run on the GPU.
ModelWeights make_weights(const EngineConfig& config);

}  // namespace scmoe::engine
