#include "scmoe/ui/timeline_layout.h"

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <queue>
#include <set>

namespace scmoe::ui {

using Interval = std::pair<std::int64_t, std::int64_t>;

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

std::vector<Interval> merge_intervals(std::vector<Interval> intervals) {
  std::sort(intervals.begin(), intervals.end());
  std::vector<Interval> merged;
  for (const Interval& iv : intervals) {
    if (iv.second <= iv.first) continue;
    if (!merged.empty() && iv.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, iv.second);
    } else {
      merged.push_back(iv);
    }
  }
  return merged;
}

namespace {

std::int64_t total_length(const std::vector<Interval>& list) {
  std::int64_t n = 0;
  for (const auto& [a, b] : list) n += b - a;
  return n;
}

// Length of the intersection of two merged interval lists (two-pointer walk).
std::int64_t intersection_length(const std::vector<Interval>& x, const std::vector<Interval>& y) {
  std::int64_t n = 0;
  std::size_t i = 0, j = 0;
  while (i < x.size() && j < y.size()) {
    const std::int64_t lo = std::max(x[i].first, y[j].first);
    const std::int64_t hi = std::min(x[i].second, y[j].second);
    if (hi > lo) n += hi - lo;
    if (x[i].second < y[j].second) ++i; else ++j;
  }
  return n;
}

bool covers(const std::vector<Interval>& list, std::size_t& cursor, std::int64_t a) {
  while (cursor < list.size() && list[cursor].second <= a) ++cursor;
  return cursor < list.size() && list[cursor].first <= a;
}

// Splits the time covered by compute or comm into the three band states, as sorted disjoint lanes.
void build_band(const std::vector<Interval>& compute, const std::vector<Interval>& comm, Lane (&band)[kBandStateCount]) {
  std::vector<std::int64_t> cuts;
  cuts.reserve(2 * (compute.size() + comm.size()));
  for (const auto& [a, b] : compute) { cuts.push_back(a); cuts.push_back(b); }
  for (const auto& [a, b] : comm) { cuts.push_back(a); cuts.push_back(b); }
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
    std::vector<Interval> compute, comm, dispatch, combine;
    for (std::uint32_t ti : tracks) {
      const prof::TrackKind kind = t.tracks[ti].info.kind;
      // Annotations label other tracks' work (profiler steps, NVTX ranges): they are not work.
      if (kind == prof::TrackKind::Annotation) continue;
      for (const prof::Span& s : t.tracks[ti].spans) {
        // Nested host spans (depth > 0) are inside their parent; counting them adds nothing to a union.
        const Interval iv{s.start_ns, s.end_ns};
        if (prof::is_communication(s.category)) {
          comm.push_back(iv);
          if (s.category == prof::Category::Dispatch) dispatch.push_back(iv);
          if (s.category == prof::Category::Combine) combine.push_back(iv);
        } else if (prof::is_computation(s.category) && kind != prof::TrackKind::HostThread) {
          // Host threads only launch work; counting CPU-side launch spans as compute would hide exposed
          // comm on GPU traces. Engine CPU lanes are ComputeLane tracks, so they still count.
          compute.push_back(iv);
        }
      }
    }
    compute = merge_intervals(std::move(compute));
    comm = merge_intervals(std::move(comm));
    dispatch = merge_intervals(std::move(dispatch));
    combine = merge_intervals(std::move(combine));
    group.overlap.compute_ns = total_length(compute);
    group.overlap.comm_ns = total_length(comm);
    group.overlap.overlapped_ns = intersection_length(comm, compute);
    group.overlap.dispatch_ns = total_length(dispatch);
    group.overlap.dispatch_overlapped_ns = intersection_length(dispatch, compute);
    group.overlap.combine_ns = total_length(combine);
    group.overlap.combine_overlapped_ns = intersection_length(combine, compute);
    build_band(compute, comm, group.band);
    ranks_.push_back(std::move(group));
  }
}

}  // namespace scmoe::ui
