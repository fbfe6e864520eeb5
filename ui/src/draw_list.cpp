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

// Sorted disjoint intervals to fold: a lane, or one of its levels whose entries each stand for one or
// more lane entries.
struct Intervals {
  const std::int64_t* starts;
  const std::int64_t* ends;
  std::uint32_t size;
  const std::uint32_t* first = nullptr;  // a level's lane index per entry; null for a lane
  std::uint32_t lane_size = 0;
  bool is_run(std::uint32_t i) const { return first && (i + 1 < size ? first[i + 1] : lane_size) - first[i] > 1; }
};

// One step of the fold from entry i: the end (exclusive) of the box it starts and whether that box is a
// fold (which merges with an adjacent fold). A narrow entry absorbs every entry starting within min_ns of
// it; they all end before the next one starts (no overlap), so the run stays within a few pixels unless
// its last entry is wide, and a wide last entry is left out to be drawn on its own. A wide entry of a
// level that stands for several lane entries is a fold of its own.
struct Step {
  std::uint32_t end;
  bool folded;
};
Step fold_step(const Intervals& iv, std::uint32_t i, std::uint32_t last, std::int64_t min_ns) {
  if (iv.ends[i] - iv.starts[i] >= min_ns) return {i + 1, iv.is_run(i)};
  auto k = static_cast<std::uint32_t>(gallop_lower_bound(iv.starts + i + 1, iv.starts + last, iv.starts[i] + min_ns) -
                                      iv.starts);
  if (k > i + 1 && iv.ends[k - 1] - iv.starts[k - 1] >= min_ns) --k;
  return {k, true};
}

// fold_lane over a lane or one of its levels; runs index into `iv`.
void fold_intervals(const Intervals& iv, TimeWindow window, double width_px, double min_px, std::vector<LaneRun>& out) {
  const double px_per_ns = width_px / double(window.length());
  const auto to_x = [&](std::int64_t t) {
    // Clamp far-away ends so float precision and huge widths cannot misbehave.
    return float(std::clamp(double(t - window.start_ns) * px_per_ns, -2.0, width_px + 2.0));
  };
  const auto min_ns = static_cast<std::int64_t>(std::ceil(min_px / px_per_ns));
  // Visible entries: end > window start and start < window end. Ends are sorted too (no overlap).
  const auto first = static_cast<std::uint32_t>(std::upper_bound(iv.ends, iv.ends + iv.size, window.start_ns) - iv.ends);
  const auto last = static_cast<std::uint32_t>(std::lower_bound(iv.starts, iv.starts + iv.size, window.end_ns) - iv.starts);
  bool previous_folded = false;
  for (std::uint32_t i = first; i < last;) {
    const Step step = fold_step(iv, i, last, min_ns);
    const float x0 = to_x(iv.starts[i]);
    const float x1 = std::max(to_x(iv.ends[step.end - 1]), step.folded ? x0 + 1.0f : x0);
    if (step.folded && previous_folded && x0 - out.back().x1 < float(min_px)) {
      out.back().end = step.end;  // adjacent folds merge into one box
      out.back().x1 = x1;
    } else {
      out.push_back(LaneRun{i, step.end, x0, x1});
    }
    previous_folded = step.folded;
    i = step.end;
  }
}

}  // namespace

void fold_lane(const Lane& lane, TimeWindow window, double width_px, double min_px, std::vector<LaneRun>& out) {
  if (lane.size() == 0 || window.length() <= 0 || width_px <= 0) return;
  const auto n = static_cast<std::uint32_t>(lane.size());
  const auto min_ns = static_cast<std::int64_t>(std::ceil(min_px * double(window.length()) / width_px));
  // The coarsest level folded at no more than half this frame's fold width: its entries are narrow here,
  // so folding them draws what folding the lane would, from a fraction of the memory.
  const LaneLevel* level = nullptr;
  for (const LaneLevel& l : lane.levels) {
    if (2 * l.min_ns > min_ns) break;
    level = &l;
  }
  if (!level) {
    fold_intervals(Intervals{lane.starts.data(), lane.ends.data(), n}, window, width_px, min_px, out);
    return;
  }
  const std::size_t from = out.size();
  fold_intervals(Intervals{level->starts.data(), level->ends.data(), static_cast<std::uint32_t>(level->size()),
                           level->first.data(), n},
                 window, width_px, min_px, out);
  // Back to lane indices, trimmed to the visible entries so that counts say what is in view. A level
  // entry can straddle the window with all its own entries outside (the window inside one of its gaps):
  // such a run comes out empty and is dropped.
  const auto first = static_cast<std::uint32_t>(
      std::upper_bound(lane.ends.begin(), lane.ends.end(), window.start_ns) - lane.ends.begin());
  const auto last = static_cast<std::uint32_t>(
      std::lower_bound(lane.starts.begin(), lane.starts.end(), window.end_ns) - lane.starts.begin());
  std::size_t kept = from;
  for (std::size_t r = from; r < out.size(); ++r) {
    LaneRun run = out[r];
    run.begin = std::max(level->first[run.begin], first);
    run.end = std::min(run.end < level->size() ? level->first[run.end] : n, last);
    if (run.begin < run.end) out[kept++] = run;
  }
  out.resize(kept);
}

void build_lane_levels(Lane& lane) {
  lane.levels.clear();
  constexpr std::size_t kMinEntries = 4096;  // fewer entries fold fast enough as they are
  constexpr std::int64_t kFactor = 4;        // each level folds about 4x wider than the one below
  if (lane.size() < kMinEntries) return;
  lane.levels.reserve(16);
  const auto lane_size = static_cast<std::uint32_t>(lane.size());
  Intervals below{lane.starts.data(), lane.ends.data(), lane_size};
  // Start at a few entries per fold on average.
  std::int64_t min_ns = std::max<std::int64_t>(1, kFactor * (lane.ends.back() - lane.starts.front()) / lane_size);
  for (int tries = 0; below.size >= kMinEntries && tries < 8 && lane.levels.size() < 16;) {
    // The fold of fold_intervals over the whole level below, in time instead of pixels.
    LaneLevel level;
    level.min_ns = min_ns;
    bool previous_folded = false;
    for (std::uint32_t i = 0; i < below.size;) {
      const Step step = fold_step(below, i, below.size, min_ns);
      if (step.folded && previous_folded && below.starts[i] - level.ends.back() < min_ns) {
        level.ends.back() = below.ends[step.end - 1];
      } else {
        level.starts.push_back(below.starts[i]);
        level.ends.push_back(below.ends[step.end - 1]);
        level.first.push_back(below.first ? below.first[i] : i);
      }
      previous_folded = step.folded;
      i = step.end;
    }
    min_ns *= kFactor;
    if (level.size() * 2 > below.size) {  // folded too little to be worth keeping: try wider
      ++tries;
      continue;
    }
    lane.levels.push_back(std::move(level));
    const LaneLevel& kept = lane.levels.back();
    below = Intervals{kept.starts.data(), kept.ends.data(), static_cast<std::uint32_t>(kept.size()), kept.first.data(),
                      lane_size};
    tries = 0;
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
