#include "scmoe/profiler/analysis/overlap.h"

#include <algorithm>
#include <array>
#include <map>

namespace scmoe::prof::analysis {

namespace {

enum Kind : std::size_t { kCompute, kDispatch, kCombine, kOtherComm, kKindCount };

// Which of the four unions a category feeds, or kKindCount for none (memcpy, memset).
constexpr std::array<std::uint8_t, kCategoryCount> make_kind_of_category() {
  std::array<std::uint8_t, kCategoryCount> kinds{};
  for (int c = 0; c < kCategoryCount; ++c) {
    const auto cat = static_cast<Category>(c);
    switch (cat) {
      case Category::Dispatch: kinds[c] = kDispatch; break;
      case Category::Combine: kinds[c] = kCombine; break;
      case Category::OtherComm: kinds[c] = kOtherComm; break;
      case Category::Memcpy:
      case Category::Memset: kinds[c] = kKindCount; break;
      default: kinds[c] = kCompute; break;
    }
  }
  return kinds;
}
constexpr auto kKindOfCategory = make_kind_of_category();

using Unions = std::array<IntervalSet, kKindCount>;


OverlapStats stats_of(const IntervalSet& comm, const IntervalSet& compute) {
  OverlapStats s;
  s.comm_ns = total_length(comm);
  s.compute_ns = total_length(compute);
  s.overlapped_ns = intersection_length(comm, compute);
  s.exposed_ns = s.comm_ns - s.overlapped_ns;
  return s;
}

OverlapRow row_of(std::int32_t rank, std::int32_t iteration, std::int64_t wall_ns, const Unions& u) {
  OverlapRow row;
  row.rank = rank;
  row.iteration = iteration;
  row.wall_ns = wall_ns;
  row.total = stats_of(unite(unite(u[kDispatch], u[kCombine]), u[kOtherComm]), u[kCompute]);
  row.dispatch = stats_of(u[kDispatch], u[kCompute]);
  row.combine = stats_of(u[kCombine], u[kCompute]);
  row.other_comm = stats_of(u[kOtherComm], u[kCompute]);
  return row;
}

// Per track, one linear pass fills the four unions (spans are sorted, so appends stay sorted); the
// tracks' unions are then merged.
Unions unions_of_tracks(const Trace& trace, const std::vector<std::uint32_t>& tracks) {
  std::array<std::vector<IntervalSet>, kKindCount> per_track;
  for (std::uint32_t ti : tracks) {
    Unions u;
    for (const Span& s : trace.tracks[ti].spans) {
      const std::uint8_t kind = kKindOfCategory[static_cast<std::size_t>(s.category)];
      if (kind != kKindCount) append_in_start_order(u[kind], s.start_ns, s.end_ns);
    }
    for (std::size_t k = 0; k < kKindCount; ++k) per_track[k].push_back(std::move(u[k]));
  }
  Unions out;
  for (std::size_t k = 0; k < kKindCount; ++k) out[k] = unite_all(std::move(per_track[k]));
  return out;
}

// Engine traces: unions of the spans tagged with each iteration, one pass per track.
std::map<std::int32_t, Unions> unions_by_iteration_tag(const Trace& trace, const std::vector<std::uint32_t>& tracks) {
  std::map<std::int32_t, std::array<std::vector<IntervalSet>, kKindCount>> per_track;
  for (std::uint32_t ti : tracks) {
    std::map<std::int32_t, Unions> mine;
    for (const Span& s : trace.tracks[ti].spans) {
      if (s.iteration < 0) continue;
      const std::uint8_t kind = kKindOfCategory[static_cast<std::size_t>(s.category)];
      if (kind != kKindCount) append_in_start_order(mine[s.iteration][kind], s.start_ns, s.end_ns);
    }
    for (auto& [iteration, u] : mine) {
      for (std::size_t k = 0; k < kKindCount; ++k) per_track[iteration][k].push_back(std::move(u[k]));
    }
  }
  std::map<std::int32_t, Unions> out;
  for (auto& [iteration, sets] : per_track) {
    for (std::size_t k = 0; k < kKindCount; ++k) out[iteration][k] = unite_all(std::move(sets[k]));
  }
  return out;
}

std::int64_t extent_of(const Trace& trace, const std::vector<std::uint32_t>& tracks) {
  bool any = false;
  std::int64_t begin = 0, end = 0;
  for (std::uint32_t ti : tracks) {
    for (const Span& s : trace.tracks[ti].spans) {
      if (!any) begin = s.start_ns, end = s.end_ns, any = true;
      begin = std::min(begin, s.start_ns);
      end = std::max(end, s.end_ns);
    }
  }
  return end - begin;
}

}  // namespace

OverlapStats& OverlapStats::operator+=(const OverlapStats& o) {
  comm_ns += o.comm_ns;
  compute_ns += o.compute_ns;
  overlapped_ns += o.overlapped_ns;
  exposed_ns += o.exposed_ns;
  return *this;
}

IntervalSet RankUnions::comm() const { return unite(unite(dispatch, combine), other_comm); }

std::vector<std::int32_t> ranks_of(const Trace& trace) {
  std::vector<std::int32_t> ranks;
  for (const Track& t : trace.tracks) ranks.push_back(t.info.rank);
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  return ranks;
}

std::vector<std::uint32_t> selected_tracks(const Trace& trace, std::int32_t rank, TrackSelection selection) {
  std::vector<std::uint32_t> device, host;
  for (std::uint32_t i = 0; i < trace.tracks.size(); ++i) {
    const TrackInfo& info = trace.tracks[i].info;
    if (info.rank != rank) continue;
    switch (info.kind) {
      case TrackKind::ComputeLane:
      case TrackKind::CommLane:
      case TrackKind::CopyLane:
      case TrackKind::CudaStream: device.push_back(i); break;
      case TrackKind::HostThread: host.push_back(i); break;
      default: break;  // annotation ranges label other tracks' work; they are not work themselves
    }
  }
  if (selection == TrackSelection::All) {
    device.insert(device.end(), host.begin(), host.end());
    std::sort(device.begin(), device.end());
    return device;
  }
  return device.empty() ? host : device;
}

std::vector<RankUnions> rank_unions(const Trace& trace, TrackSelection tracks) {
  std::vector<RankUnions> out;
  for (std::int32_t rank : ranks_of(trace)) {
    Unions u = unions_of_tracks(trace, selected_tracks(trace, rank, tracks));
    out.push_back(RankUnions{rank, std::move(u[kCompute]), std::move(u[kDispatch]), std::move(u[kCombine]),
                             std::move(u[kOtherComm])});
  }
  return out;
}

OverlapReport analyze_overlap(const Trace& trace, const OverlapOptions& options) {
  OverlapReport report;
  const IterationWindows iterations =
      options.per_iteration ? find_iterations(trace) : IterationWindows{};
  report.iteration_source = iterations.source;

  OverlapRow all;
  all.rank = kAllRanks;
  const std::vector<std::int32_t> ranks = ranks_of(trace);
  for (std::int32_t rank : ranks) {
    const std::vector<std::uint32_t> tracks = selected_tracks(trace, rank, options.tracks);
    const Unions whole = unions_of_tracks(trace, tracks);
    OverlapRow row = row_of(rank, kNoIndex, extent_of(trace, tracks), whole);
    all.wall_ns = std::max(all.wall_ns, row.wall_ns);
    all.total += row.total;
    all.dispatch += row.dispatch;
    all.combine += row.combine;
    all.other_comm += row.other_comm;
    report.whole_trace.push_back(row);

    if (iterations.source == IterationSource::SpanTags) {
      std::map<std::int32_t, Unions> by_tag = unions_by_iteration_tag(trace, tracks);
      for (const IterationWindow& w : iterations.windows) {
        if (w.rank != rank) continue;
        auto it = by_tag.find(w.iteration);
        report.per_iteration.push_back(
            it == by_tag.end() ? row_of(rank, w.iteration, w.window.length(), Unions{})
                               : row_of(rank, w.iteration, w.window.length(), it->second));
      }
    } else if (iterations.source == IterationSource::ProfilerSteps) {
      for (const IterationWindow& w : iterations.windows) {
        if (w.rank != rank) continue;
        Unions clipped;
        for (std::size_t k = 0; k < kKindCount; ++k) clipped[k] = clip(whole[k], w.window);
        report.per_iteration.push_back(row_of(rank, w.iteration, w.window.length(), clipped));
      }
    }
  }
  if (ranks.size() > 1) report.whole_trace.push_back(all);
  return report;
}

}  // namespace scmoe::prof::analysis
