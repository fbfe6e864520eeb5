// Qt-free level of detail, the step between the data and the painter (as in Tracy): for the visible
// window, each visible row is reduced to a short list of boxes. Spans at least `min_px` wide become one
// box each; runs of narrower spans fold into one box carrying a count. Work per row is bounded by the
// pixel width (two binary searches, then one short exponential search per fold), not by the span count, so
// a million spans in view cost the same as a thousand.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "scmoe/ui/timeline_layout.h"
#include "scmoe/ui/timeline_rows.h"

namespace scmoe::ui {

struct TimeWindow {
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 1;
  std::int64_t length() const { return end_ns - start_ns; }
};

// A run of consecutive lane entries [begin, end) drawn as one box from x0 to x1 (pixels).
struct LaneRun {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  float x0 = 0;
  float x1 = 0;
  std::uint32_t count() const { return end - begin; }
};

// Appends the runs of one lane inside `window` mapped onto `width_px` pixels. Runs index into the lane
// and together hold exactly its visible entries, in order. When the lane has levels, the coarsest one
// folded at no more than half the fold width is folded instead: the same picture up to where a few-pixel
// fold boundary falls.
void fold_lane(const Lane& lane, TimeWindow window, double width_px, double min_px, std::vector<LaneRun>& out);

// Builds lane.levels for a lane of thousands of entries or more (TimelineLayout does it for every lane):
// the lane folded at widths growing 4x per level, a level kept when it at least halves the entry count.
// Zoomed out, a fold touches a few cache lines of a small level instead of a few spread over megabytes.
void build_lane_levels(Lane& lane);

struct DrawBox {
  std::uint32_t row = 0;
  float x0 = 0, x1 = 0;
  std::uint32_t count = 1;        // > 1: a folded run
  std::uint32_t span = 0;         // first span of the run (index into the row's track)
  prof::Category category = prof::Category::Other;
  std::uint8_t flags = 0;         // of the first span: emulated / predicted / dropped
};

struct BandBox {
  std::uint32_t row = 0;
  float x0 = 0, x1 = 0;
  BandState state = BandState::ComputeOnly;
};

struct DrawList {
  std::vector<DrawBox> boxes;
  std::vector<BandBox> band;
};

// Rows outside [y_min, y_max) are skipped entirely.
DrawList build_draw_list(const TimelineLayout& layout, const std::vector<Row>& rows, TimeWindow window,
                         double width_px, int y_min, int y_max, double min_px = 3.0);

// The span of a lane under time t, or the nearest one within `tolerance_ns`; an index into the lane.
std::optional<std::uint32_t> find_in_lane(const Lane& lane, std::int64_t t, std::int64_t tolerance_ns);

}  // namespace scmoe::ui
