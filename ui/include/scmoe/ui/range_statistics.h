// Qt-free statistics of a measured time range (shift+drag in the timeline): busy time per category
// (span time clipped to the range, summed over tracks) and the overlap of comm with compute inside it.
#pragma once

#include <array>
#include <cstdint>

#include "scmoe/ui/draw_list.h"
#include "scmoe/ui/timeline_layout.h"

namespace scmoe::ui {

struct RangeStatistics {
  TimeWindow range;
  std::array<std::int64_t, prof::kCategoryCount> category_ns{};  // clipped busy time, all tracks
  std::array<std::uint64_t, prof::kCategoryCount> category_spans{};  // spans touching the range
  std::int64_t comm_ns = 0;        // union of comm inside the range, summed over ranks
  std::int64_t overlapped_ns = 0;  // comm intersect compute inside the range, summed over ranks
  double overlap_fraction() const { return comm_ns > 0 ? double(overlapped_ns) / double(comm_ns) : 0.0; }
};

RangeStatistics range_statistics(const TimelineLayout& layout, TimeWindow range);

}  // namespace scmoe::ui
