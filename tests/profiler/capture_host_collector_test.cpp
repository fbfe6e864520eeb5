// Host collector: spans from many threads, nesting depth, explicit spans, repeated collection.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "scmoe/profiler/capture/host_collector.h"

namespace scmoe::prof::capture {
namespace {

TEST(HostCollector, ManyThreadsKeepEverySpanOnItsTrack) {
  HostCollector collector;
  constexpr int kThreads = 8, kSpans = 2000;
  std::vector<HostTrackId> tracks;
  for (int i = 0; i < kThreads; ++i) tracks.push_back(collector.track(i % 2, TrackKind::ComputeLane, "lane " + std::to_string(i)));
  const HostNameId op = collector.intern("op");
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < kSpans; ++n) HostSpan span(collector, tracks[i], op, Category::Expert, /*layer=*/i, /*iteration=*/n);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(collector.pending_spans(), std::size_t(kThreads * kSpans));
  const Trace trace = collector.collect();
  ASSERT_EQ(trace.tracks.size(), std::size_t(kThreads));
  ASSERT_EQ(trace.ranks.size(), 2u);
  EXPECT_EQ(trace.strings.view(op), "op");
  for (int i = 0; i < kThreads; ++i) {
    const Track& t = trace.tracks[i];
    EXPECT_EQ(t.info.name, "lane " + std::to_string(i));
    EXPECT_EQ(t.info.rank, i % 2);
    ASSERT_EQ(t.spans.size(), std::size_t(kSpans));
    for (int n = 0; n < kSpans; ++n) {
      EXPECT_EQ(t.spans[n].layer, i);
      EXPECT_EQ(t.spans[n].iteration, n) << "one thread's spans stay in recording order";
      EXPECT_LE(t.spans[n].start_ns, t.spans[n].end_ns);
      if (n > 0) {
        EXPECT_GE(t.spans[n].start_ns, t.spans[n - 1].end_ns);
      }
    }
  }
  EXPECT_EQ(collector.pending_spans(), 0u) << "collect() drains";
  EXPECT_EQ(collector.collect().span_count(), 0u);
}

TEST(HostCollector, NestingExplicitSpansAndEarlyEnd) {
  HostCollector collector;
  const HostTrackId lane = collector.track(0, TrackKind::ComputeLane, "compute");
  const HostTrackId comm = collector.track(0, TrackKind::CommLane, "comm");
  EXPECT_EQ(collector.track(0, TrackKind::ComputeLane, "compute"), lane) << "same identity, same track";
  const HostNameId outer = collector.intern("layer"), inner = collector.intern("gate"), a2a = collector.intern("a2a");
  {
    HostSpan a(collector, lane, outer, Category::Other, 3, 7);
    {
      HostSpan b(collector, lane, inner, Category::Gate, 3, 7, /*op_instance=*/2);
      b.add_flags(kSpanDropped);
    }
    HostSpan c(collector, lane, inner, Category::Gate);
    c.end();
    c.end();  // no second record
  }
  collector.add_span(comm, a2a, Category::Dispatch, 1000, 5000, 3, 7, 2, kSpanEmulated);
  collector.add_span(comm, a2a, Category::Combine, 9000, 8000);  // reversed: clamped to zero length
  const Trace t = collector.collect();
  ASSERT_EQ(t.tracks[lane].spans.size(), 3u);
  const Span& first = t.tracks[lane].spans[0];
  EXPECT_EQ(t.name_of(first), "layer");
  EXPECT_EQ(first.depth, 0);
  EXPECT_EQ(t.tracks[lane].spans[1].depth, 1);
  EXPECT_EQ(t.tracks[lane].spans[1].op_instance, 2);
  EXPECT_TRUE(t.tracks[lane].spans[1].has_flag(kSpanDropped));
  EXPECT_EQ(t.tracks[lane].spans[2].depth, 1);
  EXPECT_LE(first.start_ns, t.tracks[lane].spans[1].start_ns);
  EXPECT_GE(first.end_ns, t.tracks[lane].spans[2].end_ns) << "outer span encloses the inner ones";
  ASSERT_EQ(t.tracks[comm].spans.size(), 2u);
  EXPECT_EQ(t.tracks[comm].spans[0].duration_ns(), 4000);
  EXPECT_TRUE(t.tracks[comm].spans[0].has_flag(kSpanEmulated));
  EXPECT_EQ(t.tracks[comm].spans[1].duration_ns(), 0);
  EXPECT_EQ(t.tracks[comm].spans[1].start_ns, 9000);
}

TEST(HostCollector, CollectorsOnOneThreadStaySeparate) {
  // More collectors than the per-thread cache has slots, used alternately from one thread.
  std::vector<std::unique_ptr<HostCollector>> collectors;
  for (int i = 0; i < 6; ++i) collectors.push_back(std::make_unique<HostCollector>());
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 6; ++i) {
      auto& c = *collectors[i];
      c.add_span(c.track(0, TrackKind::HostThread, "main"), c.intern("x"), Category::Other, i, i + 1);
    }
  }
  for (int i = 0; i < 6; ++i) {
    const Trace t = collectors[i]->collect();
    ASSERT_EQ(t.span_count(), 3u);
    EXPECT_EQ(t.tracks[0].spans[0].start_ns, i);
  }
}

TEST(HostCollector, FlowsBetweenLanesResolveByKey) {
  HostCollector collector;
  const HostTrackId compute = collector.track(0, TrackKind::ComputeLane, "compute");
  const HostTrackId comm = collector.track(0, TrackKind::CommLane, "comm");
  const HostNameId dispatch = collector.intern("dispatch"), expert = collector.intern("expert");
  // Recorded out of time order and from another thread, as lanes do.
  std::thread lane([&] { collector.add_span(comm, dispatch, Category::Dispatch, 100, 300, 2, 5, 0); });
  lane.join();
  collector.add_span(compute, expert, Category::Expert, 50, 80, 2, 5, 0);    // an earlier, unrelated expert
  collector.add_span(compute, expert, Category::Expert, 300, 700, 2, 5, 1);  // depends on the dispatch
  collector.add_flow(HostSpanKey{comm, dispatch, 2, 5, 0}, HostSpanKey{compute, expert, 2, 5, 1});
  collector.add_flow(HostSpanKey{comm, dispatch, 2, 6, 0}, HostSpanKey{compute, expert, 2, 5, 1});  // no such span
  const Trace t = collector.collect();
  ASSERT_EQ(t.flows.size(), 1u);
  const Flow& f = t.flows[0];
  EXPECT_EQ(f.kind, FlowKind::MoePipeline);
  EXPECT_EQ(f.from, (SpanRef{comm, 0}));
  EXPECT_EQ(f.to.track, compute);
  EXPECT_EQ(t.tracks[compute].spans[f.to.span].start_ns, 300) << "points at the span after sorting";
  const auto unresolved = std::find_if(t.metadata.begin(), t.metadata.end(),
                                       [](const auto& kv) { return kv.first == "unresolved_flows"; });
  ASSERT_NE(unresolved, t.metadata.end());
  EXPECT_EQ(unresolved->second, "1");
}

}  // namespace
}  // namespace scmoe::prof::capture
