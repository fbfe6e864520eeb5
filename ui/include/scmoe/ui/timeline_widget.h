// The Gantt timeline: a custom-painted QWidget. Data preprocessing (rows, sub-lanes, overlap band) lives
// in TimelineLayout, level of detail in build_draw_list(); this class only maps pixels to time, paints
// the draw list and turns mouse/keyboard input into ViewState changes.
//
// Input: wheel or ctrl+wheel zooms around the cursor (ctrl: finer steps), left-drag pans (vertical drag
// scrolls rows), shift+drag measures a range, click selects a span, click on a rank header collapses
// it, right click on a row offers hide/pin, W/S zoom, A/D pan, F fits the selection or everything.
#pragma once

#include <QBrush>
#include <QHash>
#include <QWidget>
#include <memory>
#include <optional>

#include "scmoe/ui/draw_list.h"
#include "scmoe/ui/span_search.h"
#include "scmoe/ui/timeline_layout.h"
#include "scmoe/ui/timeline_rows.h"
#include "scmoe/ui/view_state.h"

namespace scmoe::ui {

class TimelineWidget : public QWidget {
  Q_OBJECT

 public:
  static constexpr int kHeaderWidth = 170;
  static constexpr int kRulerHeight = 24;

  explicit TimelineWidget(ViewState* state, QWidget* parent = nullptr);

  // Shows a new trace. keep_window: keep the current zoom (live runs); otherwise fit everything.
  void setTrace(std::shared_ptr<const prof::Trace> trace, bool keep_window = false);
  const TimelineLayout* layout() const { return layout_.get(); }
  ViewState* viewState() const { return state_; }
  void setTitle(const QString& title);

  // Pixel <-> time mapping, in widget coordinates.
  double xForTime(std::int64_t t) const;
  std::int64_t timeAtX(double x) const;
  void zoomAt(double x, double factor);  // factor < 1 zooms in, keeping the time under x fixed
  void panByPixels(double dx);
  void fit();                             // to the selection if any, else the whole trace

  // Search: regex over names. Returns the match count; sets searchError() when the regex is invalid.
  int setSearch(const QString& pattern);
  const QString& searchError() const { return search_error_; }
  int matchCount() const { return static_cast<int>(matches_.size()); }
  int currentMatch() const { return current_match_; }
  void nextMatch();
  void previousMatch();

  void toggleRankCollapsed(std::int32_t rank);
  void setTrackHidden(std::uint32_t track, bool hidden);
  void setTrackPinned(std::uint32_t track, bool pinned);
  void showAllTracks();
  const std::vector<Row>& rows() const { return rows_; }
  // Row index -> y of its top in widget coordinates.
  int rowTop(const Row& row) const { return kRulerHeight + row.y - scroll_y_; }

  // Paints the whole timeline (ruler, rows, band, legend-free) into any device: widget, QImage, SVG, PDF.
  void renderTo(QPainter& painter, QSize size) const;
  QSize sizeHint() const override { return {900, 400}; }

 signals:
  void traceChanged();
  void searchChanged(int count, int current);
  void hoveredTimeChanged(std::int64_t t);

 protected:
  void paintEvent(QPaintEvent*) override;
  void wheelEvent(QWheelEvent*) override;
  void mousePressEvent(QMouseEvent*) override;
  void mouseMoveEvent(QMouseEvent*) override;
  void mouseReleaseEvent(QMouseEvent*) override;
  void keyPressEvent(QKeyEvent*) override;
  void contextMenuEvent(QContextMenuEvent*) override;
  bool event(QEvent*) override;

 private:
  struct Hit {
    int row = -1;
    std::optional<prof::SpanRef> span;
  };
  Hit hitTest(QPoint pos) const;
  double plotWidth() const { return std::max(1, width() - kHeaderWidth); }
  void rebuildRows();
  void clampScroll();
  void selectMatch(int index);
  void paintRuler(QPainter& p, QSize size) const;
  void paintRows(QPainter& p, QSize size) const;
  void paintOverlays(QPainter& p, QSize size) const;
  QRectF spanRect(prof::SpanRef ref, QSize size) const;
  // Emulated spans: the hatching pre-composited over `fill` in a small tile. An opaque tile makes the
  // raster engine copy tile rows instead of blending a pattern brush over every pixel of the box.
  const QBrush& hatchedBrush(QColor fill) const;
  QString spanTooltip(prof::SpanRef ref) const;

  ViewState* state_;
  std::shared_ptr<TimelineLayout> layout_;
  RowOptions options_;
  std::vector<Row> rows_;
  int scroll_y_ = 0;
  QString title_;
  std::vector<prof::SpanRef> matches_;
  int current_match_ = -1;
  QString search_error_;
  mutable QHash<QRgb, QBrush> hatch_brushes_;  // by fill colour
  // Mouse gesture in progress.
  QPoint press_pos_;
  bool pressed_ = false;
  bool dragged_ = false;
  bool measuring_ = false;
  TimeWindow press_window_;
  int press_scroll_ = 0;
};

}  // namespace scmoe::ui
