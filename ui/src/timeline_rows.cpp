#include "scmoe/ui/timeline_rows.h"

#include <algorithm>

namespace scmoe::ui {

std::vector<Row> arrange_rows(const TimelineLayout& layout, const RowOptions& options) {
  std::vector<Row> rows;
  int y = 0;
  auto push = [&](Row r, int height) {
    r.y = y;
    r.height = height;
    y += height;
    rows.push_back(r);
  };
  auto push_track = [&](std::uint32_t group, std::uint32_t track, bool pinned) {
    const auto& lanes = layout.lanes(track);
    // An empty track still gets one row, so the user sees the stream exists.
    const std::uint32_t n = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(lanes.size()));
    for (std::uint32_t lane = 0; lane < n; ++lane) {
      push(Row{RowKind::Lane, group, track, lane, pinned, 0, 0}, options.lane_height);
    }
  };
  const auto& ranks = layout.ranks();
  for (std::uint32_t g = 0; g < ranks.size(); ++g) {
    for (std::uint32_t track : ranks[g].tracks) {
      if (options.pinned_tracks.count(track) && !options.hidden_tracks.count(track)) push_track(g, track, true);
    }
  }
  for (std::uint32_t g = 0; g < ranks.size(); ++g) {
    push(Row{RowKind::RankHeader, g, 0, 0, false, 0, 0}, options.header_height);
    if (!options.collapsed_ranks.count(ranks[g].rank)) {
      for (std::uint32_t track : ranks[g].tracks) {
        if (!options.hidden_tracks.count(track)) push_track(g, track, false);
      }
    }
    push(Row{RowKind::Band, g, 0, 0, false, 0, 0}, options.band_height);
  }
  return rows;
}

int row_at(const std::vector<Row>& rows, int y) {
  auto it = std::upper_bound(rows.begin(), rows.end(), y, [](int v, const Row& r) { return v < r.y; });
  if (it == rows.begin()) return -1;
  --it;
  return y < it->y + it->height ? static_cast<int>(it - rows.begin()) : -1;
}

}  // namespace scmoe::ui
