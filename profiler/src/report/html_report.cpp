#include "scmoe/profiler/report/html_report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>
#include <sstream>

#include "scmoe/profiler/formats/atomic_file.h"
#include "scmoe/profiler/report/palette.h"

namespace scmoe::prof::report {

namespace {

constexpr int kRowHeight = 18;
constexpr int kLabelWidth = 190;
constexpr int kRulerHeight = 22;

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A tick step of 1, 2 or 5 times a power of ten, giving about `ticks` ticks over `span_ns`.
double nice_step(double span_ns, int ticks) {
  const double raw = span_ns / std::max(ticks, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(std::max(raw, 1.0))));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * magnitude >= raw) return m * magnitude;
  }
  return 10.0 * magnitude;
}

std::string time_label(double ns) {
  if (ns == 0) return "0";
  const double a = std::fabs(ns);
  if (a >= 1e9) return number(ns / 1e9, 2) + " s";
  if (a >= 1e6) return number(ns / 1e6, 2) + " ms";
  if (a >= 1e3) return number(ns / 1e3, 1) + " us";
  return number(ns, 0) + " ns";
}

// Tracks in display order: rank, then device, then compute before comm before the rest.
std::vector<std::size_t> display_order(const Trace& trace) {
  std::vector<std::size_t> order(trace.tracks.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const TrackInfo& x = trace.tracks[a].info;
    const TrackInfo& y = trace.tracks[b].info;
    if (x.rank != y.rank) return x.rank < y.rank;
    if (x.device != y.device) return x.device < y.device;
    return static_cast<int>(x.kind) < static_cast<int>(y.kind);
  });
  std::erase_if(order, [&](std::size_t i) { return trace.tracks[i].spans.empty(); });
  return order;
}

struct Box {
  double x0 = 0, x1 = 0;
  Category category = Category::Other;
  bool emulated = false;
  std::size_t count = 0;
  std::string title;
};

void emit_box(std::ostringstream& svg, const Box& box, int y) {
  const double width = std::max(box.x1 - box.x0, 1.0);
  svg << "<rect x=\"" << number(box.x0, 2) << "\" y=\"" << y + 2 << "\" width=\"" << number(width, 2)
      << "\" height=\"" << kRowHeight - 4 << "\" fill=\"" << category_hex(box.category) << "\">"
      << "<title>" << escape(box.title) << "</title></rect>";
  if (box.emulated) {
    svg << "<rect x=\"" << number(box.x0, 2) << "\" y=\"" << y + 2 << "\" width=\"" << number(width, 2)
        << "\" height=\"" << kRowHeight - 4 << "\" fill=\"url(#emulated)\"/>";
  }
}

}  // namespace

std::string render_timeline_svg(const Trace& trace, int width_px) {
  const std::vector<std::size_t> rows = display_order(trace);
  const std::int64_t t0 = trace.begin_ns();
  const double span_ns = std::max<double>(static_cast<double>(trace.end_ns() - t0), 1.0);
  const double plot_width = std::max(width_px - kLabelWidth - 10, 50);
  const double px_per_ns = plot_width / span_ns;
  const int height = kRulerHeight + static_cast<int>(rows.size()) * kRowHeight + 4;

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width_px << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"11\">"
      << "<defs><pattern id=\"emulated\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
         "patternTransform=\"rotate(45)\"><rect width=\"2\" height=\"6\" fill=\"white\" "
         "fill-opacity=\"0.55\"/></pattern></defs>";

  // Ruler.
  const double step = nice_step(span_ns, 8);
  for (double t = 0; t <= span_ns + 0.5; t += step) {
    const double x = kLabelWidth + t * px_per_ns;
    svg << "<line x1=\"" << number(x, 2) << "\" y1=\"0\" x2=\"" << number(x, 2) << "\" y2=\"" << height
        << "\" stroke=\"#dddddd\"/><text x=\"" << number(x + 2, 2) << "\" y=\"14\" fill=\"#555\">"
        << time_label(t) << "</text>";
  }

  int y = kRulerHeight;
  for (std::size_t row : rows) {
    const Track& track = trace.tracks[row];
    svg << "<text x=\"4\" y=\"" << y + kRowHeight - 5 << "\">rank " << track.info.rank << " "
        << escape(track.info.name) << "</text>";
    svg << "<g transform=\"translate(" << kLabelWidth << ",0)\">";
    // Spans narrower than a pixel are folded into the run they belong to; a run ends at the first gap of
    // a pixel or more. The run takes the colour of its longest member.
    std::optional<Box> run;
    std::int64_t run_longest = -1;
    auto flush_run = [&] {
      if (!run) return;
      run->title = std::to_string(run->count) + " spans folded";
      emit_box(svg, *run, y);
      run.reset();
    };
    for (const Span& s : track.spans) {
      const double x0 = static_cast<double>(s.start_ns - t0) * px_per_ns;
      const double x1 = static_cast<double>(s.end_ns - t0) * px_per_ns;
      if (x1 - x0 >= 1.0) {
        flush_run();
        Box box{x0, x1, s.category, s.has_flag(kSpanEmulated), 1, {}};
        box.title = std::string(trace.name_of(s)) + " (" + std::string(category_name(s.category)) + ", " +
                    time_label(static_cast<double>(s.duration_ns())) +
                    (box.emulated ? ", emulated" : "") + ")";
        emit_box(svg, box, y);
        continue;
      }
      if (run && x0 > run->x1 + 1.0) flush_run();
      if (!run) {
        run = Box{x0, x1, s.category, s.has_flag(kSpanEmulated), 0, {}};
        run_longest = -1;
      }
      run->x1 = std::max(run->x1, x1);
      run->count += 1;
      run->emulated = run->emulated && s.has_flag(kSpanEmulated);
      if (s.duration_ns() > run_longest) {
        run_longest = s.duration_ns();
        run->category = s.category;
      }
    }
    flush_run();
    svg << "</g>";
    y += kRowHeight;
  }
  svg << "</svg>";
  return svg.str();
}

namespace {

std::string render_chart_svg(const LineChart& chart, int width_px, int height_px) {
  static constexpr std::array<const char*, 6> kColours = {"#e15759", "#4e79a7", "#59a14f",
                                                           "#f28e2b", "#b07aa1", "#76b7b2"};
  double lo = 0, hi = 0;
  std::size_t steps = 0;
  bool any = false;
  for (const Series& s : chart.series) {
    steps = std::max(steps, s.values.size());
    for (double v : s.values) {
      if (!std::isfinite(v)) continue;
      lo = any ? std::min(lo, v) : v;
      hi = any ? std::max(hi, v) : v;
      any = true;
    }
  }
  lo = std::min(lo, 0.0);
  if (hi <= lo) hi = lo + 1;
  const double left = 50, right = 10, top = 10, bottom = 24;
  const double w = width_px - left - right, h = height_px - top - bottom;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width_px << "\" height=\"" << height_px
      << "\" font-family=\"sans-serif\" font-size=\"11\">";
  svg << "<line x1=\"" << left << "\" y1=\"" << top + h << "\" x2=\"" << left + w << "\" y2=\"" << top + h
      << "\" stroke=\"#888\"/><line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left
      << "\" y2=\"" << top + h << "\" stroke=\"#888\"/>";
  for (int i = 0; i <= 4; ++i) {
    const double v = lo + (hi - lo) * i / 4.0;
    const double yy = top + h - h * i / 4.0;
    svg << "<text x=\"2\" y=\"" << number(yy + 4, 1) << "\" fill=\"#555\">" << number(v, 2) << "</text>";
  }
  svg << "<text x=\"" << left << "\" y=\"" << height_px - 6 << "\" fill=\"#555\">iteration (" << steps
      << ") — " << escape(chart.y_label) << "</text>";
  for (std::size_t si = 0; si < chart.series.size(); ++si) {
    const Series& s = chart.series[si];
    const char* colour = kColours[si % kColours.size()];
    svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\" points=\"";
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      if (!std::isfinite(s.values[i])) continue;
      const double x = left + (steps > 1 ? w * static_cast<double>(i) / static_cast<double>(steps - 1) : 0);
      const double yy = top + h - h * (s.values[i] - lo) / (hi - lo);
      svg << number(x, 1) << "," << number(yy, 1) << " ";
    }
    svg << "\"/><text x=\"" << left + w - 150 << "\" y=\"" << top + 12 + 13 * static_cast<double>(si)
        << "\" fill=\"" << colour << "\">" << escape(s.label) << "</text>";
  }
  svg << "</svg>";
  return svg.str();
}

}  // namespace

std::string render_html(const HtmlReport& report) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << escape(report.title)
       << "</title><style>body{font-family:sans-serif;margin:24px;color:#222}"
          "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;"
          "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
          "tr.chosen td{background:#fff3c4;font-weight:bold}.legend span{display:inline-block;"
          "margin-right:12px}.swatch{display:inline-block;width:12px;height:12px;margin-right:4px;"
          "vertical-align:middle}.note{color:#555}</style></head><body>\n";
  html << "<h1>" << escape(report.title) << "</h1>\n";
  for (const std::string& note : report.notes) html << "<p class=\"note\">" << escape(note) << "</p>\n";

  for (const KeyValues& kv : report.key_values) {
    html << "<section><h2>" << escape(kv.heading) << "</h2><table>";
    for (const auto& [k, v] : kv.items) html << "<tr><td>" << escape(k) << "</td><td>" << escape(v) << "</td></tr>";
    html << "</table></section>\n";
  }
  for (const Table& table : report.tables) {
    html << "<section><h2>" << escape(table.heading) << "</h2><table><tr>";
    for (const std::string& h : table.header) html << "<th>" << escape(h) << "</th>";
    html << "</tr>";
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
      html << (static_cast<int>(r) == table.highlighted_row ? "<tr class=\"chosen\">" : "<tr>");
      for (const std::string& cell : table.rows[r]) html << "<td>" << escape(cell) << "</td>";
      html << "</tr>";
    }
    html << "</table></section>\n";
  }
  for (const TimelineFigure& fig : report.timelines) {
    if (fig.trace == nullptr) continue;
    html << "<section><h2>" << escape(fig.heading) << "</h2><div class=\"legend\">";
    for (int c = 0; c < kCategoryCount; ++c) {
      const auto cat = static_cast<Category>(c);
      html << "<span><i class=\"swatch\" style=\"background:" << category_hex(cat) << "\"></i>"
           << category_name(cat) << "</span>";
    }
    html << "<span>hatched = emulated link time</span></div>\n"
         << render_timeline_svg(*fig.trace, 1200) << "</section>\n";
  }
  for (const LineChart& chart : report.charts) {
    html << "<section><h2>" << escape(chart.heading) << "</h2>" << render_chart_svg(chart, 900, 260)
         << "</section>\n";
  }
  html << "</body></html>\n";
  return html.str();
}

std::string write_html(const HtmlReport& report, const std::string& path) {
  return formats::write_file_atomically(path, render_html(report));
}

}  // namespace scmoe::prof::report
