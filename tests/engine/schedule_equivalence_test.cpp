// Schedules change when operators run, never what they compute: the overlap plan at every slot K, the
// pipelined plan and expert parallelism over N ranks give the sequential / single-rank outputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "engine_test_support.h"

namespace eng = scmoe::engine;
namespace cost = scmoe::prof::cost;
using eng::testing::forward;
using eng::testing::tiny_config;

namespace {

void expect_bitwise_equal(const eng::ForwardResult& a, const eng::ForwardResult& b) {
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (std::size_t r = 0; r < a.outputs.size(); ++r) EXPECT_TRUE(at::equal(a.outputs[r], b.outputs[r])) << "rank " << r;
  EXPECT_EQ(a.tokens_dropped, b.tokens_dropped);
  EXPECT_EQ(a.aux_loss, b.aux_loss);
}

const scmoe::prof::Span* find_span(const scmoe::prof::Trace& trace, int rank, std::string_view name) {
  for (const auto& track : trace.tracks) {
    if (track.info.rank != rank) continue;
    for (const auto& s : track.spans) {
      if (trace.name_of(s) == name) return &s;
    }
  }
  return nullptr;
}

}  // namespace

TEST(ScheduleEquivalence, OverlapAtEverySlotEqualsSequentialBitwise) {
  for (eng::Arch arch : {eng::Arch::ScMoE, eng::Arch::ScMoE2}) {
    for (int pos = 1; pos <= 3; ++pos) {
      eng::EngineConfig c = tiny_config();
      c.arch = arch;
      c.shortcut_position = pos;
      c.capacity_factor = 1.0;  // with drops
      const eng::ModelWeights weights = eng::make_weights(c);
      const eng::ForwardResult sequential = forward(c, weights, arch, 1, false);
      for (int k = 1; k <= eng::expert_slots(pos); ++k) {
        SCOPED_TRACE(testing::Message() << eng::to_string(arch) << " pos " << pos << " K " << k);
        expect_bitwise_equal(forward(c, weights, arch, k, true), sequential);
      }
    }
  }
}

TEST(ScheduleEquivalence, BaselinesOnTheCommLaneEqualSequential) {
  eng::EngineConfig c = tiny_config();
  const eng::ModelWeights weights = eng::make_weights(c);
  for (eng::Arch arch : {eng::Arch::Top2, eng::Arch::Top1, eng::Arch::Shared}) {
    SCOPED_TRACE(eng::to_string(arch));
    expect_bitwise_equal(forward(c, weights, arch, 1, true), forward(c, weights, arch, 1, false));
  }
}

TEST(ScheduleEquivalence, PipelinedChunksEqualOneChunk) {
  for (eng::Arch arch : {eng::Arch::Top2, eng::Arch::ScMoE}) {
    eng::EngineConfig c = tiny_config();
    c.arch = arch;
    const eng::ModelWeights weights = eng::make_weights(c);
    const eng::ForwardResult whole = forward(c, weights, arch, 1, false);
    c.pipeline_chunks = 3;
    const eng::ForwardResult chunked = forward(c, weights, arch, arch == eng::Arch::Top2 ? 1 : 2, true);
    for (std::size_t r = 0; r < whole.outputs.size(); ++r) {
      // Same products; only the order in which a token's two expert outputs are added may differ.
      EXPECT_TRUE(at::allclose(chunked.outputs[r], whole.outputs[r], 1e-6, 1e-6)) << eng::to_string(arch);
    }
    int dispatches = 0;
    for (const auto& track : chunked.trace.tracks) {
      for (const auto& s : track.spans) dispatches += chunked.trace.name_of(s) == "dispatch" ? 1 : 0;
    }
    EXPECT_EQ(dispatches, 3 * c.ep_size);
  }
}

TEST(ScheduleEquivalence, ExpertParallelRanksEqualOneRankHoldingAllExperts) {
  eng::EngineConfig split = tiny_config();
  split.ep_size = 4;
  split.dropless = true;  // capacity is per rank, so only dropless routing is independent of the split
  eng::EngineConfig single = split;
  single.ep_size = 1;
  single.tokens_per_rank = split.tokens_per_rank * split.ep_size;
  for (eng::Arch arch : {eng::Arch::Top2, eng::Arch::ScMoE}) {
    const eng::ModelWeights weights = eng::make_weights(split);  // same seed, same weights for both
    const int slot = arch == eng::Arch::Top2 ? 1 : 2;
    const eng::ForwardResult n_ranks = forward(split, weights, arch, slot, true);
    const eng::ForwardResult one_rank = forward(single, weights, arch, slot, true);
    const at::Tensor joined = at::cat(n_ranks.outputs, 0);
    EXPECT_TRUE(at::allclose(joined, one_rank.outputs[0], 1e-5, 1e-5))
        << eng::to_string(arch) << " max diff " << (joined - one_rank.outputs[0]).abs().max().item<double>();
  }
}

TEST(ScheduleEquivalence, EmulatedLinkHoldsTheCommLaneWhileComputeRuns) {
  eng::EngineConfig c = tiny_config();
  c.arch = eng::Arch::ScMoE;
  c.shortcut_position = 3;
  c.link.enabled = true;
  c.link.bandwidth_gbps = 100.0;
  c.link.latency_us = 30'000;  // 30 ms per All-to-All, far above the tiny compute
  const eng::ModelWeights weights = eng::make_weights(c);
  const eng::ForwardResult overlapped = forward(c, weights, eng::Arch::ScMoE, 5, true);
  eng::EngineConfig plain = c;
  plain.link = eng::LinkModel{};
  expect_bitwise_equal(overlapped, forward(plain, weights, eng::Arch::ScMoE, 5, true));
  for (int r = 0; r < c.ep_size; ++r) {
    const auto* dispatch = find_span(overlapped.trace, r, "dispatch");
    const auto* shared_expert = find_span(overlapped.trace, r, "shared_expert");
    const auto* expert = find_span(overlapped.trace, r, "expert");
    ASSERT_TRUE(dispatch && shared_expert && expert);
    EXPECT_TRUE(dispatch->has_flag(scmoe::prof::kSpanEmulated));
    EXPECT_GE(dispatch->duration_ns(), 30'000'000);
    // K = 5 at position 3: the whole window (Attn_l .. SE) computes while the dispatch is in flight, and
    // the experts wait for it.
    EXPECT_LT(shared_expert->end_ns, dispatch->end_ns);
    EXPECT_GE(expert->start_ns, dispatch->end_ns);
  }
  // Every cross-lane dependency of the plan is a flow, and each flow goes forward in time.
  const auto plan = cost::build_plan(eng::testing::shape_of(c, eng::Arch::ScMoE), 5, true);
  std::size_t cross_lane = 0;
  for (const auto& step : plan.steps) {
    for (int d : step.deps) cross_lane += plan.steps[static_cast<std::size_t>(d)].lane != step.lane ? 1 : 0;
  }
  const auto& trace = overlapped.trace;
  ASSERT_EQ(trace.flows.size(), cross_lane * static_cast<std::size_t>(c.ep_size));
  for (const auto& flow : trace.flows) {
    const auto& from = trace.tracks[flow.from.track].spans[flow.from.span];
    const auto& to = trace.tracks[flow.to.track].spans[flow.to.span];
    EXPECT_LE(from.end_ns, to.start_ns) << trace.name_of(from) << " -> " << trace.name_of(to);
  }
}

TEST(ScheduleEquivalence, AnOperatorErrorOnOneRankEndsThePassWithThatError) {
  eng::EngineConfig c = tiny_config();
  eng::EngineConfig wider = c;
  wider.hidden = 32;  // weights whose shapes do not fit the inputs: ATen throws inside the first op
  const eng::ModelWeights weights = eng::make_weights(wider);
  eng::AbortSignal abort;
  eng::ForwardExecutor executor(c, weights, abort);
  const auto plan = cost::build_plan(eng::testing::shape_of(c, eng::Arch::ScMoE), 2, true);
  const auto start = std::chrono::steady_clock::now();
  try {
    executor.run(eng::Arch::ScMoE, plan, 0, eng::make_rank_inputs(c, 0));
    ADD_FAILURE() << "expected the shape error";
  } catch (const eng::Cancelled&) {
    ADD_FAILURE() << "the error itself must come out, not a cancellation";
  } catch (const std::exception& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find("rank "), 0u) << message;                            // where it happened
    EXPECT_NE(message.find("attn_l: "), std::string::npos) << message;          // the first op of the unit
    EXPECT_NE(message.find("normalized_shape"), std::string::npos) << message;  // ATen's reason
    EXPECT_EQ(message.find("frame #"), std::string::npos) << message;           // without the backtrace
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
}
