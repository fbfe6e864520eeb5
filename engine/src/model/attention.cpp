#include "model/attention.h"

#include <torch/version.h>

#include <cmath>
#include <limits>

// at::scaled_dot_product_attention (fused flash / memory-efficient kernels on CUDA) arrived in LibTorch 2.0.
#if TORCH_VERSION_MAJOR >= 2
#define SCMOE_HAVE_SDPA 1
#else
#define SCMOE_HAVE_SDPA 0
#endif

namespace scmoe::engine {

at::Tensor causal_self_attention(const AttentionWeights& w, const at::Tensor& x, int seq_len, int heads,
                                 int kv_heads) {
  const std::int64_t tokens = x.size(0);
  const std::int64_t hidden = x.size(1);
  const std::int64_t head_dim = hidden / heads;
  const std::int64_t batch = tokens / seq_len;
  // [tokens, n * head_dim] -> [batch, n, seq, head_dim]
  const auto split_heads = [&](const at::Tensor& t, int n) {
    return t.view({batch, seq_len, n, head_dim}).transpose(1, 2);
  };
  at::Tensor q = split_heads(at::matmul(x, w.wq), heads);
  at::Tensor k = split_heads(at::matmul(x, w.wk), kv_heads);
  at::Tensor v = split_heads(at::matmul(x, w.wv), kv_heads);
  if (kv_heads < heads) {
    k = k.repeat_interleave(heads / kv_heads, 1);
    v = v.repeat_interleave(heads / kv_heads, 1);
  }
#if SCMOE_HAVE_SDPA
  // On the GPU the fused kernel (same maths, default scale 1/sqrt(head_dim)); the CPU keeps the explicit
  // form below, which its bitwise schedule-equivalence tests were written against.
  if (x.is_cuda()) {
    const at::Tensor context = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                                                /*is_causal=*/true);
    return at::matmul(context.transpose(1, 2).reshape({tokens, hidden}), w.wo);
  }
#endif
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(head_dim));
  const at::Tensor future = at::ones({seq_len, seq_len}, x.options().dtype(at::kBool)).triu(1);
  scores.masked_fill_(future, -std::numeric_limits<float>::infinity());
  const at::Tensor context = at::matmul(at::softmax(scores, -1), v).transpose(1, 2).reshape({tokens, hidden});
  return at::matmul(context, w.wo);
}

}  // namespace scmoe::engine
