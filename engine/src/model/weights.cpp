#include "model/weights.h"

#include <ATen/CPUGeneratorImpl.h>

#include <stdexcept>

#include "parallel/gpu_runtime.h"

namespace scmoe::engine {

namespace {

constexpr double kInitStd = 0.02;

class Initialiser {
 public:
  explicit Initialiser(std::uint64_t seed) : generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

  at::Tensor normal(at::IntArrayRef sizes, double std = kInitStd) {
    return at::normal(0.0, std, sizes, generator_, at::TensorOptions().dtype(at::kFloat));
  }
  // LayerNorm weights near 1 and biases near 0 rather than exactly 1/0, so that a LayerNorm applied with
  // the wrong parameters shows up in the tests.
  LayerNormWeights layer_norm(int hidden) { return {1.0 + normal({hidden}, 0.1), normal({hidden}, 0.1)}; }
  AttentionWeights attention(const EngineConfig& c) {
    const int kv = c.kv_heads * (c.hidden / c.heads);
    return {normal({c.hidden, c.hidden}), normal({c.hidden, kv}), normal({c.hidden, kv}), normal({c.hidden, c.hidden})};
  }
  MlpWeights mlp(const EngineConfig& c) {
    return {normal({c.hidden, c.ffn}), normal({c.ffn}), normal({c.ffn, c.hidden}), normal({c.hidden})};
  }

 private:
  at::Generator generator_;
};

// The same parameters on a GPU in `dtype`; the router stays fp32 and the experts are stacked for the
// grouped GEMM, each expert's weights being views into the stacks.
UnitWeights to_device(const UnitWeights& u, at::Device device, at::ScalarType dtype) {
  const auto move = [&](const at::Tensor& t) { return t.to(device, dtype); };
  const auto ln = [&](const LayerNormWeights& w) { return LayerNormWeights{move(w.weight), move(w.bias)}; };
  const auto attention = [&](const AttentionWeights& w) {
    return AttentionWeights{move(w.wq), move(w.wk), move(w.wv), move(w.wo)};
  };
  const auto mlp = [&](const MlpWeights& w) { return MlpWeights{move(w.w1), move(w.b1), move(w.w2), move(w.b2)}; };
  UnitWeights out;
  if (u.block_mlp) {
    const BlockMlpWeights& b = *u.block_mlp;
    out.block_mlp = BlockMlpWeights{ln(b.ln_attn), ln(b.ln_mlp), attention(b.attn), mlp(b.mlp)};
  }
  const BlockMoeWeights& m = u.block_moe;
  BlockMoeWeights& o = out.block_moe;
  o.ln_attn = ln(m.ln_attn);
  o.ln_moe = ln(m.ln_moe);
  o.ln_shortcut = ln(m.ln_shortcut);
  o.ln_post_sum = ln(m.ln_post_sum);
  o.attn = attention(m.attn);
  o.router = m.router.to(device);
  const auto stack = [&](at::Tensor MlpWeights::*field) {
    std::vector<at::Tensor> parts;
    for (const MlpWeights& e : m.experts.each) parts.push_back(e.*field);
    return move(at::stack(parts));
  };
  o.experts.w1 = stack(&MlpWeights::w1);
  o.experts.b1 = stack(&MlpWeights::b1);
  o.experts.w2 = stack(&MlpWeights::w2);
  o.experts.b2 = stack(&MlpWeights::b2);
  for (std::int64_t e = 0; e < o.experts.w1.size(0); ++e) {
    o.experts.each.push_back({o.experts.w1[e], o.experts.b1[e], o.experts.w2[e], o.experts.b2[e]});
  }
  o.shared_expert = mlp(m.shared_expert);
  o.cg1 = move(m.cg1);
  o.cg2 = move(m.cg2);
  return out;
}

}  // namespace

at::Tensor LayerNormWeights::operator()(const at::Tensor& x) const {
  return at::layer_norm(x, {x.size(-1)}, weight, bias, 1e-5);
}

int unit_count(const EngineConfig& config) { return config.moe_every_block ? 2 * config.pairs : config.pairs; }

ModelWeights make_weights(const EngineConfig& c) {
  if (const auto error = cuda_device_error(c)) throw std::runtime_error(error->field + ": " + error->message);
  Initialiser init(c.seed);
  ModelWeights model;
  for (int u = 0; u < unit_count(c); ++u) {
    UnitWeights unit;
    if (!c.moe_every_block) {
      unit.block_mlp = BlockMlpWeights{init.layer_norm(c.hidden), init.layer_norm(c.hidden), init.attention(c),
                                       init.mlp(c)};
    }
    BlockMoeWeights& moe = unit.block_moe;
    moe.ln_attn = init.layer_norm(c.hidden);
    moe.ln_moe = init.layer_norm(c.hidden);
    moe.ln_shortcut = init.layer_norm(c.hidden);
    moe.ln_post_sum = init.layer_norm(c.hidden);
    moe.attn = init.attention(c);
    // A wider router init than the backbone so that routing is not near-uniform on random inputs.
    moe.router = init.normal({c.hidden, c.num_experts}, 1.0 / std::sqrt(static_cast<double>(c.hidden)));
    for (int e = 0; e < c.num_experts; ++e) moe.experts.each.push_back(init.mlp(c));
    moe.shared_expert = init.mlp(c);
    moe.cg1 = init.normal({c.hidden}, 1.0 / std::sqrt(static_cast<double>(c.hidden)));
    moe.cg2 = init.normal({c.hidden, 2}, 1.0 / std::sqrt(static_cast<double>(c.hidden)));
    model.units.push_back(std::move(unit));
  }
  if (c.device != DeviceType::Cuda) return model;
  // Drawn on the CPU above, so a GPU run has exactly the CPU run's weights (up to dtype).
  const std::vector<UnitWeights> drawn = std::move(model.units);
  const at::ScalarType dtype = c.dtype == DType::BF16 ? at::kBFloat16 : at::kFloat;
  for (int g = 0; g < local_gpu_count(c); ++g) {
    std::vector<UnitWeights> placed;
    for (const UnitWeights& u : drawn) placed.push_back(to_device(u, local_gpu_device(c, g), dtype));
    if (g == 0) {
      model.units = std::move(placed);
    } else {
      model.replicas.push_back(std::move(placed));
    }
  }
  return model;
}

}  // namespace scmoe::engine
