// A self-contained HTML report (no external files, no scripts): tables, key/value sections, an SVG
// timeline of a trace and SVG line charts. Used by `scmoe run --report` on headless machines; the studio
// writes the same report with its own rendered images.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof::report {

struct KeyValues {
  std::string heading;
  std::vector<std::pair<std::string, std::string>> items;
};

struct Table {
  std::string heading;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  int highlighted_row = -1;  // e.g. the K the adaptive scheduler chose
};

struct Series {
  std::string label;
  std::vector<double> values;  // one per x step
};

struct LineChart {
  std::string heading;
  std::string y_label;
  std::vector<Series> series;
};

struct TimelineFigure {
  std::string heading;
  const Trace* trace = nullptr;  // not owned; must outlive render()
};

struct HtmlReport {
  std::string title;
  std::vector<std::string> notes;  // paragraphs shown under the title (e.g. "times are emulated ...")
  std::vector<KeyValues> key_values;
  std::vector<Table> tables;
  std::vector<TimelineFigure> timelines;
  std::vector<LineChart> charts;
};

// The whole document as one string.
std::string render_html(const HtmlReport& report);

// An SVG Gantt chart of the trace: one row per track, spans coloured by category, emulated spans hatched.
// Runs of spans narrower than a pixel are folded into one box, so the size of the SVG is bounded by the
// width times the number of rows, not by the number of spans.
std::string render_timeline_svg(const Trace& trace, int width_px);

// Writes the report atomically (temporary file in the same folder, then rename). Returns "" or the error.
std::string write_html(const HtmlReport& report, const std::string& path);

}  // namespace scmoe::prof::report
