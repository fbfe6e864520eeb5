// Breakdown, critical path and trace comparison against small independent references.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "scmoe/profiler/analysis/breakdown.h"
#include "scmoe/profiler/analysis/compare.h"
#include "scmoe/profiler/analysis/critical_path.h"

namespace scmoe::prof::analysis {
namespace {

// numpy.percentile(..., method="linear") on a fully sorted copy.
double sorted_quantile(std::vector<std::int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const std::size_t lo = std::size_t(pos), hi = std::min(lo + 1, v.size() - 1);
  return double(v[lo]) + (pos - double(lo)) * double(v[hi] - v[lo]);
}

Span make_span(std::int64_t s, std::int64_t e, std::uint32_t name, Category c, std::int32_t iteration = kNoIndex) {
  Span sp;
  sp.start_ns = s, sp.end_ns = e, sp.name = name, sp.category = c, sp.iteration = iteration;
  return sp;
}

TEST(Breakdown, RandomGroupsMatchSortedReference) {
  std::mt19937 rng(5);
  for (int round = 0; round < 300; ++round) {
    Trace t;
    const std::uint32_t names[] = {t.strings.intern("gemm"), t.strings.intern("a2a"), t.strings.intern("norm")};
    std::map<std::string, std::vector<std::int64_t>> want;
    const int tracks = std::uniform_int_distribution<int>(1, 3)(rng);
    for (int k = 0; k < tracks; ++k) {
      TrackInfo info;
      info.kind = TrackKind::CudaStream;
      info.native_id = k;
      const auto ti = t.track_for(info);
      for (int n = std::uniform_int_distribution<int>(1, 40)(rng); n > 0; --n) {
        const int which = std::uniform_int_distribution<int>(0, 2)(rng);
        const std::int64_t s = std::uniform_int_distribution<int>(0, 1000)(rng);
        const std::int64_t d = std::uniform_int_distribution<int>(0, 300)(rng);
        t.tracks[ti].spans.push_back(make_span(s, s + d, names[which], Category::Expert));
        want[std::string(t.strings.view(names[which]))].push_back(d);
      }
    }
    t.finalize();
    const std::vector<OpStats> got = breakdown(t);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      const auto& d = want.at(got[i].key);
      std::int64_t total = 0;
      for (auto v : d) total += v;
      EXPECT_EQ(got[i].count, std::int64_t(d.size()));
      EXPECT_EQ(got[i].total_ns, total);
      EXPECT_EQ(got[i].min_ns, *std::min_element(d.begin(), d.end()));
      EXPECT_EQ(got[i].max_ns, *std::max_element(d.begin(), d.end()));
      EXPECT_NEAR(got[i].median_ns, sorted_quantile(d, 0.5), 1e-9);
      EXPECT_NEAR(got[i].p90_ns, sorted_quantile(d, 0.9), 1e-9);
      if (i > 0) {
        EXPECT_GE(got[i - 1].total_ns, got[i].total_ns) << "sorted by total";
      }
    }
    if (HasFailure()) return;
  }
}

TEST(Breakdown, ByCategoryRankAndIterationFilters) {
  Trace t;
  const auto x = t.strings.intern("x"), y = t.strings.intern("y");
  TrackInfo r0, r1;
  r0.kind = r1.kind = TrackKind::ComputeLane;
  r1.rank = 1;
  const auto t0 = t.track_for(r0), t1 = t.track_for(r1);
  t.tracks[t0].spans = {make_span(0, 10, x, Category::Gate, 0), make_span(10, 40, y, Category::Gate, 1)};
  t.tracks[t1].spans = {make_span(0, 5, x, Category::Dispatch, 0)};
  t.finalize();
  BreakdownOptions by_cat;
  by_cat.group_by = GroupBy::Category;
  const auto cats = breakdown(t, by_cat);
  ASSERT_EQ(cats.size(), 2u);
  EXPECT_EQ(cats[0].key, "gate");
  EXPECT_EQ(cats[0].total_ns, 40);
  EXPECT_EQ(cats[1].key, "dispatch");
  BreakdownOptions rank1;
  rank1.rank = 1;
  ASSERT_EQ(breakdown(t, rank1).size(), 1u);
  EXPECT_EQ(breakdown(t, rank1)[0].total_ns, 5);
  BreakdownOptions iter1;
  iter1.iteration = 1;
  ASSERT_EQ(breakdown(t, iter1).size(), 1u);
  EXPECT_EQ(breakdown(t, iter1)[0].key, "y");
  EXPECT_TRUE(breakdown(Trace{}).empty());
}

// Longest path by repeated relaxation (Bellman-Ford style, O(V*E)): independent of the topological DP.
std::int64_t reference_longest(const Trace& t) {
  std::vector<SpanRef> nodes;
  for (std::uint32_t ti = 0; ti < t.tracks.size(); ++ti) {
    for (std::uint32_t si = 0; si < t.tracks[ti].spans.size(); ++si) nodes.push_back({ti, si});
  }
  std::vector<std::pair<SpanRef, SpanRef>> edges;
  for (std::uint32_t ti = 0; ti < t.tracks.size(); ++ti) {
    for (std::uint32_t si = 1; si < t.tracks[ti].spans.size(); ++si) edges.push_back({{ti, si - 1}, {ti, si}});
  }
  for (const Flow& f : t.flows) edges.push_back({f.from, f.to});
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::int64_t> best;
  auto dur = [&](SpanRef r) { return t.tracks[r.track].spans[r.span].duration_ns(); };
  for (const SpanRef& n : nodes) best[{n.track, n.span}] = dur(n);
  for (std::size_t pass = 0; pass < nodes.size(); ++pass) {
    for (const auto& [a, b] : edges) {
      auto& to = best[{b.track, b.span}];
      to = std::max(to, best[{a.track, a.span}] + dur(b));
    }
  }
  std::int64_t out = 0;
  for (const auto& [k, v] : best) out = std::max(out, v);
  return out;
}

TEST(CriticalPath, RandomDagsMatchRelaxation) {
  std::mt19937 rng(11);
  for (int round = 0; round < 400; ++round) {
    Trace t;
    const int tracks = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int k = 0; k < tracks; ++k) {
      TrackInfo info;
      info.kind = TrackKind::CudaStream;
      info.native_id = k;
      const auto ti = t.track_for(info);
      std::int64_t clock = 0;
      for (int n = std::uniform_int_distribution<int>(1, 8)(rng); n > 0; --n) {
        const std::int64_t gap = std::uniform_int_distribution<int>(0, 20)(rng);
        const std::int64_t d = std::uniform_int_distribution<int>(0, 50)(rng);
        const Category c = std::uniform_int_distribution<int>(0, 1)(rng) ? Category::Combine : Category::Expert;
        t.tracks[ti].spans.push_back(make_span(clock + gap, clock + gap + d, 0, c));
        clock += gap + d;
      }
    }
    // Flows only go forward in time, so the graph stays acyclic.
    for (int f = std::uniform_int_distribution<int>(0, 6)(rng); f > 0; --f) {
      const std::uint32_t ta = std::uniform_int_distribution<std::uint32_t>(0, tracks - 1)(rng);
      const std::uint32_t tb = std::uniform_int_distribution<std::uint32_t>(0, tracks - 1)(rng);
      const auto& sa = t.tracks[ta].spans;
      const auto& sb = t.tracks[tb].spans;
      const std::uint32_t ia = std::uniform_int_distribution<std::uint32_t>(0, sa.size() - 1)(rng);
      for (std::uint32_t ib = 0; ib < sb.size(); ++ib) {
        if (sb[ib].start_ns > sa[ia].end_ns && !(ta == tb && ib == ia)) {
          t.flows.push_back(Flow{{ta, ia}, {tb, ib}, FlowKind::MoePipeline});
          break;
        }
      }
    }
    const CriticalPath path = critical_path(t);
    ASSERT_TRUE(path.error.empty()) << path.error;
    ASSERT_EQ(path.length_ns, reference_longest(t)) << "round " << round;
    // The chain must be a real dependency chain whose durations add up to the length.
    std::int64_t sum = 0, comm = 0;
    for (std::size_t i = 0; i < path.chain.size(); ++i) {
      const Span& s = t.tracks[path.chain[i].track].spans[path.chain[i].span];
      sum += s.duration_ns();
      if (s.category == Category::Combine) comm += s.duration_ns();
      if (i == 0) continue;
      const SpanRef a = path.chain[i - 1], b = path.chain[i];
      const bool on_track = a.track == b.track && a.span + 1 == b.span;
      const bool by_flow = std::any_of(t.flows.begin(), t.flows.end(),
                                       [&](const Flow& f) { return f.from == a && f.to == b; });
      ASSERT_TRUE(on_track || by_flow) << "chain link " << i << " is not a dependency";
    }
    EXPECT_EQ(sum, path.length_ns);
    EXPECT_EQ(comm, path.comm_ns);
  }
}

TEST(CriticalPath, IterationByTagOrByProfilerStepWindow) {
  Trace tagged;
  TrackInfo lane;
  lane.kind = TrackKind::ComputeLane;
  const auto tl = tagged.track_for(lane);
  tagged.tracks[tl].spans = {make_span(0, 10, 0, Category::Expert, 0), make_span(10, 40, 0, Category::Combine, 1),
                             make_span(40, 45, 0, Category::Expert, 1)};
  CriticalPathOptions it1;
  it1.iteration = 1;
  const CriticalPath p = critical_path(tagged, it1);
  EXPECT_EQ(p.length_ns, 35);
  EXPECT_EQ(p.comm_ns, 30);
  EXPECT_DOUBLE_EQ(p.comm_share(), 30.0 / 35.0);
  ASSERT_EQ(p.chain.size(), 2u);
  EXPECT_EQ(p.chain[0].span, 1u);

  // Kineto-style: no tags, a ProfilerStep#7 range [100, 200) on the host thread; the GPU stream's spans
  // starting inside it form the iteration.
  Trace steps;
  const auto step_name = steps.strings.intern("ProfilerStep#7"), k = steps.strings.intern("k");
  TrackInfo host, stream;
  host.kind = TrackKind::HostThread;
  stream.kind = TrackKind::CudaStream;
  const auto th = steps.track_for(host), ts = steps.track_for(stream);
  steps.tracks[th].spans = {make_span(100, 200, step_name, Category::Other)};
  steps.tracks[ts].spans = {make_span(50, 120, k, Category::Expert), make_span(120, 150, k, Category::Dispatch),
                            make_span(160, 230, k, Category::Expert), make_span(200, 260, k, Category::Expert)};
  steps.finalize();
  CriticalPathOptions step7;
  step7.iteration = 7;
  const CriticalPath q = critical_path(steps, step7);
  EXPECT_EQ(q.length_ns, 30 + 70) << "the spans starting at 120 and 160";
  EXPECT_EQ(q.comm_ns, 30);
  step7.iteration = 8;
  EXPECT_TRUE(critical_path(steps, step7).chain.empty()) << "no such step";
}

TEST(CriticalPath, CycleIsReportedNotLooped) {
  Trace t;
  TrackInfo a, b;
  a.kind = b.kind = TrackKind::CudaStream;
  b.native_id = 1;
  const auto ta = t.track_for(a), tb = t.track_for(b);
  t.tracks[ta].spans = {make_span(0, 10, t.strings.intern("k"), Category::Expert)};
  t.tracks[tb].spans = {make_span(0, 10, 0, Category::Expert)};
  t.flows = {Flow{{ta, 0}, {tb, 0}, FlowKind::Other}, Flow{{tb, 0}, {ta, 0}, FlowKind::Other}};
  const CriticalPath p = critical_path(t);
  EXPECT_NE(p.error.find("cycle"), std::string::npos) << p.error;
  EXPECT_TRUE(critical_path(Trace{}).chain.empty());
}

Trace two_iteration_trace(std::int64_t gemm_ns, std::int64_t a2a_ns, bool with_norm) {
  Trace t;
  const auto gemm = t.strings.intern("gemm"), a2a = t.strings.intern("a2a"), norm = t.strings.intern("norm");
  TrackInfo c, m;
  c.kind = TrackKind::ComputeLane;
  m.kind = TrackKind::CommLane;
  const auto tc = t.track_for(c), tm = t.track_for(m);
  for (int it = 0; it < 2; ++it) {
    const std::int64_t base = it * 10000;
    t.tracks[tc].spans.push_back(make_span(base, base + gemm_ns, gemm, Category::Expert, it));
    t.tracks[tm].spans.push_back(make_span(base + gemm_ns, base + gemm_ns + a2a_ns, a2a, Category::Dispatch, it));
    if (with_norm) t.tracks[tc].spans.push_back(make_span(base + gemm_ns, base + gemm_ns + 10, norm, Category::Other, it));
  }
  t.finalize();
  return t;
}

TEST(Compare, OpsPhasesAndSpeedup) {
  const Trace a = two_iteration_trace(1000, 500, true);   // iteration = 1500 ns
  const Trace b = two_iteration_trace(1000, 200, false);  // iteration = 1200 ns
  const Comparison c = compare_traces(a, b);
  EXPECT_EQ(c.iteration_a_ns, 1500);
  EXPECT_EQ(c.iteration_b_ns, 1200);
  EXPECT_DOUBLE_EQ(c.speedup_x(), 1500.0 / 1200.0);
  EXPECT_DOUBLE_EQ(c.time_saved_percent(), 100.0 * (1.0 - 1200.0 / 1500.0));
  std::map<std::string, OpDelta> ops;
  for (const OpDelta& d : c.ops) ops[d.key] = d;
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops["a2a"].change, Change::Faster);
  EXPECT_DOUBLE_EQ(ops["a2a"].delta_ns(), -300.0);
  EXPECT_EQ(ops["gemm"].change, Change::Unchanged);
  EXPECT_EQ(ops["norm"].change, Change::Removed);
  EXPECT_EQ(c.ops.front().key, "a2a") << "largest |delta| first";
  std::map<std::string, PhaseDelta> phases;
  for (const PhaseDelta& p : c.phases) phases[p.phase] = p;
  EXPECT_DOUBLE_EQ(phases["dispatch"].a_ns, 500.0);
  EXPECT_DOUBLE_EQ(phases["dispatch"].b_ns, 200.0);
  EXPECT_EQ(phases["dispatch"].change, Change::Faster);
  // Exposed: A's a2a overlaps the 10 ns norm, B's overlaps nothing.
  EXPECT_DOUBLE_EQ(phases["exposed_comm"].a_ns, 490.0);
  EXPECT_DOUBLE_EQ(phases["exposed_comm"].b_ns, 200.0);
  EXPECT_EQ(phases["combine"].change, Change::Unchanged);
  const Comparison back = compare_traces(b, a);
  EXPECT_EQ(std::find_if(back.ops.begin(), back.ops.end(), [](const OpDelta& d) { return d.key == "norm"; })->change,
            Change::Added);
  EXPECT_EQ(back.phases[1].change, Change::Slower);
}

}  // namespace
}  // namespace scmoe::prof::analysis
