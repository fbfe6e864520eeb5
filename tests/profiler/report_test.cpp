#include "scmoe/profiler/report/html_report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "scmoe/profiler/report/palette.h"

namespace scmoe::prof::report {
namespace {

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// Rectangles drawn for spans (the ones with a <title>), in document order: x, width, fill.
struct Rect {
  double x, width;
  std::string fill;
};
std::vector<Rect> span_rects(const std::string& svg) {
  static const std::regex rect(R"re(<rect x="([0-9.]+)" y="[0-9]+" width="([0-9.]+)" height="[0-9]+" fill="(#[0-9a-f]{6})"><title>)re");
  std::vector<Rect> out;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), rect); it != std::sregex_iterator(); ++it) {
    out.push_back({std::stod((*it)[1]), std::stod((*it)[2]), (*it)[3]});
  }
  return out;
}

TEST(TimelineSvg, PlacesSpansInProportionAndMarksEmulatedTime) {
  Trace trace;
  const auto compute = trace.track_for({0, 0, DeviceKind::Cpu, TrackKind::ComputeLane, 0, "compute"});
  const auto comm = trace.track_for({0, 0, DeviceKind::Cpu, TrackKind::CommLane, 1, "comm"});
  trace.tracks[compute].spans.push_back({1000, 1500, trace.strings.intern("attn"), kNoArgs, 0, 0, 0, Category::Attention});
  Span dispatch{1250, 2000, trace.strings.intern("a2a"), kNoArgs, 0, 0, 0, Category::Dispatch};
  dispatch.flags = kSpanEmulated;
  trace.tracks[comm].spans.push_back(dispatch);
  trace.finalize();
  // 1200 px wide, 190 px of labels and 10 px margin: 1000 px for the 1000 ns from 1000 to 2000.
  const std::string svg = render_timeline_svg(trace, 1200);
  const std::vector<Rect> rects = span_rects(svg);
  ASSERT_EQ(rects.size(), 2u);
  EXPECT_DOUBLE_EQ(rects[0].x, 0.0);
  EXPECT_DOUBLE_EQ(rects[0].width, 500.0);
  EXPECT_EQ(rects[0].fill, category_hex(Category::Attention));
  EXPECT_DOUBLE_EQ(rects[1].x, 250.0);
  EXPECT_DOUBLE_EQ(rects[1].width, 750.0);
  EXPECT_EQ(rects[1].fill, category_hex(Category::Dispatch));
  EXPECT_EQ(count_of(svg, "fill=\"url(#emulated)\""), 1);
  EXPECT_NE(svg.find("rank 0 compute"), std::string::npos);
}

TEST(TimelineSvg, FoldsSubPixelRunsSoOutputIsBoundedByWidth) {
  Trace trace;
  const auto t = trace.track_for({0, 0, DeviceKind::Gpu, TrackKind::CudaStream, 7, "stream 7"});
  const auto name = trace.strings.intern("k");
  // Two clusters of 50,000 one-ns kernels, 2 ns apart, separated by a gap of 100,000 ns. Over 300,000 ns
  // and 1000 px each kernel is 1/300 px: each cluster must become exactly one box.
  for (std::int64_t i = 0; i < 50000; ++i) trace.tracks[t].spans.push_back({2 * i, 2 * i + 1, name});
  for (std::int64_t i = 0; i < 50000; ++i) {
    trace.tracks[t].spans.push_back({200000 + 2 * i, 200000 + 2 * i + 1, name, kNoArgs, -1, -1, -1, Category::Expert});
  }
  trace.finalize();
  const std::string svg = render_timeline_svg(trace, 1200);
  const std::vector<Rect> rects = span_rects(svg);
  ASSERT_EQ(rects.size(), 2u);
  EXPECT_EQ(count_of(svg, "50000 spans folded"), 2);
  EXPECT_EQ(rects[1].fill, category_hex(Category::Expert));
  EXPECT_LT(svg.size(), 20000u);
}

TEST(HtmlReport, HasEverySectionEscapedAndHighlightsTheChosenRow) {
  Trace trace;
  const auto t = trace.track_for({0, 0, DeviceKind::Cpu, TrackKind::ComputeLane, 0, "compute"});
  trace.tracks[t].spans.push_back({0, 10, trace.strings.intern("<expert>")});
  HtmlReport r;
  r.title = "Run <demo> & friends";
  r.key_values.push_back({"Configuration", {{"arch", "scmoe"}}});
  r.tables.push_back({"Per-K table", {"K", "predicted ms"}, {{"1", "3.0"}, {"2", "2.5"}}, 1});
  r.timelines.push_back({"Last iteration", &trace});
  r.charts.push_back({"Iteration time", "ms", {{"scmoe", {3.0, 2.9, 2.8}}, {"top2", {4.0, 4.1, 4.0}}}});
  const std::string html = render_html(r);
  EXPECT_NE(html.find("<title>Run &lt;demo&gt; &amp; friends</title>"), std::string::npos);
  EXPECT_EQ(html.find("<demo>"), std::string::npos);
  EXPECT_NE(html.find("&lt;expert&gt;"), std::string::npos);
  EXPECT_NE(html.find("<h2>Configuration</h2>"), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"chosen\"><td>2</td><td>2.5</td></tr>"), std::string::npos);
  EXPECT_EQ(count_of(html, "<polyline"), 2);
  EXPECT_EQ(count_of(html, "<svg"), 2);  // the timeline and the chart
}

TEST(HtmlReport, WritesAtomicallyOrReportsTheError) {
  HtmlReport r;
  r.title = "t";
  const auto dir = std::filesystem::temp_directory_path() / "scmoe_report_test";
  std::filesystem::create_directories(dir);
  const auto path = dir / "report.html";
  ASSERT_EQ(write_html(r, path.string()), "");
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), render_html(r));
  const std::string error = write_html(r, (dir / "no_such_dir" / "report.html").string());
  EXPECT_NE(error, "");
  EXPECT_FALSE(std::filesystem::exists(dir / "no_such_dir"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace scmoe::prof::report
