// Every arch against an independent reference written here with plain tensor ops and loops: LayerNorm
// from its definition, attention head by head and row by row, exact GELU, the router token by token, and
// each token's routed output summed expert by expert. The engine runs with expert parallelism over 2
// ranks; the reference has no notion of ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <tuple>

#include "engine_test_support.h"

namespace eng = scmoe::engine;
using eng::testing::tiny_config;

namespace {

at::Tensor ref_layer_norm(const at::Tensor& x, const eng::LayerNormWeights& w) {
  const at::Tensor mean = x.mean(-1, true);
  const at::Tensor var = (x - mean).pow(2).mean(-1, true);
  return (x - mean) / at::sqrt(var + 1e-5) * w.weight + w.bias;
}

at::Tensor ref_mlp(const eng::MlpWeights& w, const at::Tensor& x) {
  const at::Tensor a = x.mm(w.w1) + w.b1;
  return (0.5 * a * (1.0 + at::erf(a / std::sqrt(2.0)))).mm(w.w2) + w.b2;
}

at::Tensor ref_attention(const eng::AttentionWeights& w, const at::Tensor& x, const eng::EngineConfig& c) {
  const int hd = c.hidden / c.heads;
  const at::Tensor q = x.mm(w.wq), k = x.mm(w.wk), v = x.mm(w.wv);
  at::Tensor context = at::zeros_like(x);
  for (int start = 0; start < c.tokens_per_rank; start += c.seq_len) {
    for (int h = 0; h < c.heads; ++h) {
      const int g = h / (c.heads / c.kv_heads);  // the K/V head this query head shares
      for (int i = 0; i < c.seq_len; ++i) {
        const at::Tensor qi = q[start + i].narrow(0, h * hd, hd);
        std::vector<double> scores;
        for (int j = 0; j <= i; ++j) {
          scores.push_back((qi * k[start + j].narrow(0, g * hd, hd)).sum().item<double>() / std::sqrt(double(hd)));
        }
        const double m = *std::max_element(scores.begin(), scores.end());
        double z = 0.0;
        for (double& s : scores) z += s = std::exp(s - m);
        at::Tensor out = at::zeros({hd});
        for (int j = 0; j <= i; ++j) out += scores[j] / z * v[start + j].narrow(0, g * hd, hd);
        context[start + i].narrow(0, h * hd, hd).copy_(out);
      }
    }
  }
  return context.mm(w.wo);
}

// Routed output of one rank's tokens, token by token.
std::pair<at::Tensor, std::int64_t> ref_routed(const eng::BlockMoeWeights& w, const at::Tensor& x, int k,
                                               const eng::EngineConfig& c) {
  const int tokens = static_cast<int>(x.size(0));
  const int capacity = c.dropless ? tokens * k : static_cast<int>(std::ceil(c.capacity_factor * tokens * k / c.num_experts));
  std::vector<int> assigned(static_cast<std::size_t>(c.num_experts), 0);
  at::Tensor out = at::zeros_like(x);
  std::int64_t dropped = 0;
  for (int t = 0; t < tokens; ++t) {
    const at::Tensor p = at::softmax(x[t].unsqueeze(0).mm(w.router).squeeze(0).to(at::kDouble), 0);
    std::vector<int> order(static_cast<std::size_t>(c.num_experts));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a].item<double>() > p[b].item<double>(); });
    double picked = 0.0;
    for (int j = 0; j < k; ++j) picked += p[order[j]].item<double>();
    for (int j = 0; j < k; ++j) {
      const int e = order[j];
      if (assigned[e]++ >= capacity) {
        ++dropped;
        continue;
      }
      const double weight = k > 1 ? p[e].item<double>() / picked : p[e].item<double>();
      out[t] += weight * ref_mlp(w.experts[e], x[t].unsqueeze(0)).squeeze(0);
    }
  }
  return {out, dropped};
}

struct RefResult {
  at::Tensor output;
  std::int64_t dropped = 0;
};

RefResult ref_unit(const eng::UnitWeights& w, const at::Tensor& input, eng::Arch arch, const eng::EngineConfig& c) {
  const eng::BlockMoeWeights& moe = w.block_moe;
  at::Tensor h = input, hmh_l, hmlp_l = input;
  if (w.block_mlp) {
    hmh_l = input + ref_attention(w.block_mlp->attn, ref_layer_norm(input, w.block_mlp->ln_attn), c);
    hmlp_l = hmh_l + ref_mlp(w.block_mlp->mlp, ref_layer_norm(hmh_l, w.block_mlp->ln_mlp));
  }
  const at::Tensor hmh_l1 = hmlp_l + ref_attention(moe.attn, ref_layer_norm(hmlp_l, moe.ln_attn), c);
  const at::Tensor moe_in = ref_layer_norm(hmh_l1, moe.ln_moe);
  const bool shortcut = arch == eng::Arch::ScMoE || arch == eng::Arch::ScMoE2;
  at::Tensor expert_in = moe_in;
  if (shortcut) {
    at::Tensor s = hmlp_l;
    const eng::LayerNormWeights* reuse = &moe.ln_attn;
    if (w.block_mlp && c.shortcut_position == 3) {
      s = input;
      reuse = &w.block_mlp->ln_attn;
    } else if (w.block_mlp && c.shortcut_position == 2) {
      s = hmh_l;
      reuse = &w.block_mlp->ln_mlp;
    }
    expert_in = ref_layer_norm(s, c.shortcut_norm == eng::ShortcutNorm::Dedicated ? moe.ln_shortcut : *reuse);
  }
  const int k = arch == eng::Arch::Top2 || arch == eng::Arch::ScMoE2 ? 2 : 1;
  auto [routed, dropped] = ref_routed(moe, expert_in, k, c);
  at::Tensor mix = routed;
  if (arch != eng::Arch::Top2 && arch != eng::Arch::Top1) {
    const at::Tensor se = ref_mlp(moe.shared_expert, moe_in);
    if (!shortcut || c.combine == eng::CombineMode::DirectAdd) {
      mix = se + routed;
    } else if (c.combine == eng::CombineMode::CG1) {
      mix = at::sigmoid(moe_in.mv(moe.cg1)).unsqueeze(1) * se + routed;
    } else {
      const at::Tensor logits = moe_in.mm(moe.cg2);
      const at::Tensor c0 = 1.0 / (1.0 + at::exp(logits.select(1, 1) - logits.select(1, 0)));  // softmax of 2
      mix = c0.unsqueeze(1) * se + (1.0 - c0).unsqueeze(1) * routed;
    }
  }
  if (c.post_sum_norm) mix = ref_layer_norm(mix, moe.ln_post_sum);
  return {hmh_l1 + mix, dropped};
}

struct Case {
  const char* name;
  eng::Arch arch;
  int position;
  eng::CombineMode combine;
  eng::ShortcutNorm norm;
  bool post_sum_norm;
  bool every_block;
  double capacity_factor;
};

void expect_engine_matches_reference(const Case& tc) {
  SCOPED_TRACE(tc.name);
  eng::EngineConfig c = tiny_config();
  c.arch = tc.arch;
  c.shortcut_position = tc.position;
  c.combine = tc.combine;
  c.shortcut_norm = tc.norm;
  c.post_sum_norm = tc.post_sum_norm;
  c.moe_every_block = tc.every_block;
  c.capacity_factor = tc.capacity_factor;
  ASSERT_TRUE(eng::validate(c).empty());
  const eng::ModelWeights weights = eng::make_weights(c);
  const eng::ForwardResult got = eng::testing::forward(c, weights, tc.arch, 1, false);
  const auto inputs = eng::make_rank_inputs(c, 0);
  std::int64_t dropped = 0;
  for (int r = 0; r < c.ep_size; ++r) {
    at::Tensor x = inputs[r];
    for (const auto& unit : weights.units) {
      RefResult ref = ref_unit(unit, x, tc.arch, c);
      x = ref.output;
      dropped += ref.dropped;
    }
    EXPECT_TRUE(at::allclose(got.outputs[r], x, 1e-4, 1e-4))
        << "rank " << r << " max diff " << (got.outputs[r] - x).abs().max().item<double>();
  }
  EXPECT_EQ(got.tokens_dropped, dropped);
}

}  // namespace

// One test over all archs: every test is its own process under ctest, and each one loads LibTorch.
TEST(ReferenceModel, EveryArchMatchesTheReference) {
  const Case cases[] = {
      Case{"top2", eng::Arch::Top2, 2, eng::CombineMode::CG1, eng::ShortcutNorm::Reuse, false, false, 2.0},
      Case{"top1_dropping", eng::Arch::Top1, 2, eng::CombineMode::CG1, eng::ShortcutNorm::Reuse, false, false, 1.0},
      Case{"shared", eng::Arch::Shared, 2, eng::CombineMode::CG1, eng::ShortcutNorm::Reuse, false, false, 2.0},
      Case{"scmoe_pos1_direct", eng::Arch::ScMoE, 1, eng::CombineMode::DirectAdd, eng::ShortcutNorm::Reuse, false, false, 2.0},
      Case{"scmoe_pos2_cg1", eng::Arch::ScMoE, 2, eng::CombineMode::CG1, eng::ShortcutNorm::Reuse, false, false, 1.0},
      Case{"scmoe_pos3_cg2_dedicated_postnorm", eng::Arch::ScMoE, 3, eng::CombineMode::CG2, eng::ShortcutNorm::Dedicated, true, false, 2.0},
      Case{"scmoe2_pos2", eng::Arch::ScMoE2, 2, eng::CombineMode::CG1, eng::ShortcutNorm::Reuse, false, false, 2.0},
      Case{"scmoe_every_block", eng::Arch::ScMoE, 1, eng::CombineMode::CG1, eng::ShortcutNorm::Reuse, false, true, 2.0}};
  for (const Case& tc : cases) expect_engine_matches_reference(tc);
}
