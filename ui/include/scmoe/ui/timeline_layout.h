// Qt-free preprocessing of a trace for drawing: groups tracks rank -> device -> track (compute lanes
// first, then comm, copy, CUDA streams, host threads) and packs the possibly overlapping spans of each
// track into non-overlapping sub-lanes. Inside a sub-lane both starts and ends are sorted, so the draw
// list finds the visible range of a lane with two binary searches and never walks the whole lane.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "scmoe/profiler/trace.h"

namespace scmoe::ui {

// A coarser copy of a lane for zoomed-out views (see build_lane_levels in draw_list.h): the lane folded
// at `min_ns`, entry j standing for the lane entries [first[j], first[j + 1]) (the last one up to the
// lane's end). Its intervals are sorted and disjoint like the lane's.
struct LaneLevel {
  std::int64_t min_ns = 0;
  std::vector<std::int64_t> starts;
  std::vector<std::int64_t> ends;
  std::vector<std::uint32_t> first;
  std::size_t size() const { return starts.size(); }
};

// A sequence of non-overlapping intervals sorted by start (hence also by end). `ids` says what each
// interval is (a span index of the owning track, or a band segment index). `levels`, coarsest last, lets
// a zoomed-out frame fold a few thousand entries instead of walking a million-entry lane.
struct Lane {
  std::vector<std::int64_t> starts;
  std::vector<std::int64_t> ends;
  std::vector<std::uint32_t> ids;
  std::vector<LaneLevel> levels;
  std::size_t size() const { return starts.size(); }
};

// Per-rank overlap band: the rank's time split into compute only / comm only / overlapped (the rest is
// idle). Built from prof::analysis::rank_unions, the unions behind the overlap metrics
// (overlap% = overlapped / comm, HTA's definition), so the band and the numbers always agree.
enum class BandState : std::uint8_t { ComputeOnly, CommOnly, Overlapped };
inline constexpr int kBandStateCount = 3;

struct RankOverlap {
  std::int64_t compute_ns = 0;     // |union of compute|
  std::int64_t comm_ns = 0;        // |union of comm|
  std::int64_t overlapped_ns = 0;  // |comm intersect compute|
  std::int64_t dispatch_ns = 0, dispatch_overlapped_ns = 0;
  std::int64_t combine_ns = 0, combine_overlapped_ns = 0;
  std::int64_t exposed_comm_ns() const { return comm_ns - overlapped_ns; }
  double overlap_fraction() const { return comm_ns > 0 ? double(overlapped_ns) / double(comm_ns) : 0.0; }
};

struct RankGroup {
  std::int32_t rank = 0;
  std::vector<std::uint32_t> tracks;  // display order
  Lane band[kBandStateCount];         // indexed by BandState
  RankOverlap overlap;
};

class TimelineLayout {
 public:
  explicit TimelineLayout(std::shared_ptr<const prof::Trace> trace);

  const prof::Trace& trace() const { return *trace_; }
  const std::vector<RankGroup>& ranks() const { return ranks_; }
  // Sub-lanes of one track; lane ids are span indices into trace().tracks[track].spans.
  const std::vector<Lane>& lanes(std::uint32_t track) const { return lanes_[track]; }
  std::int64_t begin_ns() const { return begin_ns_; }
  std::int64_t end_ns() const { return end_ns_; }
  // Sub-lane that holds a span (for hit tests and selection).
  std::uint32_t lane_of(prof::SpanRef ref) const { return lane_of_span_[ref.track][ref.span]; }

 private:
  std::shared_ptr<const prof::Trace> trace_;
  std::vector<std::vector<Lane>> lanes_;
  std::vector<std::vector<std::uint32_t>> lane_of_span_;
  std::vector<RankGroup> ranks_;
  std::int64_t begin_ns_ = 0;
  std::int64_t end_ns_ = 0;
};

// Greedy interval packing: each span (in start order) goes to the lowest-numbered lane that is free at
// its start. Optimal (lane count = maximum overlap depth). Exposed for the tests.
std::vector<Lane> pack_into_lanes(const std::vector<prof::Span>& spans, std::vector<std::uint32_t>* lane_of_span);

}  // namespace scmoe::ui
