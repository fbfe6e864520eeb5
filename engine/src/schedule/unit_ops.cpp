#include "schedule/unit_ops.h"

#include "model/attention.h"
#include "model/mlp.h"
#include "model/moe_output.h"

namespace scmoe::engine {

using prof::cost::Op;

prof::cost::Arch to_cost_arch(Arch arch) {
  switch (arch) {
    case Arch::Top2: return prof::cost::Arch::Top2;
    case Arch::Top1: return prof::cost::Arch::Top1;
    case Arch::Shared: return prof::cost::Arch::Shared;
    case Arch::ScMoE: return prof::cost::Arch::ScMoE;
    case Arch::ScMoE2: return prof::cost::Arch::ScMoE2;
  }
  return prof::cost::Arch::Top2;
}

int top_k(Arch arch) { return prof::cost::routed_copies(to_cost_arch(arch)); }

prof::cost::RoutedWork routed_work(const EngineConfig& config) {
  prof::cost::RoutedWork work;
  if (config.link.enabled) work.link_latency_ms = config.link.latency_us / 1000.0;
  work.local_experts = config.ep_size > 0 ? config.num_experts / config.ep_size : 0;
  return work;
}

namespace {

at::Tensor attention(const AttentionWeights& w, const at::Tensor& x, const EngineConfig& c) {
  return causal_self_attention(w, x, c.seq_len, c.heads, c.kv_heads);
}

// Block-MoE input: the Block-MLP output, or the unit input when MoE is in every block.
const at::Tensor& block_moe_input(const UnitContext& ctx, const UnitState& s) {
  return ctx.weights->block_mlp ? s.hmlp_l : *s.input;
}

// S and the LayerNorm that feeds it to the gate/experts. "Reuse" takes the LayerNorm the backbone applies
// to the same tensor next (pos 3: Block-MLP pre-attention, pos 2: Block-MLP pre-MLP, pos 1: Block-MoE
// pre-attention); "dedicated" is a LayerNorm of its own (Megatron-Core).
void select_shortcut(const UnitContext& ctx, UnitState& s) {
  const EngineConfig& c = *ctx.config;
  const UnitWeights& w = *ctx.weights;
  const LayerNormWeights* reuse = &w.block_moe.ln_attn;
  if (w.block_mlp && c.shortcut_position == 3) {
    s.shortcut = *s.input;
    reuse = &w.block_mlp->ln_attn;
  } else if (w.block_mlp && c.shortcut_position == 2) {
    s.shortcut = s.hmh_l;
    reuse = &w.block_mlp->ln_mlp;
  } else {
    s.shortcut = block_moe_input(ctx, s);
  }
  s.expert_in = c.shortcut_norm == ShortcutNorm::Dedicated ? w.block_moe.ln_shortcut(s.shortcut) : (*reuse)(s.shortcut);
}

}  // namespace

void run_unit_op(Op op, int chunk, const UnitContext& ctx, UnitState& s) {
  const EngineConfig& c = *ctx.config;
  const UnitWeights& w = *ctx.weights;
  const BlockMoeWeights& moe = w.block_moe;
  const std::size_t k = static_cast<std::size_t>(chunk);
  switch (op) {
    case Op::AttnL:
      s.hmh_l = *s.input + attention(w.block_mlp->attn, w.block_mlp->ln_attn(*s.input), c);
      break;
    case Op::MlpL:
      s.hmlp_l = s.hmh_l + gelu_mlp(w.block_mlp->mlp, w.block_mlp->ln_mlp(s.hmh_l));
      break;
    case Op::AttnL1: {
      const at::Tensor& x = block_moe_input(ctx, s);
      s.hmh_l1 = x + attention(moe.attn, moe.ln_attn(x), c);
      s.moe_in = moe.ln_moe(s.hmh_l1);
      break;
    }
    case Op::SharedExpert:
      s.shared_out = gelu_mlp(moe.shared_expert, s.moe_in);
      break;
    case Op::Gate: {
      if (prof::cost::is_shortcut(to_cost_arch(ctx.arch))) {
        select_shortcut(ctx, s);
      } else {
        s.expert_in = s.moe_in;
      }
      const RouterOptions options{top_k(ctx.arch), c.num_experts, c.capacity_factor, c.dropless, c.gate_noise,
                                  c.aux_loss_coef};
      s.routing = route(moe.router, s.expert_in, options, ctx.gate_noise);
      break;
    }
    case Op::Encode: {
      s.packets = encode(s.expert_in, s.routing, c.num_experts, c.ep_size, c.pipeline_chunks);
      const std::size_t chunks = s.packets.size();
      s.received_counts.assign(chunks, {});
      s.received_splits.assign(chunks, {});
      s.received.assign(chunks, at::Tensor());
      s.expert_out.assign(chunks, at::Tensor());
      s.returned.assign(chunks, at::Tensor());
      break;
    }
    case Op::Dispatch:
      s.received_counts[k] = ctx.comm->exchange_counts(s.packets[k].counts);
      s.received_splits[k] = splits_from_counts(s.received_counts[k], c.ep_size);
      s.received[k] = ctx.comm->all_to_all(s.packets[k].rows, s.packets[k].splits, s.received_splits[k]);
      break;
    case Op::Expert: {
      const int per_rank = c.num_experts / c.ep_size;
      s.expert_out[k] = run_local_experts(s.received[k], s.received_counts[k], moe.experts,
                                          ctx.comm->rank() * per_rank, per_rank);
      break;
    }
    case Op::Combine:
      s.returned[k] = ctx.comm->all_to_all(s.expert_out[k], s.received_splits[k], s.packets[k].splits);
      break;
    case Op::Decode:
      s.routed = decode(s.packets, s.returned, s.expert_in.size(0), s.expert_in.size(1));
      break;
    case Op::Output: {
      const bool shared = prof::cost::has_shared_expert(to_cost_arch(ctx.arch));
      // The combine gates are ScMoE's (§3); the top-1 + shared baseline adds them directly (DeepSpeed-MoE).
      const CombineMode mode = prof::cost::is_shortcut(to_cost_arch(ctx.arch)) ? c.combine : CombineMode::DirectAdd;
      s.output = moe_block_output(moe, mode, c.post_sum_norm, s.hmh_l1, s.moe_in,
                                  shared ? std::optional<at::Tensor>(s.shared_out) : std::nullopt, s.routed);
      break;
    }
  }
}

}  // namespace scmoe::engine
