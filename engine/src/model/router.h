// The router (gate): logits = x W (+ optional Gaussian noise), softmax over ALL experts before top-k (so
// top-1 still has a gradient through its weight), weights renormalised over the k picks when k > 1,
// per-expert capacity with token dropping, and the load-balancing auxiliary loss.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

namespace scmoe::engine {

struct RouterOptions {
  int top_k = 1;
  int num_experts = 1;
  double capacity_factor = 2.0;
  bool dropless = false;
  double gate_noise = 0.0;      // std-dev of the noise added to the logits
  double aux_loss_coef = 0.01;
};

struct Routing {                // on the CPU whatever the device of x
  at::Tensor expert;            // [tokens, k] int64, the chosen experts
  at::Tensor weight;            // [tokens, k] float, their gate weights
  at::Tensor kept;              // [tokens, k] bool, false when the capacity rule dropped the assignment
  std::int64_t dropped = 0;     // number of dropped (token, choice) assignments
  double aux_loss = 0.0;
};

// Capacity per expert: ceil(capacity_factor * tokens * k / experts); dropless: every assignment fits.
std::int64_t expert_capacity(std::int64_t tokens, const RouterOptions& options);

// Dropping rule (deterministic): assignments are served first-come in token order (token 0 first; the
// choices of one token in rank order); an expert takes its first `capacity` assignments.
// Aux loss (Switch/GShard, as Megatron-Core computes it for top-k):
//   coef * E * sum_e f_e * P_e,  f_e = assignments to e (before dropping) / (tokens * k),
//   P_e = mean over tokens of the softmax probability of e.
Routing route(const at::Tensor& router_weight, const at::Tensor& x, const RouterOptions& options,
              std::optional<at::Generator> noise);

}  // namespace scmoe::engine
