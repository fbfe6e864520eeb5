// The router against a loop-by-loop reference: softmax over all experts, top-k, renormalised weights, the
// first-come-by-token-index capacity rule, and the load-balancing loss formula.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>

#include "model/router.h"

namespace eng = scmoe::engine;

namespace {

struct Reference {
  std::vector<std::vector<int>> experts;     // [token][choice]
  std::vector<std::vector<double>> weights;
  std::vector<std::vector<bool>> kept;
  std::int64_t dropped = 0;
  double aux = 0.0;
};

Reference reference_route(const at::Tensor& x, const at::Tensor& w, int k, double capacity_factor, bool dropless,
                          double coef) {
  const int tokens = static_cast<int>(x.size(0));
  const int experts = static_cast<int>(w.size(1));
  const at::Tensor logits = at::matmul(x.to(at::kDouble), w.to(at::kDouble));
  Reference r;
  std::vector<double> prob_sum(static_cast<std::size_t>(experts), 0.0);
  std::vector<int> assigned(static_cast<std::size_t>(experts), 0);
  const int capacity = dropless ? tokens * k : static_cast<int>(std::ceil(capacity_factor * tokens * k / experts));
  for (int t = 0; t < tokens; ++t) {
    std::vector<double> p(static_cast<std::size_t>(experts));
    double max_logit = -1e300, z = 0.0;
    for (int e = 0; e < experts; ++e) max_logit = std::max(max_logit, logits[t][e].item<double>());
    for (int e = 0; e < experts; ++e) z += p[e] = std::exp(logits[t][e].item<double>() - max_logit);
    for (int e = 0; e < experts; ++e) prob_sum[e] += p[e] /= z;
    std::vector<int> order(static_cast<std::size_t>(experts));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
    double picked = 0.0;
    for (int j = 0; j < k; ++j) picked += p[order[j]];
    r.experts.emplace_back(order.begin(), order.begin() + k);
    r.weights.emplace_back();
    r.kept.emplace_back();
    for (int j = 0; j < k; ++j) {
      r.weights.back().push_back(k > 1 ? p[order[j]] / picked : p[order[j]]);
      const bool fits = assigned[order[j]]++ < capacity;
      r.kept.back().push_back(fits);
      r.dropped += fits ? 0 : 1;
    }
  }
  for (int e = 0; e < experts; ++e) r.aux += (assigned[e] / double(tokens * k)) * (prob_sum[e] / tokens);
  r.aux *= coef * experts;
  return r;
}

void expect_matches(const eng::Routing& got, const Reference& want) {
  ASSERT_EQ(got.expert.size(0), static_cast<std::int64_t>(want.experts.size()));
  for (std::size_t t = 0; t < want.experts.size(); ++t) {
    for (std::size_t j = 0; j < want.experts[t].size(); ++j) {
      EXPECT_EQ(got.expert[t][j].item<std::int64_t>(), want.experts[t][j]) << t << "," << j;
      EXPECT_NEAR(got.weight[t][j].item<double>(), want.weights[t][j], 1e-5);
      EXPECT_EQ(got.kept[t][j].item<bool>(), want.kept[t][j]) << t << "," << j;
    }
  }
  EXPECT_EQ(got.dropped, want.dropped);
  EXPECT_NEAR(got.aux_loss, want.aux, 1e-6);
}

}  // namespace

TEST(Router, Top2WithCapacityDropsTheLateTokens) {
  at::manual_seed(7);
  // Skewed router: expert 0 is preferred by most tokens, so capacity 1.0 must drop.
  const at::Tensor x = at::randn({24, 8});
  at::Tensor w = at::randn({8, 4}) * 0.3;
  w.select(1, 0).add_(x.mean(0) * 2.0);
  const eng::RouterOptions options{2, 4, 1.0, false, 0.0, 0.01};
  const eng::Routing got = eng::route(w, x, options, std::nullopt);
  const Reference want = reference_route(x, w, 2, 1.0, false, 0.01);
  EXPECT_GT(want.dropped, 0);  // the case under test really drops
  EXPECT_EQ(eng::expert_capacity(24, options), 12);
  expect_matches(got, want);
}

TEST(Router, Top1AndDropless) {
  at::manual_seed(11);
  const at::Tensor x = at::randn({32, 8});
  const at::Tensor w = at::randn({8, 8});
  expect_matches(eng::route(w, x, {1, 8, 1.25, false, 0.0, 0.01}, std::nullopt), reference_route(x, w, 1, 1.25, false, 0.01));
  const eng::Routing dropless = eng::route(w, x, {1, 8, 1.25, true, 0.0, 0.01}, std::nullopt);
  EXPECT_EQ(dropless.dropped, 0);
  expect_matches(dropless, reference_route(x, w, 1, 1.25, true, 0.01));
}

TEST(Router, GateNoiseIsSeededAndChangesLogits) {
  at::manual_seed(3);
  const at::Tensor x = at::randn({64, 8});
  const at::Tensor w = at::randn({8, 4}) * 0.01;  // near-uniform router: noise decides
  const eng::RouterOptions noisy{1, 4, 2.0, true, 1.0, 0.01};
  const auto a = eng::route(w, x, noisy, at::detail::createCPUGenerator(5));
  const auto b = eng::route(w, x, noisy, at::detail::createCPUGenerator(5));
  const auto quiet = eng::route(w, x, {1, 4, 2.0, true, 0.0, 0.01}, std::nullopt);
  EXPECT_TRUE(at::equal(a.expert, b.expert));
  EXPECT_FALSE(at::equal(a.expert, quiet.expert));
}
