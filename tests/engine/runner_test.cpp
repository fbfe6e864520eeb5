// The public Runner: validation before anything runs, A/B statistics, the adaptive choice of K, cancel.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <string>
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

namespace {
// Per op: the spans' total duration / number of (rank, layer) instances in one iteration (a plain loop
// over the trace), as the cost model is fed.
std::map<std::string, double> unit_op_ms(const scmoe::prof::Trace& trace) {
  std::map<std::string, double> total;
  std::map<std::string, std::set<std::pair<int, int>>> instances;
  for (const auto& track : trace.tracks) {
    for (const auto& span : track.spans) {
      const std::string name(trace.name_of(span));
      total[name] += static_cast<double>(span.end_ns - span.start_ns) / 1e6;
      instances[name].insert({track.info.rank, span.layer});
    }
  }
  for (auto& [name, ms] : total) ms /= static_cast<double>(instances[name].size());
  return total;
}
}  // namespace

TEST(Runner, AdaptiveReplansFromTheRecentIterationsAndReportsEachSwitch) {
  eng::EngineConfig c = tiny_config();
  c.arch = eng::Arch::ScMoE;
  c.shortcut_position = 2;
  c.schedule = eng::Schedule::Adaptive;
  c.dropless = true;  // the tokens per expert, and so the exchanged bytes, change every iteration
  c.warmup = 3;       // also the re-plan window
  c.iterations = 7;
  c.link.enabled = true;
  c.link.bandwidth_gbps = 0.01;
  c.link.latency_us = 200;  // communication of the order of the window
  std::vector<int> slots;
  std::vector<double> predicted, wall_ms;
  std::vector<scmoe::prof::Trace> traces;
  eng::Runner runner;
  ASSERT_TRUE(runner.start(c, {[&](const eng::IterationResult& r) {
                                 slots.push_back(r.slot);
                                 predicted.push_back(r.predicted_ms);
                                 wall_ms.push_back(r.time_ms);
                                 traces.push_back(r.trace);
                               },
                               nullptr, nullptr})
                  .empty());
  const eng::RunSummary s = runner.wait();
  ASSERT_TRUE(s.error.empty()) << s.error;
  ASSERT_EQ(slots.size(), 7u);
  EXPECT_EQ(slots[0], s.chosen_slot);
  EXPECT_GT(s.predicted_ms, 0.0);
  for (double p : predicted) EXPECT_GT(p, 0.0);
  EXPECT_DOUBLE_EQ(s.online_predicted_ms, median_of(predicted));
  // From iteration 3 on, the window (3 iterations) holds measured iterations only: recompute the rule.
  for (std::size_t i = 2; i + 1 < slots.size(); ++i) {
    SCOPED_TRACE(i);
    std::map<std::string, std::vector<double>> window;
    std::vector<double> unit_ms;
    for (std::size_t j = i - 2; j <= i; ++j) {
      for (const auto& [name, v] : unit_op_ms(traces[j])) window[name].push_back(v);
      unit_ms.push_back(wall_ms[j] / c.pairs);
    }
    const auto med = [&](const char* name) { return median_of(window.at(name)); };
    // Resolution: median absolute deviation of the unit time (wall / pairs) over the window.
    const double unit_median = median_of(unit_ms);
    for (double& v : unit_ms) v = std::abs(v - unit_median);
    const double resolution = median_of(unit_ms);
    const double w[] = {med("mlp_l"), med("attn_l+1"), med("shared_expert")};
    const double d = med("dispatch"), cmb = med("combine");
    double objective[4], exposed[4], pre = 0.0;
    for (int k = 1; k <= 4; ++k) {
      if (k > 1) pre += w[k - 2];
      const double post = w[0] + w[1] + w[2] - pre;
      objective[k - 1] = std::abs(pre - d) + std::abs(post - cmb);
      exposed[k - 1] = std::max(0.0, d - pre) + std::max(0.0, cmb - post);
    }
    // argmin of the objective; rounding-level ties (1e-9 relative) go to the less exposed, then smaller K.
    const auto same = [](double a, double b) { return std::abs(a - b) <= 1e-9 * std::max({1.0, a, b}); };
    int best = 1;
    for (int k = 2; k <= 4; ++k) {
      if (same(objective[k - 1], objective[best - 1])) {
        if (!same(exposed[k - 1], exposed[best - 1]) && exposed[k - 1] < exposed[best - 1]) best = k;
      } else if (objective[k - 1] < objective[best - 1]) {
        best = k;
      }
    }
    const int current = slots[i];
    const int expected = exposed[current - 1] - exposed[best - 1] > resolution ? best : current;
    EXPECT_EQ(slots[i + 1], expected);
  }
  // Every change of K is reported once, at the first iteration that ran the new K.
  std::size_t changes = 0;
  for (std::size_t i = 1; i < slots.size(); ++i) {
    if (slots[i] == slots[i - 1]) continue;
    ASSERT_LT(changes, s.slot_switches.size());
    const eng::SlotSwitch& sw = s.slot_switches[changes++];
    EXPECT_EQ(sw.iteration, static_cast<int>(i));
    EXPECT_EQ(sw.from_slot, slots[i - 1]);
    EXPECT_EQ(sw.to_slot, slots[i]);
    EXPECT_GT(sw.exposed_from_ms, sw.exposed_to_ms);
  }
  EXPECT_EQ(changes, s.slot_switches.size());
}
