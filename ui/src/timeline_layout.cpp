#include "scmoe/ui/timeline_layout.h"

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <queue>
#include <set>

#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/ui/draw_list.h"

namespace scmoe::ui {

using prof::analysis::IntervalSet;

std::vector<Lane> pack_into_lanes(const std::vector<prof::Span>& spans, std::vector<std::uint32_t>* lane_of_span) {
  std::vector<std::uint32_t> order(spans.size());
  std::iota(order.begin(), order.end(), 0u);
  // Finalized traces are already sorted; imported or hand-built ones may not be.
  auto by_start = [&](std::uint32_t a, std::uint32_t b) { return spans[a].start_ns < spans[b].start_ns; };
  if (!std::is_sorted(order.begin(), order.end(), by_start)) std::stable_sort(order.begin(), order.end(), by_start);

  std::vector<Lane> lanes;
  if (lane_of_span) lane_of_span->assign(spans.size(), 0);
  // busy: (end, lane) of lanes with a span still open; free: lanes available, lowest first.
  using Busy = std::pair<std::int64_t, std::uint32_t>;
  std::priority_queue<Busy, std::vector<Busy>, std::greater<>> busy;
  std::set<std::uint32_t> free;
  for (std::uint32_t idx : order) {
    const prof::Span& s = spans[idx];
    while (!busy.empty() && busy.top().first <= s.start_ns) {
      free.insert(busy.top().second);
      busy.pop();
    }
    std::uint32_t lane;
    if (!free.empty()) {
      lane = *free.begin();
      free.erase(free.begin());
    } else {
      lane = static_cast<std::uint32_t>(lanes.size());
      lanes.emplace_back();
    }
    Lane& l = lanes[lane];
    l.starts.push_back(s.start_ns);
    // A negative duration would break the sorted-ends invariant; draw such a span as zero-length.
    l.ends.push_back(std::max(s.start_ns, s.end_ns));
    l.ids.push_back(idx);
    busy.emplace(l.ends.back(), lane);
    if (lane_of_span) (*lane_of_span)[idx] = lane;
  }
  return lanes;
}

namespace {

bool covers(const IntervalSet& list, std::size_t& cursor, std::int64_t a) {
  while (cursor < list.size() && list[cursor].end <= a) ++cursor;
  return cursor < list.size() && list[cursor].start <= a;
}

// Splits the time covered by compute or comm into the three band states, as sorted disjoint lanes.
void build_band(const IntervalSet& compute, const IntervalSet& comm, Lane (&band)[kBandStateCount]) {
  std::vector<std::int64_t> cuts;
  cuts.reserve(2 * (compute.size() + comm.size()));
  for (const auto& iv : compute) { cuts.push_back(iv.start); cuts.push_back(iv.end); }
  for (const auto& iv : comm) { cuts.push_back(iv.start); cuts.push_back(iv.end); }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::size_t ci = 0, mi = 0;
  for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
    const std::int64_t a = cuts[k], b = cuts[k + 1];
    const bool in_compute = covers(compute, ci, a);
    const bool in_comm = covers(comm, mi, a);
    if (!in_compute && !in_comm) continue;
    const BandState state = in_compute && in_comm ? BandState::Overlapped
                            : in_compute          ? BandState::ComputeOnly
                                                  : BandState::CommOnly;
    Lane& lane = band[static_cast<int>(state)];
    if (!lane.ends.empty() && lane.ends.back() == a) {
      lane.ends.back() = b;  // extend the previous segment of the same state
    } else {
      lane.starts.push_back(a);
      lane.ends.push_back(b);
      lane.ids.push_back(static_cast<std::uint32_t>(lane.ids.size()));
    }
  }
}

int track_order(prof::TrackKind k) {
  switch (k) {
    case prof::TrackKind::ComputeLane: return 0;
    case prof::TrackKind::CommLane: return 1;
    case prof::TrackKind::CopyLane: return 2;
    case prof::TrackKind::CudaStream: return 3;
    case prof::TrackKind::HostThread: return 4;
    case prof::TrackKind::Annotation: return 5;
  }
  return 6;
}

}  // namespace

TimelineLayout::TimelineLayout(std::shared_ptr<const prof::Trace> trace) : trace_(std::move(trace)) {
  const prof::Trace& t = *trace_;
  lanes_.resize(t.tracks.size());
  lane_of_span_.resize(t.tracks.size());
  std::map<std::int32_t, std::vector<std::uint32_t>> tracks_by_rank;
  for (std::uint32_t ti = 0; ti < t.tracks.size(); ++ti) {
    lanes_[ti] = pack_into_lanes(t.tracks[ti].spans, &lane_of_span_[ti]);
    tracks_by_rank[t.tracks[ti].info.rank].push_back(ti);
  }
  begin_ns_ = t.begin_ns();
  const std::vector<prof::analysis::RankUnions> all_unions = prof::analysis::rank_unions(t);
  end_ns_ = t.end_ns();

  for (auto& [rank, tracks] : tracks_by_rank) {
    RankGroup group;
    group.rank = rank;
    // Device first, then compute lanes / CUDA streams before comm, so comm sits next to its compute.
    std::stable_sort(tracks.begin(), tracks.end(), [&](std::uint32_t a, std::uint32_t b) {
      const prof::TrackInfo& x = t.tracks[a].info;
      const prof::TrackInfo& y = t.tracks[b].info;
      if (x.device_kind != y.device_kind) return x.device_kind > y.device_kind;  // GPU rows above host
      if (x.device != y.device) return x.device < y.device;
      if (track_order(x.kind) != track_order(y.kind)) return track_order(x.kind) < track_order(y.kind);
      return x.native_id < y.native_id;
    });
    group.tracks = tracks;
    // The same unions (and track choice) as the overlap analysis, so band and numbers agree with the CLI.
    const auto unions = std::find_if(all_unions.begin(), all_unions.end(),
                                     [&](const prof::analysis::RankUnions& u) { return u.rank == rank; });
    if (unions != all_unions.end()) {
      using prof::analysis::intersection_length;
      using prof::analysis::total_length;
      const IntervalSet comm = unions->comm();
      group.overlap.compute_ns = total_length(unions->compute);
      group.overlap.comm_ns = total_length(comm);
      group.overlap.overlapped_ns = intersection_length(comm, unions->compute);
      group.overlap.dispatch_ns = total_length(unions->dispatch);
      group.overlap.dispatch_overlapped_ns = intersection_length(unions->dispatch, unions->compute);
      group.overlap.combine_ns = total_length(unions->combine);
      group.overlap.combine_overlapped_ns = intersection_length(unions->combine, unions->compute);
      build_band(unions->compute, comm, group.band);
    }
    for (Lane& lane : group.band) build_lane_levels(lane);
    ranks_.push_back(std::move(group));
  }
  for (auto& lanes : lanes_)
    for (Lane& lane : lanes) build_lane_levels(lane);
}

}  // namespace scmoe::ui
