// Causal multi-head self-attention with optional grouped-query attention (kv_heads < heads: each K/V head
// serves heads / kv_heads query heads). Tokens are [tokens, hidden], consecutive seq_len tokens form one
// sequence.
#pragma once

#include <ATen/ATen.h>

#include "model/weights.h"

namespace scmoe::engine {

at::Tensor causal_self_attention(const AttentionWeights& w, const at::Tensor& x, int seq_len, int heads,
                                 int kv_heads);

}  // namespace scmoe::engine
