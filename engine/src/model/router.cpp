#include "model/router.h"

#include <cmath>
#include <vector>

namespace scmoe::engine {

std::int64_t expert_capacity(std::int64_t tokens, const RouterOptions& o) {
  if (o.dropless) return tokens * o.top_k;
  return static_cast<std::int64_t>(std::ceil(o.capacity_factor * static_cast<double>(tokens * o.top_k) /
                                             o.num_experts));
}

Routing route(const at::Tensor& router_weight, const at::Tensor& x, const RouterOptions& o,
              std::optional<at::Generator> noise) {
  // The router weight is fp32 everywhere; a bf16 activation is widened for it (no-op on the fp32 CPU path).
  at::Tensor logits = at::matmul(x.to(router_weight.scalar_type()), router_weight);
  if (o.gate_noise > 0.0 && noise) {
    // The noise generator is a CPU one (seeded per iteration, rank and unit): a GPU draws the same noise on
    // the CPU and copies it over, so both devices route alike.
    const at::Tensor drawn = logits.is_cpu() ? at::randn(logits.sizes(), *noise, logits.options())
                                             : at::randn(logits.sizes(), *noise, logits.options().device(at::kCPU));
    logits = logits + o.gate_noise * drawn.to(logits.device());
  }
  const at::Tensor probs = at::softmax(logits, -1);
  auto [top_values, top_experts] = at::topk(probs, o.top_k, -1);
  Routing r;
  // The capacity rule below and the encode walk the choices on the host: on a GPU they come back here (the
  // one device-to-host copy of the gate, on the compute lane).
  r.expert = top_experts.contiguous().to(at::kCPU);
  r.weight = (o.top_k > 1 ? top_values / top_values.sum(-1, true) : top_values).contiguous().to(at::kCPU);

  const std::int64_t tokens = x.size(0);
  const std::int64_t capacity = expert_capacity(tokens, o);
  r.kept = at::ones({tokens, o.top_k}, at::kBool);
  std::vector<std::int64_t> assigned(static_cast<std::size_t>(o.num_experts), 0);
  const auto experts = r.expert.accessor<std::int64_t, 2>();
  auto kept = r.kept.accessor<bool, 2>();
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (int j = 0; j < o.top_k; ++j) {
      std::int64_t& count = assigned[static_cast<std::size_t>(experts[t][j])];
      if (count >= capacity) {
        kept[t][j] = false;
        ++r.dropped;
      }
      ++count;
    }
  }
  const at::Tensor mean_probs = probs.mean(0).contiguous().to(at::kCPU);
  const auto p = mean_probs.accessor<float, 1>();
  double balance = 0.0;
  for (int e = 0; e < o.num_experts; ++e) {
    balance += static_cast<double>(assigned[static_cast<std::size_t>(e)]) / static_cast<double>(tokens * o.top_k) *
               p[e];
  }
  r.aux_loss = o.aux_loss_coef * o.num_experts * balance;
  return r;
}

}  // namespace scmoe::engine
