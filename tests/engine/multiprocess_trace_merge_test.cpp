// The clock offset estimate (NTP's midpoint rule on the shortest round trip) and the merge of per-process
// traces into one multi-rank trace on the first process's clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "scmoe/profiler/clock_offset.h"
#include "scmoe/profiler/trace_merge.h"

namespace prof = scmoe::prof;

namespace {

// A sample for a peer whose clock runs `offset` ahead, with the ping taking `out` ns and the reply `back`.
prof::ClockSample sample(std::int64_t sent, std::int64_t out, std::int64_t back, std::int64_t offset) {
  return {sent, sent + out + offset, sent + out + back};
}

std::string meta(const prof::Trace& t, const std::string& key) {
  for (const auto& [k, v] : t.metadata) {
    if (k == key) return v;
  }
  return "(absent)";
}

// One process's trace: rank `rank`, a compute span and a comm span linked by a flow, metadata given.
prof::Trace process_trace(int rank, std::int64_t start, std::vector<std::pair<std::string, std::string>> metadata) {
  prof::Trace t;
  const std::uint32_t compute = t.track_for({rank, 0, prof::DeviceKind::Cpu, prof::TrackKind::ComputeLane, 0, "compute"});
  const std::uint32_t comm = t.track_for({rank, 0, prof::DeviceKind::Cpu, prof::TrackKind::CommLane, 0, "comm"});
  prof::Span s;
  s.name = t.strings.intern("encode");
  s.start_ns = start;
  s.end_ns = start + 100;
  t.tracks[compute].spans.push_back(s);
  s.name = t.strings.intern(rank == 0 ? "dispatch" : "combine");
  s.start_ns = start + 100;
  s.end_ns = start + 400;
  t.tracks[comm].spans.push_back(s);
  t.flows.push_back({{compute, 0}, {comm, 0}, prof::FlowKind::MoePipeline});
  // As the host collector lists them: 0..rank, then the executor's own once more.
  for (int r = 0; r <= rank; ++r) t.ranks.push_back({r, "rank " + std::to_string(r)});
  t.ranks.push_back({rank, "rank " + std::to_string(rank)});
  t.metadata = std::move(metadata);
  return t;
}

}  // namespace

TEST(ClockOffset, TheShortestRoundTripGivesTheMidpointEstimate) {
  // Peer clock 7000 ns ahead. Legs 100/300 ns: midpoint 200, so 7100 - 200 = 6900 (wrong by 100 <= 400/2).
  // Legs 50/60 ns: t1 = 1000 + 50 + 7000 = 8050, midpoint 1000 + 55 = 1055: 6995, round trip 110.
  const std::vector<prof::ClockSample> samples = {sample(0, 100, 300, 7000), sample(1000, 50, 60, 7000),
                                                  sample(2000, 500, 20, 7000)};
  const prof::ClockOffset o = prof::estimate_clock_offset(samples);
  EXPECT_EQ(o.offset_ns, 6995);
  EXPECT_EQ(o.round_trip_ns, 110);
  EXPECT_LE(std::abs(o.offset_ns - 7000), o.round_trip_ns / 2);
}

TEST(ClockOffset, NoUsableSampleGivesZero) {
  EXPECT_EQ(prof::estimate_clock_offset({}).offset_ns, 0);
  const std::vector<prof::ClockSample> backwards = {{100, 5, 50}};  // received before sent: a broken clock read
  const prof::ClockOffset o = prof::estimate_clock_offset(backwards);
  EXPECT_EQ(o.offset_ns, 0);
  EXPECT_EQ(o.round_trip_ns, 0);
}

TEST(TraceMerge, SpansMoveOntoTheFirstClockAndTracksFlowsAndMetadataAreKept) {
  std::vector<prof::ProcessTrace> parts(2);
  parts[0].trace = process_trace(0, 1000, {{"arch", "scmoe"}, {"host", "a"}});
  parts[1].trace = process_trace(1, 5000, {{"arch", "scmoe"}, {"host", "b"}});
  parts[1].estimate = {3000, 80};  // rank 1's clock reads 3000 ns more
  parts[1].same_boot_clock = false;
  const prof::Trace merged = prof::merge_process_traces(std::move(parts));

  ASSERT_EQ(merged.tracks.size(), 4u);
  ASSERT_EQ(merged.ranks.size(), 2u);  // once each
  EXPECT_EQ(merged.ranks[0].rank, 0);
  EXPECT_EQ(merged.ranks[1].rank, 1);
  // Rank 1's encode ran at 5000 on its clock: 2000 on rank 0's.
  const prof::Track& rank1_compute = merged.tracks[2];
  EXPECT_EQ(rank1_compute.info.rank, 1);
  ASSERT_EQ(rank1_compute.spans.size(), 1u);
  EXPECT_EQ(rank1_compute.spans[0].start_ns, 2000);
  EXPECT_EQ(rank1_compute.spans[0].end_ns, 2100);
  EXPECT_EQ(merged.name_of(merged.tracks[3].spans[0]), "combine");
  EXPECT_EQ(merged.tracks[0].spans[0].start_ns, 1000);  // rank 0 untouched
  // Rank 1's flow now joins tracks 2 and 3.
  ASSERT_EQ(merged.flows.size(), 2u);
  EXPECT_EQ(merged.flows[1].from.track, 2u);
  EXPECT_EQ(merged.flows[1].to.track, 3u);

  EXPECT_EQ(meta(merged, "arch"), "scmoe");
  EXPECT_EQ(meta(merged, "host"), "(absent)");
  EXPECT_EQ(meta(merged, "host.rank0"), "a");
  EXPECT_EQ(meta(merged, "host.rank1"), "b");
  EXPECT_EQ(meta(merged, "processes"), "2");
  EXPECT_EQ(meta(merged, "clock_offset_ns.rank1"), "3000");
  EXPECT_EQ(meta(merged, "clock_estimate_ns.rank1"), "3000 +- 40");
  EXPECT_EQ(meta(merged, "clock.rank1"), "estimated from round trips");
  EXPECT_EQ(meta(merged, "clock_offset_ns.rank0"), "(absent)");
}

TEST(TraceMerge, ProcessesOfOneBootKeepTheirTimes) {
  std::vector<prof::ProcessTrace> parts(2);
  parts[0].trace = process_trace(0, 1000, {});
  parts[1].trace = process_trace(1, 1050, {});
  parts[1].estimate = {-20, 60};  // the pings' noise: one CLOCK_MONOTONIC needs no shift
  const prof::Trace merged = prof::merge_process_traces(std::move(parts));
  EXPECT_EQ(merged.tracks[2].spans[0].start_ns, 1050);
  EXPECT_EQ(meta(merged, "clock_offset_ns.rank1"), "0");
  EXPECT_EQ(meta(merged, "clock_estimate_ns.rank1"), "-20 +- 30");
  EXPECT_EQ(meta(merged, "clock.rank1"), "same boot clock");
}
