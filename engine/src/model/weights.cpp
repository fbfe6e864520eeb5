#include "model/weights.h"

#include <ATen/CPUGeneratorImpl.h>

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

}  // namespace

at::Tensor LayerNormWeights::operator()(const at::Tensor& x) const {
  return at::layer_norm(x, {x.size(-1)}, weight, bias, 1e-5);
}

int unit_count(const EngineConfig& config) { return config.moe_every_block ? 2 * config.pairs : config.pairs; }

ModelWeights make_weights(const EngineConfig& c) {
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
    for (int e = 0; e < c.num_experts; ++e) moe.experts.push_back(init.mlp(c));
    moe.shared_expert = init.mlp(c);
    moe.cg1 = init.normal({c.hidden}, 1.0 / std::sqrt(static_cast<double>(c.hidden)));
    moe.cg2 = init.normal({c.hidden, 2}, 1.0 / std::sqrt(static_cast<double>(c.hidden)));
    model.units.push_back(std::move(unit));
  }
  return model;
}

}  // namespace scmoe::engine
