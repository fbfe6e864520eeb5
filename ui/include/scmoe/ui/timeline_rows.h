// Qt-free: which rows the timeline shows, top to bottom, given collapsed ranks and hidden/pinned tracks.
// Pinned tracks are repeated in a section at the top so they stay next to whatever the user compares.
#pragma once

#include <cstdint>
#include <set>
#include <vector>

#include "scmoe/ui/timeline_layout.h"

namespace scmoe::ui {

enum class RowKind : std::uint8_t { RankHeader, Lane, Band };

struct Row {
  RowKind kind = RowKind::Lane;
  std::uint32_t rank_group = 0;  // index into TimelineLayout::ranks()
  std::uint32_t track = 0;       // Lane rows
  std::uint32_t lane = 0;        // Lane rows: sub-lane of the track
  bool pinned = false;           // a copy shown in the pinned section
  int y = 0;                     // top, in pixels below the ruler
  int height = 0;
};

struct RowOptions {
  std::set<std::int32_t> collapsed_ranks;  // show header and overlap band only
  std::set<std::uint32_t> hidden_tracks;
  std::set<std::uint32_t> pinned_tracks;
  int header_height = 18;
  int lane_height = 18;
  int band_height = 10;
};

std::vector<Row> arrange_rows(const TimelineLayout& layout, const RowOptions& options);

// Index of the row covering pixel y, or -1.
int row_at(const std::vector<Row>& rows, int y);

}  // namespace scmoe::ui
