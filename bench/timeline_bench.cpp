// Frame time of the timeline with one million spans, rendered offscreen into a 1920x1080 QImage at every
// half decade of zoom from the whole trace to 1/100000 of it, against a naive painter that walks every
// span per frame (what a per-item delegate does). Per zoom level, in one run: the Qt-free draw list
// alone, then the medians of wall and CPU time over N pan frames (a drag: a few pixels per frame) and N
// zoom frames (a wheel notch in, then out), and how often a frame blocked (waits: voluntary context
// switches, which Qt's raster thread pool causes and which cost wall time on a busy machine).
//
//   QT_QPA_PLATFORM=offscreen build/ui/bench/timeline_bench [spans=1000000] [frames=60]
#include <QApplication>
#include <QImage>
#include <QPainter>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include <sys/resource.h>

#include "scmoe/ui/category_style.h"
#include "scmoe/ui/draw_list.h"
#include "scmoe/ui/timeline_widget.h"
#include "scmoe/ui/view_state.h"

using namespace scmoe;
using namespace scmoe::ui;
using Clock = std::chrono::steady_clock;

namespace {

// 8 ranks x (compute + comm lane); compute spans 200..2000 ns back to back with small gaps, comm spans
// overlapping them, like an engine run of many iterations.
std::shared_ptr<prof::Trace> make_trace(std::size_t total_spans) {
  auto trace = std::make_shared<prof::Trace>();
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> len(200, 2000), gap(0, 300);
  const std::uint32_t names[] = {trace->strings.intern("attention"), trace->strings.intern("mlp"),
                                 trace->strings.intern("expert"), trace->strings.intern("dispatch"),
                                 trace->strings.intern("combine")};
  const int ranks = 8;
  const std::size_t per_track = total_spans / (2 * ranks);
  for (int r = 0; r < ranks; ++r) {
    for (int lane = 0; lane < 2; ++lane) {
      const auto ti = trace->track_for({r, 0, prof::DeviceKind::Gpu,
                                        lane ? prof::TrackKind::CommLane : prof::TrackKind::ComputeLane, lane,
                                        lane ? "comm" : "compute"});
      auto& spans = trace->tracks[ti].spans;
      spans.reserve(per_track);
      std::int64_t t = 0;
      for (std::size_t i = 0; i < per_track; ++i) {
        prof::Span s;
        s.start_ns = t + gap(rng) + (lane ? 500 : 0);
        s.end_ns = s.start_ns + len(rng);
        const int k = lane ? 3 + int(i % 2) : int(i % 3);
        s.name = names[k];
        s.category = lane ? (k == 3 ? prof::Category::Dispatch : prof::Category::Combine)
                          : (k == 0 ? prof::Category::Attention : k == 1 ? prof::Category::Mlp : prof::Category::Expert);
        if (lane) s.flags = prof::kSpanEmulated;
        t = s.end_ns;
        spans.push_back(s);
      }
    }
  }
  trace->finalize();
  return trace;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// CPU time of the calling thread: on a shared, overloaded machine it shows the work a frame takes
// without the time spent waiting for a core.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

// Voluntary context switches of the calling thread: how often it blocked, for instance waiting for Qt's
// thread pool to finish a fill. Unlike wall time it does not depend on what else the machine runs.
long thread_waits() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_nvcsw;
}

struct FrameStats {
  double wall_ms = 0;   // median
  double cpu_ms = 0;    // median
  double waits = 0;     // mean blocking waits per frame
};

// Renders `frames` frames of the real widget painter (draw list + paint), calling step(i) before each
// one (a pan or zoom step, as the input handlers do), and returns per-frame medians.
template <typename Step>
FrameStats frames_ms(TimelineWidget& w, QImage& image, int frames, Step step) {
  std::vector<double> wall, cpu;
  long waits = 0;
  for (int i = 0; i < frames; ++i) {
    step(i);
    const long w0 = thread_waits();
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_ms();
    QPainter p(&image);
    w.renderTo(p, image.size());
    p.end();
    cpu.push_back(thread_cpu_ms() - c0);
    wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    waits += thread_waits() - w0;
  }
  return {median(wall), median(cpu), double(waits) / frames};
}

// The naive painter: one fillRect per span of every row, every frame.
double naive_frame_ms(const TimelineWidget& w, QImage& image, int frames) {
  const TimelineLayout& layout = *w.layout();
  const TimeWindow win = w.viewState()->window();
  const double plot = image.width() - TimelineWidget::kHeaderWidth;
  std::vector<double> times;
  for (int i = 0; i < frames; ++i) {
    const auto t0 = Clock::now();
    QPainter p(&image);
    p.fillRect(image.rect(), Qt::white);
    for (const Row& row : w.rows()) {
      if (row.kind != RowKind::Lane) continue;
      const auto& spans = layout.trace().tracks[row.track].spans;
      const Lane& lane = layout.lanes(row.track)[row.lane];
      for (std::size_t k = 0; k < lane.size(); ++k) {
        const double x0 = TimelineWidget::kHeaderWidth + double(lane.starts[k] - win.start_ns) * plot / double(win.length());
        const double x1 = TimelineWidget::kHeaderWidth + double(lane.ends[k] - win.start_ns) * plot / double(win.length());
        if (x1 < TimelineWidget::kHeaderWidth || x0 > image.width()) continue;
        p.fillRect(QRectF(x0, TimelineWidget::kRulerHeight + row.y + 2, std::max(1.0, x1 - x0), row.height - 4),
                   category_color(spans[lane.ids[k]].category));
      }
    }
    p.end();
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return median(times);
}

std::string load_average() {
  std::string text = "?";
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char buffer[128] = {};
    if (std::fgets(buffer, sizeof buffer, f)) text = buffer;
    std::fclose(f);
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  const std::size_t total = argc > 1 ? std::stoul(argv[1]) : 1'000'000;
  const int frames = argc > 2 ? std::stoi(argv[2]) : 60;
  const auto build0 = Clock::now();
  auto trace = make_trace(total);
  ViewState state;
  TimelineWidget w(&state);
  w.resize(1920, 1080);
  w.setTrace(trace);
  const double layout_ms = std::chrono::duration<double, std::milli>(Clock::now() - build0).count();
  QImage image(1920, 1080, QImage::Format_ARGB32_Premultiplied);
  const TimeWindow full = state.window();
  std::printf("spans %zu, rows %zu, trace+layout build %.0f ms (once per trace); %d frames per pan / zoom median\n",
              trace->span_count(), w.rows().size(), layout_ms, frames);
  std::printf("load average before: %s\n", load_average().c_str());
  std::printf("%-21s %9s %9s %6s | %10s %9s %6s | %10s %9s %6s | %8s %6s\n", "view", "in view", "list ms", "boxes",
              "pan wall", "pan cpu", "waits", "zoom wall", "zoom cpu", "waits", "naive ms", "ratio");
  const double centre = TimelineWidget::kHeaderWidth + (image.width() - TimelineWidget::kHeaderWidth) / 2.0;
  // Every half decade of zoom from the whole trace to 1/100000 of it (about 800 ns on 1750 pixels).
  for (int step = 0; step <= 10; ++step) {
    const double fraction = std::pow(10.0, -0.5 * step);
    char name[32];
    std::snprintf(name, sizeof name, step == 0 ? "all (zoomed out)" : "1/%.0f", 1.0 / fraction);
    const std::int64_t length = std::max<std::int64_t>(1000, std::int64_t(double(full.length()) * fraction));
    const std::int64_t start = full.start_ns + (full.length() - length) / 2;
    const TimeWindow view{start, start + length};
    state.setWindow(view);
    std::size_t in_view = 0;
    for (const auto& track : trace->tracks)
      for (const auto& s : track.spans) in_view += (s.end_ns > start && s.start_ns < start + length);
    // The Qt-free level-of-detail step alone: what it costs and how few boxes it leaves to paint.
    std::vector<double> list_ms;
    std::size_t boxes = 0;
    for (int i = 0; i < frames; ++i) {
      const auto t0 = Clock::now();
      const DrawList list = build_draw_list(*w.layout(), w.rows(), state.window(), image.width() - TimelineWidget::kHeaderWidth,
                                            0, image.height());
      list_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      boxes = list.boxes.size() + list.band.size();
    }
    // Pan: a drag moves the view a few pixels per frame; half the frames one way, half back.
    const FrameStats pan = frames_ms(w, image, frames, [&](int i) { w.panByPixels(i < frames / 2 ? 7 : -7); });
    // Zoom: one wheel notch in, one out, around the centre, so the level stays where it is.
    state.setWindow(view);
    const FrameStats zoom = frames_ms(w, image, frames, [&](int i) { w.zoomAt(centre, i % 2 ? 1.0 / 0.8 : 0.8); });
    state.setWindow(view);
    const double naive = naive_frame_ms(w, image, 3);
    std::printf("%-21s %9zu %9.3f %6zu | %10.2f %9.2f %6.2f | %10.2f %9.2f %6.2f | %8.1f %5.1fx\n", name, in_view,
                median(list_ms), boxes, pan.wall_ms, pan.cpu_ms, pan.waits, zoom.wall_ms, zoom.cpu_ms, zoom.waits, naive,
                naive / std::max(pan.wall_ms, zoom.wall_ms));
  }
  std::printf("load average after: %s\n", load_average().c_str());
  return 0;
}
