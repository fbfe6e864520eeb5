// The public Runner: validation before anything runs, A/B statistics, the adaptive choice of K, cancel.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include "engine_test_support.h"
#include "scmoe/engine/runner.h"

namespace eng = scmoe::engine;
namespace cost = scmoe::prof::cost;
using eng::testing::tiny_config;

namespace {
double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}
}  // namespace

TEST(Runner, InvalidConfigStartsNothing) {
  eng::EngineConfig c = tiny_config();
  c.num_experts = 3;
  eng::Runner runner;
  int iterations = 0;
  const auto errors = runner.start(c, {[&](const eng::IterationResult&) { ++iterations; }, nullptr, nullptr});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "num_experts");
  EXPECT_FALSE(runner.running());
  EXPECT_EQ(runner.wait().iterations_done, 0);
  EXPECT_EQ(iterations, 0);
}

TEST(Runner, AbModeAlternatesWithTop2AndReportsTheSpeedup) {
  eng::EngineConfig c = tiny_config();
  c.arch = eng::Arch::ScMoE;
  c.schedule = eng::Schedule::Overlap;
  c.iterations = 3;
  c.ab_against_top2 = true;
  std::mutex mutex;
  std::vector<double> scmoe_ms, top2_ms;
  std::vector<eng::Arch> order;
  int progress = 0;
  bool finished = false;
  eng::Runner runner;
  const auto errors = runner.start(c, {[&](const eng::IterationResult& r) {
                                         std::lock_guard lock(mutex);
                                         order.push_back(r.arch);
                                         (r.arch == eng::Arch::Top2 ? top2_ms : scmoe_ms).push_back(r.time_ms);
                                         EXPECT_FALSE(r.trace.tracks.empty());
                                         if (r.arch == eng::Arch::ScMoE) {
                                           ASSERT_EQ(r.similarity.size(), 1u);
                                           EXPECT_GT(r.similarity[0].cosine, -1.0);
                                           EXPECT_LE(r.similarity[0].cosine, 1.0);
                                         }
                                       },
                                       [&](int done, int total) { progress = done + 0 * total; },
                                       [&](const eng::RunSummary&) { finished = true; }});
  ASSERT_TRUE(errors.empty());
  const eng::RunSummary s = runner.wait();
  ASSERT_TRUE(s.error.empty()) << s.error;
  EXPECT_TRUE(finished);
  EXPECT_EQ(progress, 3);
  ASSERT_EQ(order.size(), 6u);
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], i % 2 ? eng::Arch::Top2 : eng::Arch::ScMoE);
  EXPECT_DOUBLE_EQ(s.median_ms, median_of(scmoe_ms));
  EXPECT_DOUBLE_EQ(s.top2_median_ms, median_of(top2_ms));
  std::vector<double> ratios;
  for (int i = 0; i < 3; ++i) ratios.push_back(top2_ms[i] / scmoe_ms[i]);
  EXPECT_DOUBLE_EQ(s.speedup_x, median_of(ratios));
  EXPECT_NEAR(s.time_saved_pct, 100.0 * (1.0 - s.median_ms / s.top2_median_ms), 1e-9);
  EXPECT_LE(s.speedup_low_x, s.speedup_x);
  EXPECT_GE(s.speedup_high_x, s.speedup_x);
}

TEST(Runner, AdaptivePicksTheArgminOfTheObjectiveForTheMeasuredTimes) {
  eng::EngineConfig c = tiny_config();
  c.arch = eng::Arch::ScMoE;
  c.shortcut_position = 2;
  c.schedule = eng::Schedule::Adaptive;
  c.warmup = 2;
  c.iterations = 1;
  c.link.enabled = true;
  c.link.bandwidth_gbps = 1.0;
  c.link.latency_us = 3000;  // communication comparable to the window, so K matters
  eng::Runner runner;
  ASSERT_TRUE(runner.start(c, {}).empty());
  const eng::RunSummary s = runner.wait();
  ASSERT_TRUE(s.error.empty()) << s.error;
  const cost::OpTimes& t = s.op_times;
  EXPECT_GE(t[cost::Op::Dispatch], 3.0);  // the modelled link time is in the measured comm time
  // pos 2 window: MLP_l, Attn_l+1, SE. Objective |T_pre - T_disp| + |T_post - T_comb| per K, by hand.
  const double window[] = {t[cost::Op::MlpL], t[cost::Op::AttnL1], t[cost::Op::SharedExpert]};
  const double total = window[0] + window[1] + window[2];
  ASSERT_EQ(s.slot_table.size(), 4u);
  std::vector<double> objective, exposed;
  double pre = 0.0;
  for (int k = 1; k <= 4; ++k) {
    if (k > 1) pre += window[k - 2];
    const double d = t[cost::Op::Dispatch], cmb = t[cost::Op::Combine];
    objective.push_back(std::abs(pre - d) + std::abs(total - pre - cmb));
    exposed.push_back(std::max(0.0, d - pre) + std::max(0.0, cmb - (total - pre)));
    EXPECT_NEAR(s.slot_table[k - 1].objective_ms, objective.back(), 1e-9);
  }
  // argmin of the objective; among (rounding-level) ties the least exposed, then the smallest K.
  const double min_objective = *std::min_element(objective.begin(), objective.end());
  int best = 0;
  for (int k = 1; k <= 4; ++k) {
    if (objective[k - 1] > min_objective + 1e-9) continue;
    if (best == 0 || exposed[k - 1] < exposed[best - 1] - 1e-9) best = k;
  }
  EXPECT_EQ(s.chosen_slot, best);
  EXPECT_GT(s.predicted_ms, 0.0);
  EXPECT_GT(s.predicted_trace.span_count(), 0u);
}

TEST(Runner, CancelStopsALongRunWithinASecond) {
  eng::EngineConfig c = tiny_config();
  c.iterations = 100000;
  c.schedule = eng::Schedule::Overlap;
  c.expert_slot = 1;
  c.link.enabled = true;
  c.link.bandwidth_gbps = 1.0;
  c.link.latency_us = 5e6;  // every All-to-All holds the comm lane for 5 s
  eng::Runner runner;
  ASSERT_TRUE(runner.start(c, {}).empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(runner.running());
  const auto start = std::chrono::steady_clock::now();
  runner.cancel();
  const eng::RunSummary s = runner.wait();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 1.0);
  EXPECT_TRUE(s.cancelled);
  EXPECT_TRUE(s.error.empty()) << s.error;
  EXPECT_FALSE(runner.running());
}
