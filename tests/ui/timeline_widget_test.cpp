// Timeline widget interactions, offscreen (QT_QPA_PLATFORM=offscreen from the test properties).
#include <QSignalSpy>
#include <QTest>
#include <QWheelEvent>
#include <memory>

#include <QHelpEvent>
#include <QImage>
#include <QPainter>
#include <QTableWidget>
#include <QToolTip>

#include "scmoe/ui/compare_view.h"
#include "scmoe/ui/details_panel.h"
#include "scmoe/ui/timeline_widget.h"
#include "scmoe/ui/view_state.h"

using namespace scmoe;
using namespace scmoe::ui;

namespace {

// Two ranks, each with a compute lane of 20 spans of 1 us every 2 us and a comm lane with 5 dispatch spans.
std::shared_ptr<prof::Trace> sample_trace() {
  auto t = std::make_shared<prof::Trace>();
  for (int r = 0; r < 2; ++r) {
    const auto ct = t->track_for({r, 0, prof::DeviceKind::Cpu, prof::TrackKind::ComputeLane, 0, "compute"});
    const auto mt = t->track_for({r, 0, prof::DeviceKind::Cpu, prof::TrackKind::CommLane, 1, "comm"});
    for (int i = 0; i < 20; ++i) {
      prof::Span s;
      s.start_ns = 2000 * i;
      s.end_ns = s.start_ns + 1000;
      s.category = i % 2 ? prof::Category::Mlp : prof::Category::Attention;
      s.name = t->strings.intern(i % 2 ? "mlp_gemm" : "attention_fwd");
      s.layer = i / 4;
      t->tracks[ct].spans.push_back(s);
    }
    for (int i = 0; i < 5; ++i) {
      prof::Span s;
      s.start_ns = 8000 * i + 500;
      s.end_ns = s.start_ns + 3000;
      s.category = prof::Category::Dispatch;
      s.flags = prof::kSpanEmulated;
      s.name = t->strings.intern("dispatch_all_to_all");
      t->tracks[mt].spans.push_back(s);
    }
  }
  // A pipeline flow: rank 0's first attention span -> its first dispatch.
  t->flows.push_back({{0, 0}, {1, 0}, prof::FlowKind::MoePipeline});
  t->finalize();
  return t;
}

}  // namespace

class TimelineWidgetTest : public QObject {
  Q_OBJECT

 private slots:
  void wheelZoomKeepsTheTimeUnderTheCursor() {
    ViewState state;
    TimelineWidget w(&state);
    w.resize(1000, 400);
    w.setTrace(sample_trace());
    const QPointF cursor(TimelineWidget::kHeaderWidth + 300.5, 100);
    const std::int64_t before = w.timeAtX(cursor.x());
    const std::int64_t length_before = state.window().length();
    QWheelEvent wheel(cursor, w.mapToGlobal(cursor), QPoint(), QPoint(0, 240), Qt::NoButton, Qt::NoModifier,
                      Qt::NoScrollPhase, false);
    QApplication::sendEvent(&w, &wheel);
    const std::int64_t length_after = state.window().length();
    QVERIFY(length_after < length_before);  // two notches zoom in to 0.64 of the window
    QCOMPARE(double(length_after) / double(length_before), 0.64);
    const double ns_per_px = double(length_after) / (w.width() - TimelineWidget::kHeaderWidth);
    QVERIFY(std::abs(double(w.timeAtX(cursor.x()) - before)) <= ns_per_px);
    // ctrl+wheel zooms out with the fine step, around the same point.
    QWheelEvent fine(cursor, w.mapToGlobal(cursor), QPoint(), QPoint(0, -120), Qt::NoButton, Qt::ControlModifier,
                     Qt::NoScrollPhase, false);
    QApplication::sendEvent(&w, &fine);
    QVERIFY(std::abs(double(state.window().length()) - double(length_after) / 0.95) <= 1.0);
    QVERIFY(std::abs(double(w.timeAtX(cursor.x()) - before)) <= 2 * ns_per_px);
  }

  void keysPanAndFit() {
    ViewState state;
    TimelineWidget w(&state);
    w.resize(1000, 400);
    w.setTrace(sample_trace());
    const TimeWindow full = state.window();
    QTest::keyClick(&w, Qt::Key_W);
    QVERIFY(state.window().length() < full.length());
    const TimeWindow zoomed = state.window();
    QTest::keyClick(&w, Qt::Key_D);
    QVERIFY(state.window().start_ns > zoomed.start_ns);
    QCOMPARE(state.window().length(), zoomed.length());
    QTest::keyClick(&w, Qt::Key_F);
    QCOMPARE(state.window().start_ns, full.start_ns);
    QCOMPARE(state.window().end_ns, full.end_ns);
  }

  void clickSelectsASpanAndFillsTheDetailsPanel() {
    ViewState state;
    TimelineWidget w(&state);
    w.resize(1000, 400);
    auto trace = sample_trace();
    w.setTrace(trace);
    DetailsPanel details(&w);
    // Rank 0's compute lane is the row after the rank header. Span 3 (mlp, 6..7 us) of track 0.
    const Row* compute_row = nullptr;
    for (const Row& r : w.rows()) {
      if (r.kind == RowKind::Lane && r.track == 0) { compute_row = &r; break; }
    }
    QVERIFY(compute_row);
    const prof::Span& target = trace->tracks[0].spans[3];
    const int x = int(w.xForTime((target.start_ns + target.end_ns) / 2));
    const int y = w.rowTop(*compute_row) + compute_row->height / 2;
    QTest::mouseClick(&w, Qt::LeftButton, Qt::NoModifier, QPoint(x, y));
    QVERIFY(state.selection().has_value());
    QCOMPARE(state.selection()->track, 0u);
    QCOMPARE(state.selection()->span, 3u);
    const QString text = details.toPlainText();
    QVERIFY2(text.contains("mlp_gemm"), qPrintable(text));
    QVERIFY(text.contains("1.00 us"));   // duration
    QVERIFY(text.contains("6.00 us"));   // start after trace begin
    QVERIFY(text.contains("layer"));
    QVERIFY(!text.contains(QStringLiteral("\u2192")));  // span 3 has no flow
    // The flow's source lists its target.
    state.setSelection(prof::SpanRef{0, 0});
    QVERIFY2(details.toPlainText().contains(QStringLiteral("\u2192 dispatch_all_to_all (rank 0, comm)")),
             qPrintable(details.toPlainText()));
  }

  void shiftDragMeasuresARange() {
    ViewState state;
    TimelineWidget w(&state);
    w.resize(1000, 400);
    w.setTrace(sample_trace());
    DetailsPanel details(&w);
    const int x0 = int(w.xForTime(0)) + 1, x1 = int(w.xForTime(10000));
    QTest::mousePress(&w, Qt::LeftButton, Qt::ShiftModifier, QPoint(x0, 60));
    QMouseEvent move(QEvent::MouseMove, QPointF(x1, 60), w.mapToGlobal(QPointF(x1, 60)), Qt::NoButton,
                     Qt::LeftButton, Qt::ShiftModifier);
    QApplication::sendEvent(&w, &move);
    QTest::mouseRelease(&w, Qt::LeftButton, Qt::ShiftModifier, QPoint(x1, 60));
    QVERIFY(state.measuredRange().has_value());
    QVERIFY(std::abs(double(state.measuredRange()->length()) - 10000.0) < 200.0);
    QVERIFY(details.toPlainText().contains("overlapped"));
  }

  void searchFindsTheExpectedCountAndSteps() {
    ViewState state;
    TimelineWidget w(&state);
    w.resize(1000, 400);
    auto trace = sample_trace();
    w.setTrace(trace);
    // Independent count: spans whose name contains "gemm" or "dispatch".
    int expected = 0;
    for (const auto& track : trace->tracks)
      for (const auto& s : track.spans) {
        const std::string name(trace->name_of(s));
        expected += name.find("gemm") != std::string::npos || name.find("dispatch") != std::string::npos;
      }
    QCOMPARE(expected, 2 * (10 + 5));
    QSignalSpy spy(&w, &TimelineWidget::searchChanged);
    QCOMPARE(w.setSearch("GEMM|dispatch"), expected);
    w.nextMatch();
    QCOMPARE(w.currentMatch(), 0);
    QVERIFY(state.selection().has_value());
    w.previousMatch();
    QCOMPARE(w.currentMatch(), expected - 1);
    QVERIFY(spy.count() >= 3);
    QCOMPARE(w.setSearch("([bad"), 0);
    QVERIFY(!w.searchError().isEmpty());
  }

  void compareViewZoomsBothTimelinesAndListsTheSlowerOp() {
    auto a = sample_trace();
    // B: every span 5 us later and the mlp spans twice as long.
    auto b = std::make_shared<prof::Trace>(*a);
    for (auto& track : b->tracks)
      for (auto& s : track.spans) {
        s.start_ns += 5000;
        s.end_ns += 5000 + (s.category == prof::Category::Mlp ? 1000 : 0);
      }
    CompareView view(a, "a", b, "b");
    view.resize(1000, 700);
    TimelineWidget* ta = view.timelineA();
    TimelineWidget* tb = view.timelineB();
    ta->zoomAt(TimelineWidget::kHeaderWidth + 100, 0.5);
    const TimeWindow wa = ta->viewState()->window();
    const TimeWindow wb = tb->viewState()->window();
    QCOMPARE(wb.length(), wa.length());
    QCOMPARE(wb.start_ns - wa.start_ns, std::int64_t(5000));  // aligned at each trace's start
    bool found = false;
    for (int r = 0; r < view.diffTable()->rowCount(); ++r) {
      if (view.diffTable()->item(r, 0)->text() == "mlp_gemm") {
        found = true;
        QCOMPARE(view.diffTable()->item(r, 1)->text(), QString("slower"));
      }
    }
    QVERIFY(found);
  }

  void hoverShowsATooltipAndRowsHideAndPin() {
    ViewState state;
    TimelineWidget w(&state);
    w.resize(1000, 400);
    w.show();
    auto trace = sample_trace();
    w.setTrace(trace);
    // Tooltip over rank 0's dispatch span (track 1, span 0: 0.5..3.5 us, emulated).
    const Row* comm_row = nullptr;
    for (const Row& r : w.rows()) {
      if (r.kind == RowKind::Lane && r.track == 1) { comm_row = &r; break; }
    }
    QVERIFY(comm_row);
    const QPoint pos(int(w.xForTime(2000)), w.rowTop(*comm_row) + comm_row->height / 2);
    QHelpEvent help(QEvent::ToolTip, pos, w.mapToGlobal(pos));
    QApplication::sendEvent(&w, &help);
    QVERIFY2(QToolTip::text().contains("dispatch_all_to_all"), qPrintable(QToolTip::text()));
    QVERIFY(QToolTip::text().contains("emulated"));
    QVERIFY(QToolTip::text().contains("3.00 us"));
    // Pin rank 1's comm track (3) to the top, hide rank 0's compute track (0).
    w.setTrackPinned(3, true);
    QCOMPARE(w.rows().front().track, 3u);
    QVERIFY(w.rows().front().pinned);
    w.setTrackHidden(0, true);
    for (const Row& r : w.rows()) QVERIFY(!(r.kind == RowKind::Lane && r.track == 0));
    w.showAllTracks();
    bool shown = false;
    for (const Row& r : w.rows()) shown = shown || (r.kind == RowKind::Lane && r.track == 0);
    QVERIFY(shown);
  }

  void measuredRangeEdgesAreDrawnOnlyWhenInView() {
    ViewState state;
    TimelineWidget w(&state);
    w.resize(1000, 400);
    w.setTrace(sample_trace());
    const QColor edge(160, 110, 0);
    auto edge_pixels = [&] {
      QImage image(w.size(), QImage::Format_ARGB32_Premultiplied);
      QPainter p(&image);
      w.renderTo(p, image.size());
      p.end();
      int n = 0;
      for (int y = TimelineWidget::kRulerHeight; y < image.height(); ++y)
        for (int x = TimelineWidget::kHeaderWidth; x < image.width(); ++x) n += image.pixelColor(x, y) == edge;
      return n;
    };
    // In view: two full-height edge lines.
    state.setMeasuredRange(TimeWindow{5000, 15000});
    QVERIFY(edge_pixels() >= 2 * (w.height() - TimelineWidget::kRulerHeight));
    // Zoomed to 1 us (830 px) with the range 5.17 s away: its start lies 2^32 + 200 pixels to the right,
    // which wrapped to x = 200 in a 32-bit pixel coordinate. Nothing of it is in view.
    state.setWindow({0, 1000});
    state.setMeasuredRange(TimeWindow{5'174'659'429, 5'174'669'429});
    QCOMPARE(edge_pixels(), 0);
  }

  void rankHeaderClickCollapses() {
    ViewState state;
    TimelineWidget w(&state);
    w.resize(1000, 400);
    w.setTrace(sample_trace());
    const auto before = w.rows().size();
    QTest::mouseClick(&w, Qt::LeftButton, Qt::NoModifier, QPoint(20, w.rowTop(w.rows()[0]) + 5));
    QCOMPARE(w.rows().size(), before - 2);  // rank 0's compute and comm lanes fold away
  }
};

QTEST_MAIN(TimelineWidgetTest)
#include "timeline_widget_test.moc"
