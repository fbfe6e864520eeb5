// What-if simulator and live-run statistics against hand-computed references.
#include <gtest/gtest.h>

#include <algorithm>

#include "scmoe/ui/live_run_model.h"
#include "scmoe/ui/what_if.h"

using namespace scmoe;
using namespace scmoe::ui;
using prof::cost::Op;

namespace {

// One rank-0 compute + comm lane with `units` units of the given per-op milliseconds, named like the
// engine names its operator spans.
prof::Trace engine_like_trace(const prof::cost::OpTimes& ms, int units) {
  prof::Trace t;
  const auto compute = t.track_for({0, 0, prof::DeviceKind::Cpu, prof::TrackKind::ComputeLane, 0, "compute"});
  const auto comm = t.track_for({0, 0, prof::DeviceKind::Cpu, prof::TrackKind::CommLane, 1, "comm"});
  std::int64_t now = 0;
  for (int u = 0; u < units; ++u) {
    for (int i = 0; i < prof::cost::kOpCount; ++i) {
      const auto op = static_cast<Op>(i);
      if (ms[op] <= 0) continue;
      prof::Span s;
      s.start_ns = now;
      s.end_ns = now + static_cast<std::int64_t>(ms[op] * 1e6);
      s.name = t.strings.intern(prof::cost::op_name(op));
      s.category = prof::cost::op_category(op);
      s.layer = 2 * u + (op == Op::AttnL || op == Op::MlpL ? 0 : 1);
      now = s.end_ns;
      const bool on_comm = op == Op::Dispatch || op == Op::Combine;
      t.tracks[on_comm ? comm : compute].spans.push_back(s);
    }
  }
  t.finalize();
  return t;
}

prof::cost::OpTimes sample_times() {
  prof::cost::OpTimes ms;
  ms[Op::AttnL] = 1.0;
  ms[Op::MlpL] = 2.0;
  ms[Op::AttnL1] = 1.0;
  ms[Op::SharedExpert] = 0.5;
  ms[Op::Gate] = 0.1;
  ms[Op::Encode] = 0.2;
  ms[Op::Dispatch] = 1.5;
  ms[Op::Expert] = 0.5;
  ms[Op::Combine] = 1.5;
  ms[Op::Decode] = 0.2;
  ms[Op::Output] = 0.1;
  return ms;
}

}  // namespace

TEST(WhatIf, MeasuresOpTimesPerUnitAndRejectsImportedTraces) {
  const prof::cost::OpTimes ms = sample_times();
  engine::EngineConfig config;
  std::string error;
  const auto m = measure_ops({engine_like_trace(ms, 3)}, config, engine::Arch::ScMoE, &error);
  ASSERT_TRUE(m) << error;
  for (int i = 0; i < prof::cost::kOpCount; ++i) EXPECT_NEAR(m->times.ms[std::size_t(i)], ms.ms[std::size_t(i)], 1e-6) << i;
  prof::Trace imported;
  imported.track_for({0, 0, prof::DeviceKind::Gpu, prof::TrackKind::CudaStream, 7, "stream 7"});
  EXPECT_FALSE(measure_ops({imported}, config, engine::Arch::ScMoE, &error));
  EXPECT_NE(error.find("attn_l+1"), std::string::npos);
  engine::RunSummary no_warmup;
  EXPECT_FALSE(measured_from_run(no_warmup, config));
  engine::RunSummary run;
  run.op_times = ms;
  ASSERT_TRUE(measured_from_run(run, config));
  EXPECT_EQ(measured_from_run(run, config)->times.ms, ms.ms);
}

TEST(WhatIf, SequentialTop2IsTheSumOfItsOps) {
  prof::cost::OpTimes ms = sample_times();
  ms[Op::SharedExpert] = 0.0;  // top-2 has no shared expert
  const prof::Trace t = engine_like_trace(ms, 2);
  engine::EngineConfig config;
  config.arch = engine::Arch::Top2;
  config.schedule = engine::Schedule::Sequential;
  config.pairs = 3;
  std::string error;
  const auto m = measure_ops({t}, config, engine::Arch::Top2, &error);
  ASSERT_TRUE(m) << error;
  double sum = 0;
  for (double v : ms.ms) sum += v;
  const WhatIfResult r = predict(*m, config);
  EXPECT_NEAR(r.unit_ms, sum, 1e-9);
  EXPECT_NEAR(r.iteration_ms, 3 * sum, 1e-9);
  EXPECT_NEAR(r.top2_iteration_ms, 3 * sum, 1e-9);
  EXPECT_NEAR(r.speedup_x(), 1.0, 1e-12);
}

TEST(WhatIf, ChangingKMovesTheExpertInThePredictedTimeline) {
  const prof::Trace t = engine_like_trace(sample_times(), 1);
  engine::EngineConfig config;
  config.arch = engine::Arch::ScMoE;
  config.shortcut_position = 2;
  config.schedule = engine::Schedule::Overlap;
  std::string error;
  const auto m = measure_ops({t}, config, engine::Arch::ScMoE, &error);
  ASSERT_TRUE(m) << error;
  auto expert_start = [](const prof::Trace& trace) {
    const auto id = trace.strings.find("expert");
    for (const auto& track : trace.tracks)
      for (const auto& s : track.spans)
        if (id && s.name == *id) return s.start_ns;
    return std::int64_t{-1};
  };
  config.expert_slot = 1;
  const WhatIfResult k1 = predict(*m, config);
  config.expert_slot = 3;
  const WhatIfResult k3 = predict(*m, config);
  EXPECT_EQ(k1.chosen_slot, 1);
  EXPECT_EQ(k3.chosen_slot, 3);
  ASSERT_GE(expert_start(k1.timeline), 0);
  // K = 3 runs MLP_l and Attn_l+1 (3 ms) before the expert that K = 1 runs first.
  EXPECT_GT(expert_start(k3.timeline), expert_start(k1.timeline));
  ASSERT_EQ(k1.table.size(), 4u);  // pos 2: four slots
  for (const auto& span : k1.timeline.tracks[0].spans) EXPECT_TRUE(span.has_flag(prof::kSpanPredicted));
  // Adaptive picks the argmin of the objective in the table.
  config.schedule = engine::Schedule::Adaptive;
  const WhatIfResult adaptive = predict(*m, config);
  const auto best = std::min_element(adaptive.table.begin(), adaptive.table.end(),
                                     [](const auto& a, const auto& b) { return a.objective_ms < b.objective_ms; });
  EXPECT_EQ(adaptive.chosen_slot, best->slot);
}

TEST(WhatIf, CommRescalesWithBandwidthAndOffRankShare) {
  engine::EngineConfig from, to;
  from.link = {true, 16.0, 10.0, ""};
  from.ep_size = 4;
  to.link = {true, 32.0, 10.0, ""};
  to.ep_size = 8;
  // (2.0 - 0.01) * ((7/8) / (3/4)) * (16 / 32) + 0.01
  EXPECT_NEAR(rescale_comm_ms(2.0, from, to), 1.99 * (0.875 / 0.75) * 0.5 + 0.01, 1e-12);
  to.link.enabled = false;
  EXPECT_DOUBLE_EQ(rescale_comm_ms(2.0, from, to), 2.0);
}

TEST(LiveRunModel, SpeedupMedianAndQuartilesOfPairRatios) {
  const std::vector<double> arch = {10, 8, 12, 10};
  const std::vector<double> top2 = {15, 12, 12, 20};
  const SpeedupStats s = speedup_stats(arch, top2);
  // median(top2) = 13.5, median(arch) = 10; ratios sorted 1.0 1.5 1.5 2.0 -> q25 = 1.375, q75 = 1.625.
  EXPECT_DOUBLE_EQ(s.median_x, 1.35);
  EXPECT_DOUBLE_EQ(s.low_x, 1.375);
  EXPECT_DOUBLE_EQ(s.high_x, 1.625);
  EXPECT_EQ(s.pairs, 4);
  EXPECT_EQ(speedup_stats({}, {}).pairs, 0);
}

TEST(LiveRunModel, SplitsArchAndBaselineIterations) {
  LiveRunModel model;
  engine::EngineConfig config;
  config.arch = engine::Arch::ScMoE;
  config.ab_against_top2 = true;
  model.reset(config);
  for (int i = 0; i < 4; ++i) {
    auto r = std::make_shared<engine::IterationResult>();
    r->iteration = i;
    r->arch = i % 2 ? engine::Arch::Top2 : engine::Arch::ScMoE;
    r->time_ms = i % 2 ? 15.0 : 10.0;
    r->tokens_dropped = i % 2 ? 100 : 3;
    r->similarity = {{1, 0.9, 0.1}};
    model.add(r);
  }
  EXPECT_EQ(model.archTimes(), (std::vector<double>{10.0, 10.0}));
  EXPECT_EQ(model.top2Times(), (std::vector<double>{15.0, 15.0}));
  EXPECT_EQ(model.tokensDropped(), 6);  // only the chosen arch's iterations
  EXPECT_DOUBLE_EQ(model.meanCosine(), 0.9);
  EXPECT_DOUBLE_EQ(model.speedup().median_x, 1.5);
  bool has_percent = false;
  for (const auto& [k, v] : model.summaryRows()) has_percent = has_percent || v.find("% time") != std::string::npos;
  EXPECT_TRUE(has_percent);
  // After the run: the engine's prediction against the measured median (10 ms): 12 ms is +20 %.
  engine::RunSummary summary;
  summary.predicted_ms = 12.0;
  model.finish(summary);
  std::string prediction;
  for (const auto& [k, v] : model.summaryRows())
    if (k == "cost-model prediction") prediction = v;
  EXPECT_EQ(prediction, "12.00 ms (error 20.0 %)");
}
