#include "model/token_dispatcher.h"

#include <torch/version.h>

#include <algorithm>
#include <numeric>

#include "model/mlp.h"

// at::_grouped_mm (one grouped GEMM for all local experts; CUTLASS on sm90+, a per-group loop elsewhere)
// is in LibTorch from 2.9 on with a fallback for every CUDA device.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 9)
#define SCMOE_HAVE_GROUPED_MM 1
#else
#define SCMOE_HAVE_GROUPED_MM 0
#endif

namespace scmoe::engine {

namespace {
// Index and weight tensors are built on the host and used where the rows live. To a GPU they go from
// pinned memory without waiting: a pageable copy would make the lane thread wait until its stream has run
// everything launched before, and the lane could no longer launch ahead. (No-op on the CPU.)
at::Tensor on_device(const at::Tensor& host, const at::Device& device) {
  if (device.is_cpu()) return host;
  return host.pin_memory().to(device, /*non_blocking=*/true);
}

at::Tensor long_tensor(const std::vector<std::int64_t>& values, const at::Device& device) {
  return on_device(at::tensor(at::ArrayRef<std::int64_t>(values), at::TensorOptions().dtype(at::kLong)), device);
}

#if SCMOE_HAVE_GROUPED_MM
// The grouped GEMM's requirements (bf16, rows and weights 16-byte aligned) and stacked weights to use.
bool grouped_gemm_applies(const at::Tensor& received, const ExpertWeights& experts) {
  return received.is_cuda() && received.scalar_type() == at::kBFloat16 && experts.w1.defined() &&
         received.size(1) % 8 == 0 && experts.w1.size(2) % 8 == 0;
}

// GELU MLP of every local expert over its rows with two grouped GEMMs. `rows[l]` are the rows of local
// expert l; they are gathered into expert order (when not already in it), computed, and put back.
at::Tensor grouped_experts(const at::Tensor& received, const std::vector<std::vector<std::int64_t>>& rows,
                           const ExpertWeights& experts, int first_expert, int experts_per_rank, bool in_order) {
  std::vector<std::int64_t> order, group_of_row;
  std::vector<std::int32_t> ends;  // offs: where each group's rows end
  for (int l = 0; l < experts_per_rank; ++l) {
    const auto& r = rows[static_cast<std::size_t>(l)];
    order.insert(order.end(), r.begin(), r.end());
    group_of_row.insert(group_of_row.end(), r.size(), l);
    ends.push_back(static_cast<std::int32_t>(order.size()));
  }
  const at::Device device = received.device();
  const at::Tensor offs = on_device(at::tensor(at::ArrayRef<std::int32_t>(ends), at::TensorOptions().dtype(at::kInt)), device);
  const at::Tensor group = long_tensor(group_of_row, device);
  const at::Tensor index = in_order ? at::Tensor() : long_tensor(order, device);
  const at::Tensor x = in_order ? received : received.index_select(0, index);
  const auto local = [&](const at::Tensor& stacked) { return stacked.narrow(0, first_expert, experts_per_rank); };
  // _grouped_mm takes no bias yet: each row gets its expert's bias added.
  const at::Tensor h =
      at::gelu(at::_grouped_mm(x, local(experts.w1), offs) + local(experts.b1).index_select(0, group));
  const at::Tensor y = at::_grouped_mm(h, local(experts.w2), offs) + local(experts.b2).index_select(0, group);
  if (in_order) return y;
  return at::empty_like(received).index_copy_(0, index, y);
}
#endif
}  // namespace

std::vector<DispatchPacket> encode(const at::Tensor& x, const Routing& routing, int num_experts, int ep_size,
                                   int chunks) {
  const std::int64_t tokens = routing.expert.size(0);
  const std::int64_t top_k = routing.expert.size(1);
  const int experts_per_rank = num_experts / ep_size;
  const auto expert = routing.expert.accessor<std::int64_t, 2>();
  const auto weight = routing.weight.accessor<float, 2>();
  const auto kept = routing.kept.accessor<bool, 2>();
  std::vector<DispatchPacket> packets;
  for (int c = 0; c < chunks; ++c) {
    const std::int64_t begin = tokens * c / chunks;
    const std::int64_t end = tokens * (c + 1) / chunks;
    // Bucket the kept assignments by global expert id: expert e lives on rank e / experts_per_rank as its
    // local expert e % experts_per_rank, so expert order is (destination, local expert) order. Inside a
    // bucket the order stays token order.
    std::vector<std::vector<std::int64_t>> bucket(static_cast<std::size_t>(num_experts));
    std::vector<std::vector<float>> bucket_weight(static_cast<std::size_t>(num_experts));
    for (std::int64_t t = begin; t < end; ++t) {
      for (std::int64_t j = 0; j < top_k; ++j) {
        if (!kept[t][j]) continue;
        bucket[static_cast<std::size_t>(expert[t][j])].push_back(t);
        bucket_weight[static_cast<std::size_t>(expert[t][j])].push_back(weight[t][j]);
      }
    }
    DispatchPacket p;
    std::vector<std::int64_t> token;
    std::vector<float> w;
    p.splits.assign(static_cast<std::size_t>(ep_size), 0);
    for (int e = 0; e < num_experts; ++e) {
      const auto& b = bucket[static_cast<std::size_t>(e)];
      token.insert(token.end(), b.begin(), b.end());
      w.insert(w.end(), bucket_weight[static_cast<std::size_t>(e)].begin(), bucket_weight[static_cast<std::size_t>(e)].end());
      p.counts.push_back(static_cast<std::int64_t>(b.size()));
      p.splits[static_cast<std::size_t>(e / experts_per_rank)] += static_cast<std::int64_t>(b.size());
    }
    p.token = long_tensor(token, x.device());
    p.weight = on_device(at::tensor(at::ArrayRef<float>(w), at::TensorOptions().dtype(at::kFloat)), x.device());
    p.rows = x.index_select(0, p.token);
    packets.push_back(std::move(p));
  }
  return packets;
}

std::vector<std::int64_t> splits_from_counts(const std::vector<std::int64_t>& counts, int ep_size) {
  const std::size_t per_rank = counts.size() / static_cast<std::size_t>(ep_size);
  std::vector<std::int64_t> splits(static_cast<std::size_t>(ep_size), 0);
  for (std::size_t i = 0; i < counts.size(); ++i) splits[i / per_rank] += counts[i];
  return splits;
}

at::Tensor run_local_experts(const at::Tensor& received, const std::vector<std::int64_t>& received_counts,
                             const ExpertWeights& experts, int first_expert, int experts_per_rank) {
  // Row indices of each local expert across all source segments.
  std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(experts_per_rank));
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < received_counts.size(); ++i) {
    auto& r = rows[i % static_cast<std::size_t>(experts_per_rank)];
    for (std::int64_t k = 0; k < received_counts[i]; ++k) r.push_back(offset + k);
    offset += received_counts[i];
  }
#if SCMOE_HAVE_GROUPED_MM
  if (received.size(0) > 0 && grouped_gemm_applies(received, experts)) {
    // Rows arrive by source rank, then local expert: with one source or one expert that is expert order.
    const bool in_order = received_counts.size() == static_cast<std::size_t>(experts_per_rank) || experts_per_rank == 1;
    return grouped_experts(received, rows, experts, first_expert, experts_per_rank, in_order);
  }
#endif
  at::Tensor out = at::empty_like(received);
  for (int l = 0; l < experts_per_rank; ++l) {
    const auto& r = rows[static_cast<std::size_t>(l)];
    if (r.empty()) continue;
    const at::Tensor index = long_tensor(r, received.device());
    const MlpWeights& w = experts[static_cast<std::size_t>(first_expert + l)];
    out.index_copy_(0, index, gelu_mlp(w, received.index_select(0, index)));
  }
  return out;
}

at::Tensor decode(const std::vector<DispatchPacket>& packets, const std::vector<at::Tensor>& returned,
                  std::int64_t tokens, std::int64_t hidden) {
  // The weighted sum accumulates in fp32 on the rows' device and returns in their dtype (bf16 on the GPU;
  // both conversions are no-ops on the fp32 CPU path).
  const at::TensorOptions rows = returned.front().options();
  at::Tensor out = at::zeros({tokens, hidden}, rows.dtype(at::kFloat));
  for (std::size_t c = 0; c < packets.size(); ++c) {
    if (packets[c].token.numel() == 0) continue;
    out.index_add_(0, packets[c].token, returned[c].to(at::kFloat) * packets[c].weight.unsqueeze(1));
  }
  return out.to(rows.dtype());
}

}  // namespace scmoe::engine
