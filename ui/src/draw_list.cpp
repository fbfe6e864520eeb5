#include "scmoe/ui/draw_list.h"

#include <algorithm>
#include <cmath>

namespace scmoe::ui {

namespace {

// lower_bound over [begin, end) by exponential search from `begin`: O(log distance) and it only touches
// memory near `begin`. The next fold boundary is usually a few hundred entries ahead, so a plain binary
// search over the whole rest of a million-entry lane would cost a cache miss per step instead.
const std::int64_t* gallop_lower_bound(const std::int64_t* begin, const std::int64_t* end, std::int64_t value) {
  std::ptrdiff_t step = 1;
  const std::int64_t* lo = begin;
  const std::int64_t* hi = begin;
  while (hi < end && *hi < value) {
    lo = hi + 1;
    hi = (end - hi > step) ? hi + step : end;
    step *= 2;
  }
  return std::lower_bound(lo, hi, value);
}

}  // namespace

void fold_lane(const Lane& lane, TimeWindow window, double width_px, double min_px, std::vector<LaneRun>& out) {
  if (lane.size() == 0 || window.length() <= 0 || width_px <= 0) return;
  const double px_per_ns = width_px / double(window.length());
  const auto to_x = [&](std::int64_t t) {
    // Clamp far-away ends so float precision and huge widths cannot misbehave.
    return float(std::clamp(double(t - window.start_ns) * px_per_ns, -2.0, width_px + 2.0));
  };
  const auto min_ns = static_cast<std::int64_t>(std::ceil(min_px / px_per_ns));
  const std::int64_t* starts = lane.starts.data();
  const std::int64_t* ends = lane.ends.data();
  // Visible entries: end > window start and start < window end. Ends are sorted too (no overlap).
  const auto first = static_cast<std::uint32_t>(std::upper_bound(ends, ends + lane.size(), window.start_ns) - ends);
  const auto last = static_cast<std::uint32_t>(std::lower_bound(starts, starts + lane.size(), window.end_ns) - starts);
  bool previous_folded = false;
  std::uint32_t i = first;
  while (i < last) {
    const float x0 = to_x(starts[i]);
    if (ends[i] - starts[i] >= min_ns) {
      out.push_back(LaneRun{i, i + 1, x0, to_x(ends[i])});
      previous_folded = false;
      ++i;
      continue;
    }
    // Narrow entry: absorb every entry that starts within min_px of it. They all end before the next
    // one starts (no overlap), so the run stays within a few pixels unless its last entry is wide;
    // a wide last entry is left out to be drawn on its own.
    auto k = static_cast<std::uint32_t>(gallop_lower_bound(starts + i + 1, starts + last, starts[i] + min_ns) - starts);
    if (k > i + 1 && ends[k - 1] - starts[k - 1] >= min_ns) --k;
    const float x1 = std::max(to_x(ends[k - 1]), x0 + 1.0f);
    if (previous_folded && !out.empty() && x0 - out.back().x1 < float(min_px)) {
      out.back().end = k;  // adjacent folds merge into one box
      out.back().x1 = x1;
    } else {
      out.push_back(LaneRun{i, k, x0, x1});
    }
    previous_folded = true;
    i = k;
  }
}

DrawList build_draw_list(const TimelineLayout& layout, const std::vector<Row>& rows, TimeWindow window,
                         double width_px, int y_min, int y_max, double min_px) {
  DrawList list;
  std::vector<LaneRun> runs;
  const prof::Trace& trace = layout.trace();
  for (std::uint32_t r = 0; r < rows.size(); ++r) {
    const Row& row = rows[r];
    if (row.y + row.height <= y_min || row.y >= y_max) continue;
    if (row.kind == RowKind::Lane) {
      const auto& lanes = layout.lanes(row.track);
      if (row.lane >= lanes.size()) continue;
      const Lane& lane = lanes[row.lane];
      const std::vector<prof::Span>& spans = trace.tracks[row.track].spans;
      runs.clear();
      fold_lane(lane, window, width_px, min_px, runs);
      for (const LaneRun& run : runs) {
        const prof::Span& s = spans[lane.ids[run.begin]];
        list.boxes.push_back(DrawBox{r, run.x0, run.x1, run.count(), lane.ids[run.begin], s.category, s.flags});
      }
    } else if (row.kind == RowKind::Band) {
      const RankGroup& group = layout.ranks()[row.rank_group];
      for (int state = 0; state < kBandStateCount; ++state) {
        runs.clear();
        fold_lane(group.band[state], window, width_px, min_px, runs);
        for (const LaneRun& run : runs) list.band.push_back(BandBox{r, run.x0, run.x1, static_cast<BandState>(state)});
      }
    }
  }
  return list;
}

std::optional<std::uint32_t> find_in_lane(const Lane& lane, std::int64_t t, std::int64_t tolerance_ns) {
  if (lane.size() == 0) return std::nullopt;
  // First entry ending after t - tolerance: the only candidates are it and the one after it.
  auto idx = static_cast<std::uint32_t>(
      std::upper_bound(lane.ends.begin(), lane.ends.end(), t - tolerance_ns) - lane.ends.begin());
  std::optional<std::uint32_t> best;
  std::int64_t best_distance = tolerance_ns + 1;
  for (std::uint32_t k = idx; k < lane.size() && k < idx + 2; ++k) {
    const std::int64_t distance = t < lane.starts[k] ? lane.starts[k] - t : (t > lane.ends[k] ? t - lane.ends[k] : 0);
    if (distance < best_distance) {
      best = k;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace scmoe::ui
