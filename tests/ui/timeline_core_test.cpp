// The Qt-free timeline preprocessing against small reference implementations written here: brute-force
// overlap depth, per-nanosecond overlap accounting, naive clipping and substring search.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <random>
#include <set>

#include "scmoe/ui/draw_list.h"
#include "scmoe/ui/range_statistics.h"
#include "scmoe/ui/span_search.h"
#include "scmoe/ui/time_format.h"
#include "scmoe/ui/timeline_layout.h"
#include "scmoe/ui/timeline_rows.h"

using namespace scmoe;
using namespace scmoe::ui;

namespace {

prof::Span make_span(prof::Trace& t, std::int64_t a, std::int64_t b, prof::Category c, const char* name) {
  prof::Span s;
  s.start_ns = a;
  s.end_ns = b;
  s.category = c;
  s.name = t.strings.intern(name);
  return s;
}

// Random trace: `ranks` ranks with a compute track (overlapping spans allowed) and a comm track.
std::shared_ptr<prof::Trace> random_trace(std::uint32_t seed, int ranks, int spans_per_track) {
  auto t = std::make_shared<prof::Trace>();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> start(0, 2000), len(1, 120);
  const prof::Category compute[] = {prof::Category::Attention, prof::Category::Mlp, prof::Category::Expert};
  const prof::Category comm[] = {prof::Category::Dispatch, prof::Category::Combine};
  const char* compute_names[] = {"attn_fwd", "mlp_gemm", "expert_gemm"};
  const char* comm_names[] = {"dispatch_a2a", "combine_a2a"};
  for (int r = 0; r < ranks; ++r) {
    const auto ct = t->track_for({r, 0, prof::DeviceKind::Cpu, prof::TrackKind::ComputeLane, 0, "compute"});
    const auto mt = t->track_for({r, 0, prof::DeviceKind::Cpu, prof::TrackKind::CommLane, 1, "comm"});
    for (int i = 0; i < spans_per_track; ++i) {
      const int a = start(rng), k = i % 3, m = i % 2;
      t->tracks[ct].spans.push_back(make_span(*t, a, a + len(rng), compute[k], compute_names[k]));
      const int b = start(rng);
      t->tracks[mt].spans.push_back(make_span(*t, b, b + len(rng), comm[m], comm_names[m]));
    }
  }
  t->finalize();
  return t;
}

// A lane like a long profile: bursts of 1000 narrow kernels (10..50 ns, gaps 0..20 ns), idle 20..100 us
// between bursts, and after every fifth burst one wide 50 us span.
Lane bursty_lane(std::uint32_t seed, int bursts) {
  Lane lane;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> len(10, 50), gap(0, 20), idle(20'000, 100'000);
  std::int64_t t = 0;
  auto push = [&](std::int64_t a, std::int64_t b) {
    lane.starts.push_back(a);
    lane.ends.push_back(b);
    lane.ids.push_back(static_cast<std::uint32_t>(lane.ids.size()));
  };
  for (int b = 0; b < bursts; ++b) {
    for (int k = 0; k < 1000; ++k) {
      const std::int64_t a = t + gap(rng);
      t = a + len(rng);
      push(a, t);
    }
    t += idle(rng);
    if (b % 5 == 4) {
      push(t, t + 50'000);
      t += 50'000 + idle(rng);
    }
  }
  return lane;
}

// Pixel columns [0, width) that the runs cover.
std::vector<bool> covered_columns(const std::vector<LaneRun>& runs, int width) {
  std::vector<bool> covered(static_cast<std::size_t>(width), false);
  for (const LaneRun& r : runs) {
    for (int x = std::max(0, int(std::floor(r.x0))); x < std::min(width, int(std::ceil(r.x1))); ++x) covered[std::size_t(x)] = true;
  }
  return covered;
}

// Largest distance from a column covered in `a` to the nearest column covered in `b`.
int farthest_uncovered(const std::vector<bool>& a, const std::vector<bool>& b) {
  int worst = 0;
  for (int x = 0; x < int(a.size()); ++x) {
    if (!a[std::size_t(x)]) continue;
    int d = 0;
    while (d < int(a.size()) && !((x - d >= 0 && b[std::size_t(x - d)]) || (x + d < int(b.size()) && b[std::size_t(x + d)]))) ++d;
    worst = std::max(worst, d);
  }
  return worst;
}

}  // namespace

TEST(PackIntoLanes, LanesAreDisjointAndAsFewAsTheDeepestOverlap) {
  auto trace = random_trace(7, 1, 400);
  const auto& spans = trace->tracks[0].spans;
  std::vector<std::uint32_t> lane_of;
  const std::vector<Lane> lanes = pack_into_lanes(spans, &lane_of);
  std::size_t total = 0;
  for (std::size_t l = 0; l < lanes.size(); ++l) {
    total += lanes[l].size();
    for (std::size_t i = 1; i < lanes[l].size(); ++i) EXPECT_LE(lanes[l].ends[i - 1], lanes[l].starts[i]);
    for (std::size_t i = 0; i < lanes[l].size(); ++i) EXPECT_EQ(lane_of[lanes[l].ids[i]], l);
  }
  EXPECT_EQ(total, spans.size());
  // Reference: the maximum number of spans covering one nanosecond.
  int depth = 0;
  for (int t = 0; t <= 2200; ++t) {
    int n = 0;
    for (const auto& s : spans) n += (s.start_ns <= t && t < s.end_ns) ? 1 : 0;
    depth = std::max(depth, n);
  }
  EXPECT_EQ(static_cast<int>(lanes.size()), depth);
}

TEST(FoldLane, WideSpansStayAloneAndNarrowOnesFoldIntoFewBoxes) {
  // 100k back-to-back 10 ns spans, then one wide 1 ms span: 2 ms in 1000 px.
  Lane lane;
  for (std::uint32_t i = 0; i < 100000; ++i) {
    lane.starts.push_back(std::int64_t(i) * 10);
    lane.ends.push_back(std::int64_t(i) * 10 + 10);
    lane.ids.push_back(i);
  }
  lane.starts.push_back(1'000'000);
  lane.ends.push_back(2'000'000);
  lane.ids.push_back(100000);
  std::vector<LaneRun> runs;
  fold_lane(lane, TimeWindow{0, 2'000'000}, 1000.0, 3.0, runs);
  // Runs partition the visible entries in order.
  std::uint32_t next = 0;
  for (const LaneRun& r : runs) {
    EXPECT_EQ(r.begin, next);
    next = r.end;
  }
  EXPECT_EQ(next, lane.size());
  // The contiguous narrow spans merge into a single box; the wide one is its own box from 500 to 1000 px.
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].count(), 100000u);
  EXPECT_NEAR(runs[0].x1, 500.0, 0.01);
  EXPECT_EQ(runs[1].count(), 1u);
  EXPECT_NEAR(runs[1].x0, 500.0, 0.01);
  EXPECT_NEAR(runs[1].x1, 1000.0, 0.01);
}

TEST(FoldLane, SparseNarrowSpansFoldPerFewPixelsAndOnlyVisibleOnesCount) {
  // Narrow spans 1 us apart; window shows 100 us over 1000 px (10 px apart): nothing folds.
  Lane lane;
  for (std::uint32_t i = 0; i < 10000; ++i) {
    lane.starts.push_back(std::int64_t(i) * 1000);
    lane.ends.push_back(std::int64_t(i) * 1000 + 100);
    lane.ids.push_back(i);
  }
  std::vector<LaneRun> runs;
  fold_lane(lane, TimeWindow{500'000, 600'000}, 1000.0, 3.0, runs);
  // Reference: spans intersecting [500000, 600000).
  std::size_t visible = 0;
  for (std::size_t i = 0; i < lane.size(); ++i) visible += (lane.ends[i] > 500'000 && lane.starts[i] < 600'000);
  ASSERT_EQ(runs.size(), visible);
  for (const LaneRun& r : runs) EXPECT_EQ(r.count(), 1u);
  // Zoomed out to all 10 ms on 1000 px: spans are 0.1 px apart, so they fold into one box.
  runs.clear();
  fold_lane(lane, TimeWindow{0, 10'000'000}, 1000.0, 3.0, runs);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].count(), 10000u);
}

TEST(LaneLevels, EachLevelPartitionsTheLaneIntoFewerSortedEntries) {
  Lane lane = bursty_lane(5, 200);
  build_lane_levels(lane);
  ASSERT_FALSE(lane.levels.empty());
  std::size_t below = lane.size();
  std::int64_t previous_min = 0;
  for (const LaneLevel& level : lane.levels) {
    EXPECT_GT(level.min_ns, previous_min);
    previous_min = level.min_ns;
    EXPECT_LE(level.size() * 2, below);  // a level is kept only when it at least halves the entries
    below = level.size();
    ASSERT_EQ(level.first.size(), level.size());
    ASSERT_EQ(level.ends.size(), level.size());
    EXPECT_EQ(level.first.front(), 0u);
    for (std::size_t j = 0; j < level.size(); ++j) {
      // Entry j spans exactly its lane entries: from the first one's start to the last one's end.
      const std::uint32_t end = j + 1 < level.size() ? level.first[j + 1] : static_cast<std::uint32_t>(lane.size());
      ASSERT_LT(level.first[j], end);
      EXPECT_EQ(level.starts[j], lane.starts[level.first[j]]);
      EXPECT_EQ(level.ends[j], lane.ends[end - 1]);
      if (j > 0) {
        EXPECT_LE(level.ends[j - 1], level.starts[j]);  // sorted and disjoint
      }
    }
  }
  // The idle gaps between bursts (20 us and more) survive at least in the finest level.
  EXPECT_GE(lane.levels.front().size(), 200u);
  // Small lanes get none: they fold fast as they are.
  Lane small = bursty_lane(5, 2);
  build_lane_levels(small);
  EXPECT_TRUE(small.levels.empty());
}

TEST(LaneLevels, FoldingWithLevelsDrawsWhatFoldingTheLaneDraws) {
  Lane lane = bursty_lane(9, 400);
  Lane plain = lane;  // no levels: the reference
  build_lane_levels(lane);
  ASSERT_FALSE(lane.levels.empty());
  const std::int64_t total = lane.ends.back() - lane.starts.front();
  const int width = 1750;
  std::mt19937 rng(3);
  for (double fraction : {1.0, 0.5, 0.2, 0.05, 0.01, 0.002}) {
    for (int trial = 0; trial < 5; ++trial) {
      const auto length = static_cast<std::int64_t>(double(total) * fraction);
      const std::int64_t start = lane.starts.front() - 1000 +
                                 std::uniform_int_distribution<std::int64_t>(0, total - length + 2000)(rng);
      const TimeWindow window{start, start + length};
      std::vector<LaneRun> with_levels, reference;
      fold_lane(lane, window, width, 3.0, with_levels);
      fold_lane(plain, window, width, 3.0, reference);
      // Both hold exactly the visible entries, in order (visible: counted here by brute force).
      std::uint32_t first_visible = 0, visible = 0;
      for (std::uint32_t i = 0; i < lane.size(); ++i) {
        if (lane.ends[i] > window.start_ns && lane.starts[i] < window.end_ns) {
          if (visible++ == 0) first_visible = i;
        }
      }
      if (visible == 0) {  // the window fell into an idle gap
        EXPECT_TRUE(with_levels.empty());
        EXPECT_TRUE(reference.empty());
        continue;
      }
      for (const auto* runs : {&with_levels, &reference}) {
        std::uint32_t next = first_visible;
        for (const LaneRun& r : *runs) {
          EXPECT_EQ(r.begin, next);
          EXPECT_LT(r.begin, r.end);
          EXPECT_LE(r.x0, r.x1);
          next = r.end;
        }
        EXPECT_EQ(next, first_visible + visible);
      }
      // The same picture up to where a fold boundary falls: every covered pixel column of one is within
      // the 3-pixel fold width of a covered column of the other.
      const auto a = covered_columns(with_levels, width), b = covered_columns(reference, width);
      EXPECT_LE(farthest_uncovered(a, b), 3) << "fraction " << fraction;
      EXPECT_LE(farthest_uncovered(b, a), 3) << "fraction " << fraction;
      // Zoomed out, far fewer boxes than visible spans.
      if (fraction >= 0.2) {
        EXPECT_LT(with_levels.size() * 20, std::size_t(visible));
      }
    }
  }
}

TEST(TimelineLayout, OverlapMetricsMatchPerNanosecondCounting) {
  auto trace = random_trace(11, 2, 60);
  TimelineLayout layout(trace);
  ASSERT_EQ(layout.ranks().size(), 2u);
  for (const RankGroup& g : layout.ranks()) {
    std::int64_t compute = 0, comm = 0, both = 0, dispatch = 0, dispatch_both = 0;
    for (int t = 0; t < 2200; ++t) {
      bool in_compute = false, in_comm = false, in_dispatch = false;
      for (std::uint32_t ti : g.tracks) {
        for (const auto& s : trace->tracks[ti].spans) {
          if (s.start_ns <= t && t < s.end_ns) {
            if (prof::is_communication(s.category)) in_comm = true; else in_compute = true;
            if (s.category == prof::Category::Dispatch) in_dispatch = true;
          }
        }
      }
      compute += in_compute;
      comm += in_comm;
      both += in_compute && in_comm;
      dispatch += in_dispatch;
      dispatch_both += in_dispatch && in_compute;
    }
    EXPECT_EQ(g.overlap.compute_ns, compute);
    EXPECT_EQ(g.overlap.comm_ns, comm);
    EXPECT_EQ(g.overlap.overlapped_ns, both);
    EXPECT_EQ(g.overlap.dispatch_ns, dispatch);
    EXPECT_EQ(g.overlap.dispatch_overlapped_ns, dispatch_both);
    // The band covers exactly compute-or-comm time, split into the three states.
    std::int64_t band[kBandStateCount] = {0, 0, 0};
    for (int s = 0; s < kBandStateCount; ++s)
      for (std::size_t i = 0; i < g.band[s].size(); ++i) band[s] += g.band[s].ends[i] - g.band[s].starts[i];
    EXPECT_EQ(band[int(BandState::Overlapped)], both);
    EXPECT_EQ(band[int(BandState::ComputeOnly)], compute - both);
    EXPECT_EQ(band[int(BandState::CommOnly)], comm - both);
  }
}

TEST(RangeStatistics, MatchesNaiveClipping) {
  auto trace = random_trace(5, 2, 80);
  TimelineLayout layout(trace);
  const TimeWindow range{700, 1300};
  const RangeStatistics stats = range_statistics(layout, range);
  std::int64_t expected[prof::kCategoryCount] = {};
  for (const auto& track : trace->tracks)
    for (const auto& s : track.spans)
      expected[int(s.category)] += std::max<std::int64_t>(0, std::min(s.end_ns, range.end_ns) - std::max(s.start_ns, range.start_ns));
  for (int c = 0; c < prof::kCategoryCount; ++c) EXPECT_EQ(stats.category_ns[std::size_t(c)], expected[c]) << c;
  std::int64_t comm = 0, both = 0;
  for (const RankGroup& g : layout.ranks()) {
    for (std::int64_t t = range.start_ns; t < range.end_ns; ++t) {
      bool in_compute = false, in_comm = false;
      for (std::uint32_t ti : g.tracks)
        for (const auto& s : trace->tracks[ti].spans)
          if (s.start_ns <= t && t < s.end_ns) (prof::is_communication(s.category) ? in_comm : in_compute) = true;
      comm += in_comm;
      both += in_comm && in_compute;
    }
  }
  EXPECT_EQ(stats.comm_ns, comm);
  EXPECT_EQ(stats.overlapped_ns, both);
}

TEST(SpanSearch, CountsMatchSubstringSearchAndBadRegexIsReported) {
  auto trace = random_trace(3, 2, 50);
  const SearchResult r = search_spans(*trace, "GEMM|dispatch");
  std::size_t expected = 0;
  for (const auto& track : trace->tracks) {
    for (const auto& s : track.spans) {
      const std::string name(trace->name_of(s));
      expected += (name.find("gemm") != std::string::npos || name.find("dispatch") != std::string::npos);
    }
  }
  EXPECT_EQ(r.matches.size(), expected);
  EXPECT_GT(expected, 0u);
  for (std::size_t i = 1; i < r.matches.size(); ++i) {
    const auto& a = r.matches[i - 1];
    const auto& b = r.matches[i];
    EXPECT_LE(trace->tracks[a.track].spans[a.span].start_ns, trace->tracks[b.track].spans[b.span].start_ns);
  }
  const SearchResult bad = search_spans(*trace, "([a-z");
  EXPECT_TRUE(bad.matches.empty());
  EXPECT_NE(bad.error.find("([a-z"), std::string::npos);
}

TEST(TimelineRows, CollapseHideAndPin) {
  auto trace = random_trace(1, 2, 5);
  TimelineLayout layout(trace);
  RowOptions options;
  auto lanes_of = [&](std::uint32_t track) { return std::max<std::size_t>(1, layout.lanes(track).size()); };
  std::size_t expected = 0;
  for (const auto& g : layout.ranks()) {
    expected += 2;  // header + band
    for (auto t : g.tracks) expected += lanes_of(t);
  }
  EXPECT_EQ(arrange_rows(layout, options).size(), expected);
  options.collapsed_ranks.insert(layout.ranks()[0].rank);
  std::size_t collapsed = expected;
  for (auto t : layout.ranks()[0].tracks) collapsed -= lanes_of(t);
  EXPECT_EQ(arrange_rows(layout, options).size(), collapsed);
  options.collapsed_ranks.clear();
  const std::uint32_t comm1 = layout.ranks()[1].tracks.back();
  options.pinned_tracks.insert(comm1);
  const auto rows = arrange_rows(layout, options);
  EXPECT_EQ(rows.size(), expected + lanes_of(comm1));
  EXPECT_TRUE(rows.front().pinned);
  EXPECT_EQ(rows.front().track, comm1);
  EXPECT_EQ(row_at(rows, rows[3].y + 1), 3);
}

TEST(TimeFormat, UnitsAndRulerSteps) {
  EXPECT_EQ(format_duration(850), "850 ns");
  EXPECT_EQ(format_duration(12'500), "12.5 us");
  EXPECT_EQ(format_duration(3'200'000), "3.20 ms");
  EXPECT_EQ(format_duration(1'050'000'000), "1.05 s");
  EXPECT_EQ(ruler_step_ns(10.0, 90), 1000);   // 900 ns wanted -> 1 us
  EXPECT_EQ(ruler_step_ns(30.0, 90), 5000);   // 2.7 us -> 5 us
  EXPECT_EQ(ruler_step_ns(0.01, 90), 1);
}
