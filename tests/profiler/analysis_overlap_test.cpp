// Overlap metrics against an event-boundary sweep written here: every elementary segment between two
// span boundaries is classified by scanning all spans, so the reference shares no code with the unions.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "scmoe/profiler/analysis/overlap.h"

namespace scmoe::prof::analysis {
namespace {

struct RefStats {
  std::int64_t comm = 0, compute = 0, overlapped = 0, exposed = 0;
};
struct RefRow {
  RefStats total, dispatch, combine, other;
};

bool covers(const std::vector<Span>& spans, std::int64_t a, std::int64_t b, bool (*pred)(const Span&)) {
  for (const Span& s : spans) {
    if (pred(s) && s.start_ns <= a && b <= s.end_ns) return true;
  }
  return false;
}

RefRow reference(const std::vector<Span>& spans, std::int64_t lo = INT64_MIN, std::int64_t hi = INT64_MAX) {
  std::set<std::int64_t> cuts;
  for (const Span& s : spans) {
    cuts.insert(std::clamp(s.start_ns, lo, hi));
    cuts.insert(std::clamp(s.end_ns, lo, hi));
  }
  RefRow r;
  auto add = [](RefStats& st, bool comm, bool compute, std::int64_t len) {
    if (comm) st.comm += len;
    if (compute) st.compute += len;
    if (comm && compute) st.overlapped += len;
    if (comm && !compute) st.exposed += len;
  };
  for (auto it = cuts.begin(); it != cuts.end() && std::next(it) != cuts.end(); ++it) {
    const std::int64_t a = *it, b = *std::next(it), len = b - a;
    const bool compute = covers(spans, a, b, [](const Span& s) {
      return s.category != Category::Dispatch && s.category != Category::Combine && s.category != Category::OtherComm &&
             s.category != Category::Memcpy && s.category != Category::Memset;
    });
    const bool dispatch = covers(spans, a, b, [](const Span& s) { return s.category == Category::Dispatch; });
    const bool combine = covers(spans, a, b, [](const Span& s) { return s.category == Category::Combine; });
    const bool other = covers(spans, a, b, [](const Span& s) { return s.category == Category::OtherComm; });
    add(r.total, dispatch || combine || other, compute, len);
    add(r.dispatch, dispatch, compute, len);
    add(r.combine, combine, compute, len);
    add(r.other, other, compute, len);
  }
  return r;
}

void expect_same(const OverlapStats& got, const RefStats& want, const std::string& what) {
  EXPECT_EQ(got.comm_ns, want.comm) << what;
  EXPECT_EQ(got.compute_ns, want.compute) << what;
  EXPECT_EQ(got.overlapped_ns, want.overlapped) << what;
  EXPECT_EQ(got.exposed_ns, want.exposed) << what;
}

void expect_row(const OverlapRow& got, const RefRow& want, const std::string& what) {
  expect_same(got.total, want.total, what + " total");
  expect_same(got.dispatch, want.dispatch, what + " dispatch");
  expect_same(got.combine, want.combine, what + " combine");
  expect_same(got.other_comm, want.other, what + " other_comm");
}

// Random multi-rank trace: device tracks, host threads and annotation tracks, overlapping and
// zero-length spans.
Trace random_trace(std::mt19937& rng, bool tag_iterations) {
  Trace t;
  const std::uint32_t kernel = t.strings.intern("kernel");
  const int ranks = std::uniform_int_distribution<int>(1, 3)(rng);
  std::uniform_int_distribution<int> start(0, 500), len(0, 60), cat(0, kCategoryCount - 1), count(0, 15),
      kind(0, 5), iter(-1, 2);
  for (int r = 0; r < ranks; ++r) {
    const int tracks = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int k = 0; k < tracks; ++k) {
      TrackInfo info;
      info.rank = r;
      info.kind = static_cast<TrackKind>(kind(rng));
      info.native_id = k;
      const std::uint32_t ti = t.track_for(info);
      for (int n = count(rng); n > 0; --n) {
        Span s;
        s.start_ns = start(rng);
        s.end_ns = s.start_ns + len(rng);
        s.name = kernel;
        s.category = static_cast<Category>(cat(rng));
        s.iteration = tag_iterations ? iter(rng) : kNoIndex;
        t.tracks[ti].spans.push_back(s);
      }
    }
  }
  t.finalize();
  return t;
}

// The selection rule stated in overlap.h, restated: lanes and CUDA streams, else host threads; any
// other kind (kind 5 = annotation ranges) never counts.
bool is_device_side(TrackKind k) {
  return k == TrackKind::ComputeLane || k == TrackKind::CommLane || k == TrackKind::CopyLane ||
         k == TrackKind::CudaStream;
}

std::vector<Span> selected_spans(const Trace& t, std::int32_t rank) {
  std::vector<Span> device, host;
  bool any_device = false;
  for (const Track& tr : t.tracks) {
    if (tr.info.rank != rank) continue;
    if (is_device_side(tr.info.kind)) {
      any_device = true;
      device.insert(device.end(), tr.spans.begin(), tr.spans.end());
    } else if (tr.info.kind == TrackKind::HostThread) {
      host.insert(host.end(), tr.spans.begin(), tr.spans.end());
    }
  }
  return any_device ? device : host;
}

TEST(Overlap, WholeTraceAndTaggedIterationsMatchSweep) {
  std::mt19937 rng(42);
  for (int round = 0; round < 1500; ++round) {
    const Trace t = random_trace(rng, /*tag_iterations=*/true);
    const OverlapReport report = analyze_overlap(t);
    std::map<std::int32_t, bool> seen;
    RefStats sum;
    for (const OverlapRow& row : report.whole_trace) {
      if (row.rank == kAllRanks) continue;
      const RefRow want = reference(selected_spans(t, row.rank));
      expect_row(row, want, "round " + std::to_string(round) + " rank " + std::to_string(row.rank));
      sum.comm += want.total.comm;
      sum.overlapped += want.total.overlapped;
    }
    if (report.whole_trace.size() > 1) {
      EXPECT_EQ(report.whole_trace.back().rank, kAllRanks);
      EXPECT_EQ(report.whole_trace.back().total.comm_ns, sum.comm);
      EXPECT_EQ(report.whole_trace.back().total.overlapped_ns, sum.overlapped);
    }
    for (const OverlapRow& row : report.per_iteration) {
      std::vector<Span> mine;
      for (const Span& s : selected_spans(t, row.rank)) {
        if (s.iteration == row.iteration) mine.push_back(s);
      }
      expect_row(row, reference(mine), "iteration " + std::to_string(row.iteration));
    }
    if (HasFailure()) return;
  }
}

TEST(Overlap, ProfilerStepWindowsClipTheUnions) {
  std::mt19937 rng(7);
  for (int round = 0; round < 500; ++round) {
    Trace t = random_trace(rng, /*tag_iterations=*/false);
    // Two ProfilerStep annotations on a host thread of rank 0.
    TrackInfo host;
    host.rank = 0;
    host.kind = TrackKind::HostThread;
    host.native_id = 999;
    const std::uint32_t ti = t.track_for(host);
    const std::int64_t cut = std::uniform_int_distribution<int>(50, 450)(rng);
    Span s1, s2;
    s1.start_ns = 0, s1.end_ns = cut, s1.name = t.strings.intern("ProfilerStep#3");
    s2.start_ns = cut, s2.end_ns = 600, s2.name = t.strings.intern("ProfilerStep#4");
    t.tracks[ti].spans = {s1, s2};
    t.finalize();
    const OverlapReport report = analyze_overlap(t);
    ASSERT_EQ(report.iteration_source, IterationSource::ProfilerSteps);
    ASSERT_EQ(report.per_iteration.size(), 2u);
    EXPECT_EQ(report.per_iteration[0].iteration, 3);
    EXPECT_EQ(report.per_iteration[0].wall_ns, cut);
    const std::vector<Span> spans = selected_spans(t, 0);
    expect_row(report.per_iteration[0], reference(spans, 0, cut), "step 3");
    expect_row(report.per_iteration[1], reference(spans, cut, 600), "step 4");
    if (HasFailure()) return;
  }
}

TEST(Overlap, HandBuiltExampleAndEdgeCases) {
  EXPECT_TRUE(analyze_overlap(Trace{}).whole_trace.empty());

  Trace t;
  TrackInfo compute, comm;
  compute.kind = TrackKind::ComputeLane;
  comm.kind = TrackKind::CommLane;
  comm.native_id = 1;
  const auto tc = t.track_for(compute), tm = t.track_for(comm);
  auto add = [&](std::uint32_t track, std::int64_t s, std::int64_t e, Category c) {
    Span sp;
    sp.start_ns = s, sp.end_ns = e, sp.category = c;
    t.tracks[track].spans.push_back(sp);
  };
  add(tc, 0, 100, Category::Attention);
  add(tc, 150, 200, Category::Expert);
  add(tm, 50, 120, Category::Dispatch);   // 50 overlapped (50..100), 20 exposed
  add(tm, 180, 260, Category::Combine);   // 20 overlapped, 60 exposed
  add(tm, 120, 130, Category::Memcpy);    // neither comm nor compute
  t.finalize();
  const OverlapReport r = analyze_overlap(t);
  ASSERT_EQ(r.whole_trace.size(), 1u);
  const OverlapRow& row = r.whole_trace[0];
  EXPECT_EQ(row.total.comm_ns, 150);
  EXPECT_EQ(row.total.compute_ns, 150);
  EXPECT_EQ(row.total.overlapped_ns, 70);
  EXPECT_EQ(row.total.exposed_ns, 80);
  EXPECT_DOUBLE_EQ(row.total.overlap_percent(), 100.0 * 70 / 150);
  EXPECT_EQ(row.dispatch.overlapped_ns, 50);
  EXPECT_EQ(row.combine.exposed_ns, 60);
  EXPECT_EQ(row.wall_ns, 260);
  EXPECT_EQ(r.iteration_source, IterationSource::None);
  EXPECT_DOUBLE_EQ(OverlapStats{}.overlap_percent(), 0.0);
}

}  // namespace
}  // namespace scmoe::prof::analysis
