#include "model/token_dispatcher.h"

#include <algorithm>
#include <numeric>

#include "model/mlp.h"

namespace scmoe::engine {

namespace {
at::Tensor long_tensor(const std::vector<std::int64_t>& values) {
  return at::tensor(at::ArrayRef<std::int64_t>(values), at::TensorOptions().dtype(at::kLong));
}
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
    p.token = long_tensor(token);
    p.weight = at::tensor(at::ArrayRef<float>(w), at::TensorOptions().dtype(at::kFloat));
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
                             const std::vector<MlpWeights>& experts, int first_expert, int experts_per_rank) {
  // Row indices of each local expert across all source segments.
  std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(experts_per_rank));
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < received_counts.size(); ++i) {
    auto& r = rows[i % static_cast<std::size_t>(experts_per_rank)];
    for (std::int64_t k = 0; k < received_counts[i]; ++k) r.push_back(offset + k);
    offset += received_counts[i];
  }
  at::Tensor out = at::empty_like(received);
  for (int l = 0; l < experts_per_rank; ++l) {
    const auto& r = rows[static_cast<std::size_t>(l)];
    if (r.empty()) continue;
    const at::Tensor index = long_tensor(r);
    const MlpWeights& w = experts[static_cast<std::size_t>(first_expert + l)];
    out.index_copy_(0, index, gelu_mlp(w, received.index_select(0, index)));
  }
  return out;
}

at::Tensor decode(const std::vector<DispatchPacket>& packets, const std::vector<at::Tensor>& returned,
                  std::int64_t tokens, std::int64_t hidden) {
  at::Tensor out = at::zeros({tokens, hidden}, at::TensorOptions().dtype(at::kFloat));
  for (std::size_t c = 0; c < packets.size(); ++c) {
    if (packets[c].token.numel() == 0) continue;
    out.index_add_(0, packets[c].token, returned[c] * packets[c].weight.unsqueeze(1));
  }
  return out;
}

}  // namespace scmoe::engine
