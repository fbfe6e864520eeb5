#include "scmoe/ui/range_statistics.h"

#include <algorithm>

namespace scmoe::ui {

namespace {

// Calls f(index, clipped_length) for every lane entry intersecting the range.
template <class F>
void for_each_clipped(const Lane& lane, TimeWindow range, F f) {
  auto i = static_cast<std::size_t>(std::upper_bound(lane.ends.begin(), lane.ends.end(), range.start_ns) - lane.ends.begin());
  for (; i < lane.size() && lane.starts[i] < range.end_ns; ++i) {
    const std::int64_t clipped = std::min(lane.ends[i], range.end_ns) - std::max(lane.starts[i], range.start_ns);
    f(i, std::max<std::int64_t>(0, clipped));
  }
}

}  // namespace

RangeStatistics range_statistics(const TimelineLayout& layout, TimeWindow range) {
  RangeStatistics stats;
  stats.range = range;
  const prof::Trace& trace = layout.trace();
  for (std::uint32_t t = 0; t < trace.tracks.size(); ++t) {
    const auto& spans = trace.tracks[t].spans;
    for (const Lane& lane : layout.lanes(t)) {
      for_each_clipped(lane, range, [&](std::size_t i, std::int64_t clipped) {
        const auto c = static_cast<std::size_t>(spans[lane.ids[i]].category);
        stats.category_ns[c] += clipped;
        stats.category_spans[c] += 1;
      });
    }
  }
  for (const RankGroup& group : layout.ranks()) {
    const Lane& overlapped = group.band[static_cast<int>(BandState::Overlapped)];
    const Lane& comm_only = group.band[static_cast<int>(BandState::CommOnly)];
    for_each_clipped(overlapped, range, [&](std::size_t, std::int64_t clipped) {
      stats.overlapped_ns += clipped;
      stats.comm_ns += clipped;
    });
    for_each_clipped(comm_only, range, [&](std::size_t, std::int64_t clipped) { stats.comm_ns += clipped; });
  }
  return stats;
}

}  // namespace scmoe::ui
