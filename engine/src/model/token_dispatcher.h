// The token dispatcher of expert parallelism: encode (permute the kept assignments of this rank into a
// per-destination layout, grouped by destination rank and then by that rank's local expert), the local
// expert computation on what arrived, and decode (unpermute and weighted sum back to token order).
// The All-to-All exchanges in between are the communicator's (parallel/communicator.h).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "model/router.h"
#include "model/weights.h"

namespace scmoe::engine {

// What one rank sends for one pipeline chunk.
struct DispatchPacket {
  at::Tensor rows;                     // [n, hidden]: the token rows, in (destination, local expert) order
  at::Tensor token;                    // [n] int64: which local token each row is
  at::Tensor weight;                   // [n] float: its gate weight
  std::vector<std::int64_t> counts;    // [ep_size * experts_per_rank]: rows per (destination, local expert)
  std::vector<std::int64_t> splits;    // [ep_size]: rows per destination
};

// Chunk c holds the assignments of tokens [c*T/C, (c+1)*T/C); dropped assignments are not sent. The
// routing is on the host (router.h); rows, token and weight are on x's device.
std::vector<DispatchPacket> encode(const at::Tensor& x, const Routing& routing, int num_experts, int ep_size,
                                   int chunks);

// Rows per source rank from the exchanged counts ([ep_size * experts_per_rank], by source then expert).
std::vector<std::int64_t> splits_from_counts(const std::vector<std::int64_t>& counts, int ep_size);

// Runs this rank's experts on the received rows (laid out by source rank, then local expert) and returns
// the results in the same layout, ready to be sent back. On a GPU with LibTorch >= 2.9 and bf16: two
// grouped GEMMs (at::_grouped_mm) over all local experts; otherwise a loop over the experts (the CPU
// LibTorch has no grouped GEMM).
at::Tensor run_local_experts(const at::Tensor& received, const std::vector<std::int64_t>& received_counts,
                             const ExpertWeights& experts, int first_expert, int experts_per_rank);

// Sum over chunks and choices of weight * expert output, in token order ([tokens, hidden]); tokens whose
// every assignment was dropped get zeros.
at::Tensor decode(const std::vector<DispatchPacket>& packets, const std::vector<at::Tensor>& returned,
                  std::int64_t tokens, std::int64_t hidden);

}  // namespace scmoe::engine
