// The cost model against numbers worked out by hand from scmoe-method.md §4.
#include "scmoe/profiler/cost_model.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace cost = scmoe::prof::cost;
using cost::Op;

namespace {

// pos 2 window: MLP 3, Attn 2, SE 1; T_disp 4.5, T_comb 2.
cost::OpTimes pos2_times() {
  cost::OpTimes t;
  t[Op::AttnL] = 2.0;
  t[Op::MlpL] = 3.0;
  t[Op::AttnL1] = 2.0;
  t[Op::SharedExpert] = 1.0;
  t[Op::Gate] = 0.5;
  t[Op::Encode] = 0.25;
  t[Op::Dispatch] = 4.5;
  t[Op::Expert] = 1.5;
  t[Op::Combine] = 2.0;
  t[Op::Decode] = 0.25;
  t[Op::Output] = 0.1;
  return t;
}

std::vector<Op> lane_order(const cost::Plan& plan, cost::Lane lane) {
  std::vector<Op> ops;
  for (const auto& s : plan.steps) {
    if (s.lane == lane) ops.push_back(s.op);
  }
  return ops;
}

}  // namespace

TEST(CostModel, SlotTableMatchesHandComputedPos2) {
  const cost::UnitShape shape{cost::Arch::ScMoE, 2, true, 1};
  const auto table = cost::slot_table(pos2_times(), shape);
  ASSERT_EQ(table.size(), 4u);
  // K: T_pre, T_post, |T_pre-4.5|+|T_post-2|, max(0,4.5-T_pre)+max(0,2-T_post)
  struct Row { double pre, post, obj, exposed; };
  const Row expected[] = {{0, 6, 8.5, 4.5}, {3, 3, 2.5, 1.5}, {5, 1, 1.5, 1.0}, {6, 0, 3.5, 2.0}};
  const double compute_sum = 2 + 0.5 + 0.25 + 3 + 2 + 1 + 1.5 + 0.25 + 0.1;  // all compute ops = 10.6
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE(k + 1);
    EXPECT_EQ(table[k].slot, k + 1);
    EXPECT_DOUBLE_EQ(table[k].t_pre_ms, expected[k].pre);
    EXPECT_DOUBLE_EQ(table[k].t_post_ms, expected[k].post);
    EXPECT_DOUBLE_EQ(table[k].objective_ms, expected[k].obj);
    EXPECT_DOUBLE_EQ(table[k].exposed_ms, expected[k].exposed);
    // §4: predicted pair time = sum of all compute + X(K).
    EXPECT_NEAR(table[k].predicted_ms, compute_sum + expected[k].exposed, 1e-12);
  }
  EXPECT_EQ(cost::best_slot(table), 3);
}

TEST(CostModel, BestSlotIsArgminOfObjectiveWithTieBreaks) {
  std::vector<cost::SlotRow> table = {{1, 0, 0, 5.0, 1.0, 0}, {2, 0, 0, 2.0, 1.5, 0}, {3, 0, 0, 2.0, 0.5, 0},
                                      {4, 0, 0, 7.0, 0.0, 0}};
  EXPECT_EQ(cost::best_slot(table), 3);  // equal objective: smaller exposed wins
  table[2].exposed_ms = 1.5;
  EXPECT_EQ(cost::best_slot(table), 2);  // full tie: smaller slot wins
  EXPECT_THROW(cost::best_slot({}), std::invalid_argument);
  // Rounding-level differences are ties, not wins.
  table = {{1, 0, 0, 2.0, 1.0, 0}, {2, 0, 0, 2.0 - 1e-15, 1.0 + 1e-15, 0}};
  EXPECT_EQ(cost::best_slot(table), 1);
}

TEST(CostModel, SlotCountsPerPosition) {
  EXPECT_EQ(cost::slot_count({cost::Arch::ScMoE, 1, true, 1}), 3);
  EXPECT_EQ(cost::slot_count({cost::Arch::ScMoE, 2, true, 1}), 4);
  EXPECT_EQ(cost::slot_count({cost::Arch::ScMoE, 3, true, 1}), 5);
  EXPECT_EQ(cost::slot_count({cost::Arch::ScMoE2, 1, false, 1}), 3);
  EXPECT_EQ(cost::slot_count({cost::Arch::Top2, 2, true, 1}), 1);
}

TEST(CostModel, OverlapPlanPutsExpertAtSlotAndCommOnCommLane) {
  const auto plan = cost::build_plan({cost::Arch::ScMoE, 2, true, 1}, 2, true);
  const std::vector<Op> compute = {Op::AttnL, Op::Gate, Op::Encode, Op::MlpL, Op::Expert,
                                   Op::AttnL1, Op::SharedExpert, Op::Decode, Op::Output};
  EXPECT_EQ(lane_order(plan, cost::Lane::Compute), compute);
  EXPECT_EQ(lane_order(plan, cost::Lane::Comm), (std::vector<Op>{Op::Dispatch, Op::Combine}));
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    for (int d : plan.steps[i].deps) EXPECT_LT(d, static_cast<int>(i));
  }
  EXPECT_THROW(cost::build_plan({cost::Arch::ScMoE, 2, true, 1}, 5, true), std::invalid_argument);
}

TEST(CostModel, SequentialPlanTakesTheSumOfEverything) {
  const auto times = pos2_times();
  double sum = 0.0;
  for (double ms : times.ms) sum += ms;
  const auto plan = cost::build_plan({cost::Arch::ScMoE, 2, true, 1}, 1, false);
  EXPECT_TRUE(lane_order(plan, cost::Lane::Comm).empty());
  EXPECT_NEAR(cost::simulate_ms(plan, times, 1), sum, 1e-12);
}

TEST(CostModel, PipelinedChunksOverlapDispatchWithExperts) {
  cost::OpTimes t;
  t[Op::AttnL] = 1;
  t[Op::MlpL] = 1;
  t[Op::AttnL1] = 1;
  t[Op::Dispatch] = 4;
  t[Op::Expert] = 2;
  t[Op::Combine] = 4;
  // Unchunked top-1: 3 + 4 + 2 + 4 = 13. Two chunks (D 2, E 1, C 2 each), comm order D1 D2 C1 C2:
  // D1 [3,5] E1 [5,6] D2 [5,7] C1 [7,9] E2 [7,8] C2 [9,11] -> 11.
  EXPECT_DOUBLE_EQ(cost::simulate_ms(cost::build_plan({cost::Arch::Top1, 2, true, 1}, 1, true), t, 1), 13.0);
  EXPECT_DOUBLE_EQ(cost::simulate_ms(cost::build_plan({cost::Arch::Top1, 2, true, 2}, 1, true), t, 2), 11.0);
}

TEST(CostModel, TimesForTop2DoubleTheRoutedWorkAndDropTheSharedExpert) {
  const auto top2 = cost::times_for_arch(pos2_times(), cost::Arch::ScMoE, cost::Arch::Top2);
  EXPECT_DOUBLE_EQ(top2[Op::Expert], 3.0);
  EXPECT_DOUBLE_EQ(top2[Op::Dispatch], 9.0);
  EXPECT_DOUBLE_EQ(top2[Op::Combine], 4.0);
  EXPECT_DOUBLE_EQ(top2[Op::SharedExpert], 0.0);
  EXPECT_DOUBLE_EQ(top2[Op::MlpL], 3.0);
  const auto shared = cost::times_for_arch(top2, cost::Arch::Top2, cost::Arch::Shared);
  EXPECT_DOUBLE_EQ(shared[Op::SharedExpert], 1.5);  // one copy of the routed expert work
  // Top-2 everything serial: 2 + 3 + 2 + 0.5 + 0.5 + 9 + 3 + 4 + 0.5 + 0.1
  EXPECT_NEAR(cost::simulate_ms(cost::build_plan({cost::Arch::Top2, 2, true, 1}, 1, true), top2, 1), 24.6, 1e-12);
}

TEST(CostModel, PredictedTimelineIsFlaggedAndRepeatsUnits) {
  const auto plan = cost::build_plan({cost::Arch::ScMoE, 2, true, 1}, 3, true);
  const auto trace = cost::predicted_timeline(plan, pos2_times(), 1, 2, true);
  ASSERT_EQ(trace.tracks.size(), 2u);
  EXPECT_EQ(trace.span_count(), 2 * plan.steps.size());
  for (const auto& track : trace.tracks) {
    for (const auto& s : track.spans) {
      EXPECT_TRUE(s.has_flag(scmoe::prof::kSpanPredicted));
      EXPECT_EQ(s.has_flag(scmoe::prof::kSpanEmulated), scmoe::prof::is_communication(s.category));
    }
  }
  EXPECT_EQ(trace.end_ns(), 2 * 11'600'000);  // two units of 11.6 ms (slot 3)
}

TEST(CostModel, LinkTimeAndExchangeBytes) {
  // 1 MB at 25 GB/s = 40 us, + 20 us latency.
  EXPECT_NEAR(cost::link_transfer_ms(1e6, 25.0, 20.0), 0.060, 1e-12);
  // 512 tokens x 2 copies x 1024 hidden x 2 bytes, 7/8 of it leaves the rank.
  EXPECT_DOUBLE_EQ(cost::exchange_bytes(512, 2, 1024, 2, 8), 512.0 * 2 * 1024 * 2 * 7 / 8);
  EXPECT_DOUBLE_EQ(cost::exchange_bytes(512, 1, 1024, 4, 1), 0.0);
  EXPECT_THROW(cost::exchange_bytes(512, 1, 1024, 4, 0), std::invalid_argument);
}

// Op times of a fast and a slow rank for the top-1 serial plan (attn_l, mlp_l, attn_l+1, gate, encode, D,
// E, C, decode, output): alone, fast takes 3+2+1+2 = 8 and slow 9+2+4+2 = 17.
std::pair<cost::OpTimes, cost::OpTimes> fast_and_slow_rank() {
  cost::OpTimes fast, slow;
  for (Op op : {Op::AttnL, Op::MlpL, Op::AttnL1}) {
    fast[op] = 1;
    slow[op] = 3;
  }
  fast[Op::Dispatch] = slow[Op::Dispatch] = 2;
  fast[Op::Expert] = 1;
  slow[Op::Expert] = 4;
  fast[Op::Combine] = slow[Op::Combine] = 2;
  return {fast, slow};
}

TEST(CostModel, CollectivesWaitForTheSlowestRank) {
  // Top-1, serial plan: attn_l, mlp_l, attn_l+1, gate, encode, D, E, C, decode, output.
  const auto [fast, slow] = fast_and_slow_rank();
  const auto plan = cost::build_plan({cost::Arch::Top1, 2, true, 1}, 1, true);
  // Alone: fast 3+2+1+2 = 8, slow 9+2+4+2 = 17. Together the dispatch starts at 9 on both ranks, the
  // combine at max(9+2+1, 9+2+4) = 15 -> both end at 17. Two units: the second starts at 17 on both: 34.
  EXPECT_DOUBLE_EQ(cost::simulate_ranks_ms(plan, {fast}, 1, 1), 8.0);
  EXPECT_DOUBLE_EQ(cost::simulate_ranks_ms(plan, {fast, slow}, 1, 1), 17.0);
  EXPECT_DOUBLE_EQ(cost::simulate_ranks_ms(plan, {fast, slow}, 1, 2), 34.0);
  EXPECT_DOUBLE_EQ(cost::simulate_ranks_ms(plan, {fast}, 1, 1), cost::simulate_ms(plan, fast, 1));
}

TEST(CostModel, MeasuredOpTimesPerRankAndMedianOverIterations) {
  scmoe::prof::Trace trace;
  const auto add = [&](int rank, const char* name, int layer, std::int64_t ms) {
    const auto track = trace.track_for({rank, 0, scmoe::prof::DeviceKind::Cpu, scmoe::prof::TrackKind::ComputeLane, 0, "compute"});
    scmoe::prof::Span s;
    s.name = trace.strings.intern(name);
    s.layer = layer;
    s.end_ns = ms * 1'000'000;
    trace.tracks[track].spans.push_back(s);
  };
  add(0, "expert", 1, 2);  // two chunks of one instance add up
  add(0, "expert", 1, 4);
  add(0, "expert", 3, 2);  // a second unit
  add(1, "expert", 1, 10);
  add(1, "mlp_l", 0, 7);
  const auto per_rank = cost::measured_op_times_per_rank(trace);
  ASSERT_EQ(per_rank.size(), 2u);
  EXPECT_DOUBLE_EQ(per_rank[0][Op::Expert], 4.0);   // (2 + 4 + 2) / 2 instances
  EXPECT_DOUBLE_EQ(per_rank[1][Op::Expert], 10.0);
  EXPECT_DOUBLE_EQ(per_rank[0][Op::MlpL], 0.0);
  EXPECT_DOUBLE_EQ(per_rank[1][Op::MlpL], 7.0);
  // All ranks: 18 ms over 3 instances = 6; the median over three such iterations with 6, 6, 60 is 6.
  scmoe::prof::Trace slow = trace;
  slow.tracks[0].spans[0].end_ns = 164'000'000;  // (164 + 4 + 2 + 10) / 3 = 60
  EXPECT_DOUBLE_EQ(cost::measured_op_times({trace, trace, slow})[Op::Expert], 6.0);
}

TEST(CostModel, TimesForTop2ScaleOnlyTheBandwidthPartAndTheExpertRows) {
  // scmoe measured with a 0.5 ms link latency and 2 expert calls per rank (n = 2, k = 1).
  cost::RoutedWork work;
  work.link_latency_ms = 0.5;
  work.local_experts = 2;
  const auto top2 = cost::times_for_arch(pos2_times(), cost::Arch::ScMoE, cost::Arch::Top2, work);
  // Link: 0.5 + (4.5 - 0.5) x 2 = 8.5 and 0.5 + (2 - 0.5) x 2 = 3.5.
  EXPECT_DOUBLE_EQ(top2[Op::Dispatch], 8.5);
  EXPECT_DOUBLE_EQ(top2[Op::Combine], 3.5);
  // SE = f + cT = 1, E = 2f + cT = 1.5 -> cT = 0.5, f = 0.5; top-2: 2f + 2cT = 2.0.
  EXPECT_DOUBLE_EQ(top2[Op::Expert], 2.0);
  EXPECT_DOUBLE_EQ(top2[Op::Encode], 0.5);
  EXPECT_DOUBLE_EQ(top2[Op::Decode], 0.5);
  EXPECT_DOUBLE_EQ(top2[Op::SharedExpert], 0.0);
  // Serial top-2: 2 + 3 + 2 + 0.5 + 0.5 + 8.5 + 2 + 3.5 + 0.5 + 0.1 = 22.6 (proportional scaling: 24.6).
  EXPECT_NEAR(cost::simulate_ms(cost::build_plan({cost::Arch::Top2, 2, true, 1}, 1, false), top2, 1), 22.6, 1e-12);
  // Back to one copy gives the measured times.
  const auto same = cost::times_for_arch(pos2_times(), cost::Arch::ScMoE, cost::Arch::ScMoE, work);
  EXPECT_EQ(same.ms, pos2_times().ms);
  // All of the expert time per call (E = 2 SE: c T = 0): top-2 costs no more expert time.
  cost::OpTimes calls = pos2_times();
  calls[Op::Expert] = 2.0;
  EXPECT_DOUBLE_EQ(cost::times_for_arch(calls, cost::Arch::ScMoE, cost::Arch::Top2, work)[Op::Expert], 2.0);
  // An exchange shorter than the latency is all latency.
  calls[Op::Combine] = 0.3;
  EXPECT_DOUBLE_EQ(cost::times_for_arch(calls, cost::Arch::ScMoE, cost::Arch::Top2, work)[Op::Combine], 0.3);
}

TEST(CostModel, OverheadsDelayHandOffsCollectivesAndLaneSteps) {
  // pos 2, K = 2; hand-off 0.1, collective 0.2, step gap 0.05. By hand:
  // attn_l [0,2], gate [2.05,2.55], encode [2.6,2.85], dispatch [3.05,7.55], mlp_l [2.9,5.9],
  // expert [7.65,9.15], attn_l+1 [9.2,11.2], combine [9.35,11.35], SE [11.25,12.25],
  // decode [12.3,12.55], output [12.6,12.7].
  cost::Overheads o;
  o.handoff_ms = 0.1;
  o.collective_ms = 0.2;
  o.step_gap_ms = 0.05;
  const auto plan = cost::build_plan({cost::Arch::ScMoE, 2, true, 1}, 2, true);
  EXPECT_NEAR(cost::simulate_ms(plan, pos2_times(), 1, o), 12.7, 1e-12);
  EXPECT_NEAR(cost::simulate_ms(plan, pos2_times(), 1), 12.1, 1e-12);  // 10.6 + X(2) = 1.5
  EXPECT_NEAR(cost::simulate_ranks_ms(plan, {pos2_times(), pos2_times()}, 1, 1, o), 12.7, 1e-12);
  o.frame_ms = 0.4;
  EXPECT_NEAR(cost::predict_iteration_ms(plan, {{pos2_times()}}, 1, 1, o), 13.1, 1e-12);
}

TEST(CostModel, PredictionRunsEachMeasuredIterationAndTakesTheMedian) {
  // Top-1 serial plan as in CollectivesWaitForTheSlowestRank: fast alone 8, a slow rank makes it 17.
  const auto [fast, slow] = fast_and_slow_rank();
  const auto plan = cost::build_plan({cost::Arch::Top1, 2, true, 1}, 1, true);
  // Iterations: rank 1 slow, both fast, rank 0 slow -> 17, 8, 17: median 17. Each rank's median op
  // times would be "fast" on both ranks (8): the barrier waits would vanish.
  const std::vector<std::vector<cost::OpTimes>> samples = {{fast, slow}, {fast, fast}, {slow, fast}};
  cost::Overheads o;
  o.frame_ms = 0.5;
  EXPECT_DOUBLE_EQ(cost::predict_iteration_ms(plan, samples, 1, 1, o), 17.5);
  EXPECT_DOUBLE_EQ(cost::predict_iteration_ms(plan, {}, 1, 1, o), 0.0);
}

TEST(CostModel, OverheadsMeasuredFromSpanGaps) {
  // Two ranks running the top-1 overlap plan once. Compute lane: attn_l, mlp_l, attn_l+1, gate, encode,
  // expert, decode, output; comm lane: dispatch, combine. Times in ms.
  namespace prof = scmoe::prof;
  prof::Trace trace;
  const auto add = [&](int rank, bool comm, const char* name, int layer, double begin, double end) {
    const auto track = trace.track_for({rank, 0, prof::DeviceKind::Cpu, comm ? prof::TrackKind::CommLane : prof::TrackKind::ComputeLane,
                                        comm ? 1 : 0, comm ? "comm" : "compute"});
    prof::Span s;
    s.name = trace.strings.intern(name);
    s.layer = layer;
    s.op_instance = 0;
    s.start_ns = static_cast<std::int64_t>(begin * 1e6 + 0.5);
    s.end_ns = static_cast<std::int64_t>(end * 1e6 + 0.5);
    trace.tracks[track].spans.push_back(s);
  };
  for (int r = 0; r < 2; ++r) {
    add(r, false, "attn_l", 0, 0.0, 1.0);
    add(r, false, "mlp_l", 0, 1.1, 2.0);      // gap 0.1
    add(r, false, "attn_l+1", 1, 2.1, 3.0);   // gap 0.1
    add(r, false, "gate", 1, 3.2, 3.5);       // gap 0.2
    add(r, false, "encode", 1, 3.6, r == 0 ? 4.0 : 4.2);  // gap 0.1
    add(r, true, "dispatch", 1, 4.5, 6.0);    // last rank ready at 4.2: collective 0.3
    add(r, false, "expert", 1, 6.3, r == 0 ? 7.0 : 7.3);  // hand-off 0.3
    add(r, true, "combine", 1, 7.4, 8.0);     // last rank ready at 7.3: collective 0.1
    add(r, false, "decode", 1, 8.2, 8.5);     // hand-off 0.2
    add(r, false, "output", 1, 8.6, 8.7);     // gap 0.1
  }
  trace.finalize();
  const cost::UnitShape shape{cost::Arch::Top1, 2, true, 1};
  const auto o = cost::measured_overheads({trace}, {9.0}, cost::build_plan(shape, 1, true), shape);
  EXPECT_NEAR(o.step_gap_ms, 0.12, 1e-9);     // mean of 0.1 x 8, 0.2 x 2
  EXPECT_NEAR(o.handoff_ms, 0.25, 1e-9);      // mean of 0.3, 0.3, 0.2, 0.2
  EXPECT_NEAR(o.collective_ms, 0.2, 1e-9);    // mean of 0.3, 0.3, 0.1, 0.1
  EXPECT_NEAR(o.frame_ms, 0.3, 1e-9);         // 9.0 - (8.7 - 0)
}

TEST(CostModel, ReplanSwitchesOnlyForAGainAboveTheResolution) {
  const cost::UnitShape shape{cost::Arch::ScMoE, 2, true, 1};
  // pos2_times: X(K) = 4.5, 1.5, 1.0, 2.0 and the objective picks K = 3.
  EXPECT_EQ(cost::replan_slot(pos2_times(), shape, 2, 0.4), 3);  // gain 0.5
  EXPECT_EQ(cost::replan_slot(pos2_times(), shape, 2, 0.6), 2);  // gain 0.5 is within the noise
  EXPECT_EQ(cost::replan_slot(pos2_times(), shape, 4, 0.6), 3);  // gain 1.0
  EXPECT_EQ(cost::replan_slot(pos2_times(), shape, 3, 0.0), 3);
  // The communication moves to the combine (dispatch 0.5, combine 5.5). By hand: K=1: pre 0, post 6 ->
  // X = 0.5 + 0 = 0.5; K=3: pre 5, post 1 -> X = 0 + 4.5 = 4.5. The expert moves to the front.
  cost::OpTimes moved = pos2_times();
  moved[Op::Dispatch] = 0.5;
  moved[Op::Combine] = 5.5;
  EXPECT_EQ(cost::replan_slot(moved, shape, 3, 1.0), 1);
}
