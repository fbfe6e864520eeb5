// Ranks side by side on a hand-built two-rank trace (numbers derived below), matched by sequence numbers and
// by order; and what the rules did not understand (rule_coverage).
#include <gtest/gtest.h>

#include "scmoe/profiler/analysis/collectives.h"
#include "scmoe/profiler/analysis/rule_coverage.h"

namespace scmoe::prof::analysis {
namespace {

// Two ranks, one GPU each: a compute stream (7) and a comm stream (20). Times in ns.
//
//   rank 0: compute [0, 100]                comm: SendRecv #1 [100, 300]  SendRecv #2 [400, 500]
//   rank 1: compute [0, 250]                comm: SendRecv #1 [250, 300]  SendRecv #2 [420, 470]
//   (with `extra`: rank 1 also ran a SendRecv #0 [0, 10] that rank 0's trace does not have)
//
// Collective #1: arrivals 100 (r0), 250 (r1): wait 150, straggler rank 1. Rank 0 waited
//   [100, min(300, 250)] = [100, 250] = 150 ns, none of it under computation (rank 0 computes until 100).
// Collective #2: arrivals 400, 420: wait 20, straggler rank 1; rank 0 waited [400, 420] = 20 ns.
// Rank 0: comm [100, 300] + [400, 500] = 300 ns, all exposed; waiting 170 ns = 56.67 %.
// Rank 1: comm [250, 300] + [420, 470] = 100 ns; compute [0, 250] touches but does not cover it: exposed
//   100 ns, waiting 0 (it arrived last both times).
// Iterations (span tags): #1 and the compute in iteration 0, #2 in iteration 1. Rank 0 in iteration 0:
//   comm [100, 300] exposed 200, waiting 150 (75 %); in iteration 1: exposed 100, waiting 20 (20 %).
Trace two_ranks(bool with_sequence, bool extra) {
  Trace t;
  const std::uint32_t name = t.strings.intern("ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)");
  const std::uint32_t gemm = t.strings.intern("gemm");
  const std::uint32_t seq_key = t.strings.intern("Seq");
  const std::uint32_t group_key = t.strings.intern("Process Group Name");
  auto add = [&](std::int32_t rank, std::int64_t stream, std::int64_t a, std::int64_t b, std::uint32_t n, Category c,
                 std::int32_t iteration, int seq) {
    const std::uint32_t track =
        t.track_for({rank, 0, DeviceKind::Gpu, TrackKind::CudaStream, stream, "stream " + std::to_string(stream)});
    Span s;
    s.start_ns = a;
    s.end_ns = b;
    s.name = n;
    s.category = c;
    s.iteration = iteration;
    if (seq >= 0 && with_sequence) s.args = t.add_args({Arg{seq_key, std::to_string(seq)}, Arg{group_key, "0"}});
    t.tracks[track].spans.push_back(s);
  };
  add(0, 7, 0, 100, gemm, Category::Other, 0, -1);
  add(0, 20, 100, 300, name, Category::OtherComm, 0, 1);
  add(0, 20, 400, 500, name, Category::OtherComm, 1, 2);
  add(1, 7, 0, 250, gemm, Category::Other, 0, -1);
  if (extra) add(1, 20, 0, 10, name, Category::OtherComm, 0, 0);
  add(1, 20, 250, 300, name, Category::OtherComm, 0, 1);
  add(1, 20, 420, 470, name, Category::OtherComm, 1, 2);
  t.finalize();
  return t;
}

const RankWait* find(const CollectivesReport& r, std::int32_t rank, std::int32_t iteration) {
  for (const RankWait& w : r.rank_waits) {
    if (w.rank == rank && w.iteration == iteration) return &w;
  }
  return nullptr;
}

void expect_hand_derived(const CollectivesReport& r) {
  ASSERT_EQ(r.ranks, (std::vector<std::int32_t>{0, 1}));
  ASSERT_EQ(r.collectives.size(), 2u);
  EXPECT_EQ(r.collectives[0].name, "ncclDevKernel_SendRecv");
  EXPECT_EQ(r.collectives[0].wait_ns, 150);
  EXPECT_EQ(r.collectives[0].straggler, 1);
  EXPECT_EQ(r.collectives[1].wait_ns, 20);
  EXPECT_EQ(r.collectives[1].straggler, 1);

  ASSERT_EQ(r.per_iteration.size(), 2u);
  EXPECT_EQ(r.per_iteration[0].iteration, 0);
  EXPECT_EQ(r.per_iteration[0].total_wait_ns, 150);
  EXPECT_EQ(r.per_iteration[0].straggler, 1);
  EXPECT_EQ(r.per_iteration[1].iteration, 1);
  EXPECT_EQ(r.per_iteration[1].max_wait_ns, 20);

  const RankWait* r0 = find(r, 0, kNoIndex);
  ASSERT_NE(r0, nullptr);
  EXPECT_EQ(r0->exposed_ns, 300);
  EXPECT_EQ(r0->exposed_wait_ns, 170);
  EXPECT_NEAR(r0->wait_percent(), 56.667, 1e-3);
  const RankWait* r1 = find(r, 1, kNoIndex);
  ASSERT_NE(r1, nullptr);
  EXPECT_EQ(r1->exposed_ns, 100);
  EXPECT_EQ(r1->exposed_wait_ns, 0);
  const RankWait* r0_it0 = find(r, 0, 0);
  ASSERT_NE(r0_it0, nullptr);
  EXPECT_EQ(r0_it0->exposed_ns, 200);
  EXPECT_EQ(r0_it0->exposed_wait_ns, 150);
  const RankWait* r0_it1 = find(r, 0, 1);
  ASSERT_NE(r0_it1, nullptr);
  EXPECT_EQ(r0_it1->exposed_ns, 100);
  EXPECT_EQ(r0_it1->exposed_wait_ns, 20);
}

TEST(Collectives, MatchedByOrderPerName) {
  const CollectivesReport r = analyze_collectives(two_ranks(/*with_sequence=*/false, /*extra=*/false));
  EXPECT_FALSE(r.by_sequence);
  EXPECT_EQ(r.unmatched, 0u);
  expect_hand_derived(r);
}

TEST(Collectives, SequenceNumbersSurviveAMissingCollective) {
  // Rank 1 holds a collective (#0) that rank 0's trace lacks: by order, every pair would be shifted by one;
  // by sequence number, #0 is left alone and #1, #2 match as derived above.
  const CollectivesReport r = analyze_collectives(two_ranks(/*with_sequence=*/true, /*extra=*/true));
  EXPECT_TRUE(r.by_sequence);
  EXPECT_EQ(r.unmatched, 1u);
  EXPECT_EQ(r.collectives[0].communicator, "0");
  EXPECT_EQ(r.collectives[0].sequence, 1);
  expect_hand_derived(r);
  // The same trace without sequence numbers pairs rank 1's #0 with rank 0's #1: a different answer.
  const CollectivesReport by_order = analyze_collectives(two_ranks(false, true));
  ASSERT_FALSE(by_order.collectives.empty());
  EXPECT_NE(by_order.collectives[0].wait_ns, 150);
}

TEST(Collectives, OneRankIsNothingToCompare) {
  Trace t = two_ranks(false, false);
  for (Track& track : t.tracks) track.info.rank = 0;
  EXPECT_TRUE(analyze_collectives(t).ranks.empty());
}

TEST(RuleCoverage, ListsWorkInOtherAndRulesThatMatchedNothing) {
  // Kernels: a fork's all-to-all no rule knows (3 x 100 ns), a GEMM (1 x 500 ns), NCCL (1 x 50 ns, known).
  Trace t;
  const auto stream = t.track_for({0, 0, DeviceKind::Gpu, TrackKind::CudaStream, 7, "stream 7"});
  auto add = [&](std::int64_t a, std::int64_t b, std::string_view name, Category c) {
    Span s;
    s.start_ns = a;
    s.end_ns = b;
    s.name = t.strings.intern(name);
    s.category = c;
    t.tracks[stream].spans.push_back(s);
  };
  add(0, 100, "void fork::a2a_send(int*)", Category::Other);
  add(100, 200, "void fork::a2a_send(int*)", Category::Other);
  add(200, 300, "void fork::a2a_send(int*)", Category::Other);
  add(300, 800, "gemm", Category::Other);
  add(800, 850, "ncclDevKernel_SendRecv", Category::OtherComm);
  add(850, 900, "Memcpy HtoD", Category::Memcpy);  // copies are neither: not in the totals
  t.finalize();

  ClassificationRules rules;
  ASSERT_EQ(rules.from_json(R"j({"version": 2, "family": "mine", "include": ["nccl"],
      "rules": [{"name": "^void fork::a2a_recv", "scope": "device", "category": "combine"}],
      "annotations": [{"name": "(?i)dispatch", "phase": "dispatch"}]})j"),
            "");
  const RuleCoverage c = rule_coverage(t, rules);
  ASSERT_EQ(c.unknown.size(), 2u);
  EXPECT_EQ(c.unknown[0].name, "gemm");
  EXPECT_EQ(c.unknown[0].total_ns, 500);
  EXPECT_EQ(c.unknown[1].name, "void fork::a2a_send(int*)");
  EXPECT_EQ(c.unknown[1].count, 3u);
  EXPECT_EQ(c.unknown[1].total_ns, 300);
  EXPECT_EQ(c.unknown_ns, 800);
  EXPECT_EQ(c.work_ns, 850);
  // Rule 0 (mine) saw no a2a_recv; of the NCCL preset's rules (1..3) only the first matched.
  EXPECT_EQ(c.unmatched_rules, (std::vector<std::size_t>{0, 2, 3}));
  EXPECT_EQ(c.unmatched_annotation_rules, (std::vector<std::size_t>{0}));
}

}  // namespace
}  // namespace scmoe::prof::analysis
