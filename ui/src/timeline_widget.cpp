#include "scmoe/ui/timeline_widget.h"

#include <QContextMenuEvent>
#include <QHelpEvent>
#include <QKeyEvent>
#include <QMenu>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "scmoe/ui/category_style.h"
#include "scmoe/ui/time_format.h"

namespace scmoe::ui {

namespace {

constexpr double kZoomStep = 0.8;       // one wheel notch
constexpr double kFineZoomStep = 0.95;  // ctrl + wheel
constexpr double kPanFraction = 0.2;    // A/D

QString qstr(std::string_view s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }

QString track_label(const prof::TrackInfo& info) {
  QString device = info.device_kind == prof::DeviceKind::Gpu ? QStringLiteral("gpu%1 ").arg(info.device) : QString();
  return device + qstr(info.name);
}

double x_for(TimeWindow w, double plot_width, std::int64_t t) {
  return TimelineWidget::kHeaderWidth + double(t - w.start_ns) * plot_width / double(w.length());
}

// `top` (translucent) over the opaque `base`, as one opaque colour.
QColor over(QColor top, QColor base) {
  const double a = top.alphaF();
  return QColor::fromRgbF(float(top.redF() * a + base.redF() * (1 - a)), float(top.greenF() * a + base.greenF() * (1 - a)),
                          float(top.blueF() * a + base.blueF() * (1 - a)));
}

// Lines as one-pixel rectangles. Qt 6's raster engine hands a QPainter::drawLine longer than about a
// hundred pixels to its thread pool in pieces of a few pixels each (QT_THREAD_PARALLEL_FILLS): dozens of
// tasks and waits per frame, which on a busy machine cost more wall time than all the rest of the frame.
// An opaque fillRect is a plain memory fill on the calling thread.
void hline(QPainter& p, int x0, int x1, int y, QColor c) { p.fillRect(QRect(x0, y, x1 - x0, 1), c); }
void vline(QPainter& p, int x, int y0, int y1, QColor c) { p.fillRect(QRect(x, y0, 1, y1 - y0), c); }

// A translucent fill in bands of at most 64 pixel rows: the raster engine blends up to 512 rows per call
// and splits calls of more than about 96 rows across its thread pool (see hline).
void fill_translucent(QPainter& p, QRectF r, QColor c) {
  constexpr double kBand = 64;
  for (double y = r.top(); y < r.bottom(); y += kBand) p.fillRect(QRectF(r.left(), y, r.width(), std::min(kBand, r.bottom() - y)), c);
}

}  // namespace

TimelineWidget::TimelineWidget(ViewState* state, QWidget* parent) : QWidget(parent), state_(state) {
  setMouseTracking(true);
  setFocusPolicy(Qt::StrongFocus);
  setAttribute(Qt::WA_OpaquePaintEvent);
  setMinimumHeight(120);
  connect(state_, &ViewState::windowChanged, this, qOverload<>(&QWidget::update));
  connect(state_, &ViewState::selectionChanged, this, qOverload<>(&QWidget::update));
  connect(state_, &ViewState::measuredRangeChanged, this, qOverload<>(&QWidget::update));
}

void TimelineWidget::setTrace(std::shared_ptr<const prof::Trace> trace, bool keep_window) {
  if (!trace) {
    layout_.reset();
    rows_.clear();
    update();
    emit traceChanged();
    return;
  }
  layout_ = std::make_shared<TimelineLayout>(std::move(trace));
  rebuildRows();
  matches_.clear();
  current_match_ = -1;
  const TimeWindow full{layout_->begin_ns(), std::max(layout_->end_ns(), layout_->begin_ns() + 1000)};
  if (keep_window) {
    state_->setSelection(std::nullopt);
  } else {
    state_->resetForNewTrace(full);
  }
  update();
  emit traceChanged();
}

void TimelineWidget::setTitle(const QString& title) {
  title_ = title;
  update();
}

void TimelineWidget::rebuildRows() {
  rows_ = layout_ ? arrange_rows(*layout_, options_) : std::vector<Row>{};
  clampScroll();
  update();
}

void TimelineWidget::clampScroll() {
  const int content = rows_.empty() ? 0 : rows_.back().y + rows_.back().height;
  scroll_y_ = std::clamp(scroll_y_, 0, std::max(0, content - (height() - kRulerHeight)));
}

double TimelineWidget::xForTime(std::int64_t t) const { return x_for(state_->window(), plotWidth(), t); }

std::int64_t TimelineWidget::timeAtX(double x) const {
  const TimeWindow w = state_->window();
  return w.start_ns + static_cast<std::int64_t>(std::llround((x - kHeaderWidth) * double(w.length()) / plotWidth()));
}

void TimelineWidget::zoomAt(double x, double factor) {
  const TimeWindow w = state_->window();
  const double fraction = std::clamp((x - kHeaderWidth) / plotWidth(), 0.0, 1.0);
  const double anchor = double(w.start_ns) + fraction * double(w.length());
  const double length = std::max(10.0, double(w.length()) * factor);
  const auto start = static_cast<std::int64_t>(std::llround(anchor - fraction * length));
  state_->setWindow({start, start + static_cast<std::int64_t>(std::llround(length))});
}

void TimelineWidget::panByPixels(double dx) {
  const TimeWindow w = state_->window();
  const auto shift = static_cast<std::int64_t>(std::llround(dx * double(w.length()) / plotWidth()));
  state_->setWindow({w.start_ns - shift, w.end_ns - shift});
}

void TimelineWidget::fit() {
  if (!layout_) return;
  if (const auto& sel = state_->selection()) {
    const prof::Span& s = layout_->trace().tracks[sel->track].spans[sel->span];
    const std::int64_t margin = std::max<std::int64_t>(s.duration_ns() / 10, 50);
    state_->setWindow({s.start_ns - margin, s.end_ns + margin});
    return;
  }
  state_->setWindow({layout_->begin_ns(), std::max(layout_->end_ns(), layout_->begin_ns() + 1000)});
}

int TimelineWidget::setSearch(const QString& pattern) {
  matches_.clear();
  current_match_ = -1;
  search_error_.clear();
  if (layout_) {
    SearchResult result = search_spans(layout_->trace(), pattern.toStdString());
    matches_ = std::move(result.matches);
    search_error_ = QString::fromStdString(result.error);
  }
  emit searchChanged(matchCount(), current_match_);
  update();
  return matchCount();
}

void TimelineWidget::selectMatch(int index) {
  if (matches_.empty()) return;
  current_match_ = (index % matchCount() + matchCount()) % matchCount();
  const prof::SpanRef ref = matches_[static_cast<std::size_t>(current_match_)];
  state_->setSelection(ref);
  // Centre the match, keeping the zoom unless the span is wider than the window.
  const prof::Span& s = layout_->trace().tracks[ref.track].spans[ref.span];
  const TimeWindow w = state_->window();
  const std::int64_t length = std::max(w.length(), s.duration_ns() * 3 / 2);
  const std::int64_t centre = s.start_ns + s.duration_ns() / 2;
  state_->setWindow({centre - length / 2, centre - length / 2 + length});
  // Scroll the match's row into view.
  const std::uint32_t lane = layout_->lane_of(ref);
  for (const Row& row : rows_) {
    if (row.kind == RowKind::Lane && row.track == ref.track && row.lane == lane && !row.pinned) {
      const int top = row.y;
      const int visible = height() - kRulerHeight;
      if (top < scroll_y_ || top + row.height > scroll_y_ + visible) scroll_y_ = top - visible / 2;
      clampScroll();
      break;
    }
  }
  emit searchChanged(matchCount(), current_match_);
  update();
}

void TimelineWidget::nextMatch() { selectMatch(current_match_ + 1); }
void TimelineWidget::previousMatch() { selectMatch(current_match_ < 0 ? -1 : current_match_ - 1); }

void TimelineWidget::toggleRankCollapsed(std::int32_t rank) {
  if (!options_.collapsed_ranks.erase(rank)) options_.collapsed_ranks.insert(rank);
  rebuildRows();
}

void TimelineWidget::setTrackHidden(std::uint32_t track, bool hidden) {
  if (hidden) options_.hidden_tracks.insert(track); else options_.hidden_tracks.erase(track);
  rebuildRows();
}

void TimelineWidget::setTrackPinned(std::uint32_t track, bool pinned) {
  if (pinned) options_.pinned_tracks.insert(track); else options_.pinned_tracks.erase(track);
  rebuildRows();
}

void TimelineWidget::showAllTracks() {
  options_.hidden_tracks.clear();
  options_.collapsed_ranks.clear();
  rebuildRows();
}

// ---- painting ---------------------------------------------------------------------------------------

void TimelineWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  renderTo(p, size());
}

void TimelineWidget::renderTo(QPainter& p, QSize size) const {
  p.fillRect(QRect(QPoint(0, 0), size), palette().color(QPalette::Base));
  if (!layout_) {
    p.setPen(palette().color(QPalette::Text));
    p.drawText(QRect(QPoint(0, 0), size), Qt::AlignCenter,
               tr("No trace yet: run a workload (Run menu) or open a trace (File > Open, or drop files here)."));
    return;
  }
  paintRows(p, size);
  paintOverlays(p, size);
  paintRuler(p, size);
}

void TimelineWidget::paintRuler(QPainter& p, QSize size) const {
  const TimeWindow w = state_->window();
  const double plot_width = std::max(1, size.width() - kHeaderWidth);
  const QColor text = palette().color(QPalette::Text);
  p.fillRect(QRect(0, 0, size.width(), kRulerHeight), palette().color(QPalette::Window));
  p.setPen(text);
  p.drawText(QRect(4, 0, kHeaderWidth - 8, kRulerHeight), Qt::AlignVCenter | Qt::AlignLeft,
             title_.isEmpty() ? QString::fromStdString(format_duration(double(w.length()))) : title_);
  const double ns_per_px = double(w.length()) / plot_width;
  const std::int64_t step = ruler_step_ns(ns_per_px, 90);
  // Labels are relative to the trace start so they stay short.
  const std::int64_t origin = layout_->begin_ns();
  std::int64_t tick = origin + ((w.start_ns - origin) / step) * step;
  if (tick < w.start_ns) tick += step;
  p.setClipRect(QRect(kHeaderWidth, 0, size.width() - kHeaderWidth, kRulerHeight));
  for (; tick <= w.end_ns; tick += step) {
    const double x = x_for(w, plot_width, tick);
    vline(p, int(std::lround(x)), kRulerHeight - 6, kRulerHeight, text);
    p.drawText(QPointF(x + 3, kRulerHeight - 8), QString::fromStdString(format_duration(double(tick - origin))));
  }
  p.setClipping(false);
  hline(p, 0, size.width(), kRulerHeight - 1, text);
}

void TimelineWidget::paintRows(QPainter& p, QSize size) const {
  const TimeWindow w = state_->window();
  const double plot_width = std::max(1, size.width() - kHeaderWidth);
  const int view_height = size.height() - kRulerHeight;
  const DrawList list = build_draw_list(*layout_, rows_, w, plot_width, scroll_y_, scroll_y_ + view_height);
  const prof::Trace& trace = layout_->trace();
  const QColor text = palette().color(QPalette::Text);
  const QColor header_bg = palette().color(QPalette::AlternateBase);
  const QColor base = palette().color(QPalette::Base);
  const QColor separator = over(QColor(0, 0, 0, 40), base);
  const QFontMetrics metrics = p.fontMetrics();

  // Row backgrounds and headers.
  for (const Row& row : rows_) {
    const int y = kRulerHeight + row.y - scroll_y_;
    if (y + row.height < kRulerHeight || y > size.height()) continue;
    const RankGroup& group = layout_->ranks()[row.rank_group];
    QRect header(0, y, kHeaderWidth, row.height);
    if (row.kind == RowKind::RankHeader) {
      p.fillRect(QRect(0, y, size.width(), row.height), header_bg);
      const bool collapsed = options_.collapsed_ranks.count(group.rank) > 0;
      p.setPen(text);
      QFont bold = p.font();
      bold.setBold(true);
      p.setFont(bold);
      p.drawText(header.adjusted(4, 0, 0, 0), Qt::AlignVCenter,
                 QStringLiteral("%1 rank %2").arg(collapsed ? QStringLiteral("\u25b8") : QStringLiteral("\u25be"))
                     .arg(group.rank));
      p.setFont(font());
      const RankOverlap& o = group.overlap;
      if (o.comm_ns > 0) {
        p.drawText(QRect(kHeaderWidth + 4, y, size.width() - kHeaderWidth - 8, row.height), Qt::AlignVCenter,
                   tr("overlap %1%  exposed comm %2").arg(100.0 * o.overlap_fraction(), 0, 'f', 1)
                       .arg(QString::fromStdString(format_duration(double(o.exposed_comm_ns())))));
      }
    } else if (row.kind == RowKind::Lane) {
      if (row.lane == 0) {
        hline(p, 0, size.width(), y, separator);
        p.setPen(text);
        const QString label = (row.pinned ? QStringLiteral("\U0001F4CC ") : QString()) +
                              track_label(trace.tracks[row.track].info);
        p.drawText(header.adjusted(14, 0, -2, 0), Qt::AlignVCenter, metrics.elidedText(label, Qt::ElideRight, kHeaderWidth - 16));
      }
    } else {
      p.setPen(text);
      p.drawText(header.adjusted(14, 0, 0, 0), Qt::AlignVCenter, tr("overlap"));
    }
  }

  p.setClipRect(QRect(kHeaderWidth, kRulerHeight, size.width() - kHeaderWidth, view_height));
  // Overlap band.
  for (const BandBox& b : list.band) {
    const Row& row = rows_[b.row];
    const int y = kRulerHeight + row.y - scroll_y_;
    p.fillRect(QRectF(kHeaderWidth + b.x0, y + 1, std::max(1.0f, b.x1 - b.x0), row.height - 2), band_color(b.state));
  }
  // Spans.
  for (const DrawBox& b : list.boxes) {
    const Row& row = rows_[b.row];
    const int y = kRulerHeight + row.y - scroll_y_;
    const QRectF r(kHeaderWidth + b.x0, y + 2, std::max(1.0f, b.x1 - b.x0), row.height - 4);
    QColor fill = category_color(b.category);
    const bool predicted = (b.flags & prof::kSpanPredicted) != 0;
    if (b.count > 1) fill = fill.darker(125);
    if (predicted) fill.setAlpha(150);
    if (b.flags & prof::kSpanEmulated) {
      p.fillRect(r, hatchedBrush(fill));
    } else {
      p.fillRect(r, fill);
    }
    if (predicted && r.width() > 4) {
      p.setPen(QPen(fill.darker(160), 1, Qt::DashLine));
      p.drawRect(r.adjusted(0.5, 0.5, -0.5, -0.5));
    }
    if (r.width() > 30) {
      p.setPen(Qt::black);
      const QString label = b.count > 1 ? QString::number(b.count)
                                        : qstr(trace.name_of(trace.tracks[row.track].spans[b.span]));
      // Clipped to the box rather than elided: eliding measures the text again on every frame.
      p.drawText(r.adjusted(3, 0, -2, 0), Qt::AlignVCenter | Qt::AlignLeft | Qt::TextSingleLine, label);
    }
  }
  p.setClipping(false);
  vline(p, kHeaderWidth - 1, kRulerHeight, size.height(), over(QColor(0, 0, 0, 60), base));
}

const QBrush& TimelineWidget::hatchedBrush(QColor fill) const {
  auto it = hatch_brushes_.find(fill.rgba());
  if (it == hatch_brushes_.end()) {
    // 64 x 8: the 8-pixel hatch period, wide enough that a box is filled in few copies per row.
    QImage tile(64, 8, fill.alpha() == 255 ? QImage::Format_RGB32 : QImage::Format_ARGB32_Premultiplied);
    tile.fill(Qt::transparent);
    QPainter tp(&tile);
    tp.fillRect(tile.rect(), fill);
    tp.fillRect(tile.rect(), QBrush(QColor(0, 0, 0, 110), Qt::BDiagPattern));
    tp.end();
    it = hatch_brushes_.insert(fill.rgba(), QBrush(tile));
  }
  return *it;
}

QRectF TimelineWidget::spanRect(prof::SpanRef ref, QSize size) const {
  const std::uint32_t lane = layout_->lane_of(ref);
  const TimeWindow w = state_->window();
  const double plot_width = std::max(1, size.width() - kHeaderWidth);
  const prof::Span& s = layout_->trace().tracks[ref.track].spans[ref.span];
  for (const Row& row : rows_) {
    if (row.kind == RowKind::Lane && row.track == ref.track && row.lane == lane && !row.pinned) {
      const double x0 = x_for(w, plot_width, s.start_ns);
      const double x1 = std::max(x0 + 2, x_for(w, plot_width, s.end_ns));
      return QRectF(x0, kRulerHeight + row.y - scroll_y_ + 1, x1 - x0, row.height - 2);
    }
  }
  return {};
}

void TimelineWidget::paintOverlays(QPainter& p, QSize size) const {
  const TimeWindow w = state_->window();
  const double plot_width = std::max(1, size.width() - kHeaderWidth);
  p.setClipRect(QRect(kHeaderWidth, kRulerHeight, size.width() - kHeaderWidth, size.height() - kRulerHeight));
  if (const auto& sel = state_->selection(); sel && sel->track < layout_->trace().tracks.size() &&
                                             sel->span < layout_->trace().tracks[sel->track].spans.size()) {
    const QRectF r = spanRect(*sel, size);
    if (!r.isNull()) {
      p.setPen(QPen(palette().color(QPalette::Highlight), 2));
      p.setBrush(Qt::NoBrush);
      p.drawRect(r);
    }
    // Flows from and to the selected span, drawn as arrows.
    p.setPen(QPen(QColor(40, 40, 40), 1.5));
    for (const prof::Flow& f : layout_->trace().flows) {
      if (!(f.from == *sel) && !(f.to == *sel)) continue;
      const QRectF a = spanRect(f.from, size);
      const QRectF b = spanRect(f.to, size);
      if (a.isNull() || b.isNull()) continue;
      const QPointF from(a.right(), a.center().y());
      const QPointF to(b.left(), b.center().y());
      QPainterPath path(from);
      path.cubicTo(from + QPointF(30, 0), to - QPointF(30, 0), to);
      p.setBrush(Qt::NoBrush);
      p.drawPath(path);
      const QPointF tip = to;
      p.setBrush(QColor(40, 40, 40));
      p.drawPolygon(QPolygonF({tip, tip + QPointF(-7, -4), tip + QPointF(-7, 4)}));
    }
  }
  if (const auto& m = state_->measuredRange()) {
    // Clamped near the plot: far outside it the pixel positions would not fit the int of a QRect.
    const auto clamp_x = [&](double x) { return std::clamp(x, kHeaderWidth - 2.0, size.width() + 2.0); };
    const double x0 = clamp_x(x_for(w, plot_width, m->start_ns));
    const double x1 = clamp_x(x_for(w, plot_width, m->end_ns));
    fill_translucent(p, QRectF(x0, kRulerHeight, x1 - x0, size.height() - kRulerHeight), QColor(255, 200, 0, 50));
    const QColor edge(160, 110, 0);
    vline(p, int(std::lround(x0)), kRulerHeight, size.height(), edge);
    vline(p, int(std::lround(x1)), kRulerHeight, size.height(), edge);
    p.setPen(edge);
    p.drawText(QPointF(x0 + 4, kRulerHeight + 14), QString::fromStdString(format_duration(double(m->length()))));
  }
  p.setClipping(false);
}

// ---- input ------------------------------------------------------------------------------------------

TimelineWidget::Hit TimelineWidget::hitTest(QPoint pos) const {
  Hit hit;
  if (!layout_ || pos.y() < kRulerHeight) return hit;
  hit.row = row_at(rows_, pos.y() - kRulerHeight + scroll_y_);
  if (hit.row < 0 || pos.x() < kHeaderWidth) return hit;
  const Row& row = rows_[static_cast<std::size_t>(hit.row)];
  if (row.kind != RowKind::Lane) return hit;
  const auto& lanes = layout_->lanes(row.track);
  if (row.lane >= lanes.size()) return hit;
  const double ns_per_px = double(state_->window().length()) / plotWidth();
  const auto tolerance = static_cast<std::int64_t>(2 * ns_per_px);
  if (auto idx = find_in_lane(lanes[row.lane], timeAtX(pos.x()), tolerance)) {
    hit.span = prof::SpanRef{row.track, lanes[row.lane].ids[*idx]};
  }
  return hit;
}

void TimelineWidget::wheelEvent(QWheelEvent* e) {
  const double notches = e->angleDelta().y() / 120.0;
  if (notches == 0) return;
  const double step = (e->modifiers() & Qt::ControlModifier) ? kFineZoomStep : kZoomStep;
  zoomAt(e->position().x(), std::pow(step, notches));
  e->accept();
}

void TimelineWidget::mousePressEvent(QMouseEvent* e) {
  if (e->button() != Qt::LeftButton) return;
  pressed_ = true;
  dragged_ = false;
  press_pos_ = e->pos();
  press_window_ = state_->window();
  press_scroll_ = scroll_y_;
  measuring_ = (e->modifiers() & Qt::ShiftModifier) && e->pos().x() >= kHeaderWidth;
  setFocus();
}

void TimelineWidget::mouseMoveEvent(QMouseEvent* e) {
  if (!pressed_) {
    if (layout_) emit hoveredTimeChanged(timeAtX(e->position().x()));
    return;
  }
  if ((e->pos() - press_pos_).manhattanLength() > 3) dragged_ = true;
  if (!dragged_) return;
  if (measuring_) {
    const std::int64_t a = timeAtX(press_pos_.x());
    const std::int64_t b = timeAtX(e->position().x());
    state_->setMeasuredRange(TimeWindow{std::min(a, b), std::max(a, b)});
    return;
  }
  const double dx = e->position().x() - press_pos_.x();
  const auto shift = static_cast<std::int64_t>(std::llround(dx * double(press_window_.length()) / plotWidth()));
  state_->setWindow({press_window_.start_ns - shift, press_window_.end_ns - shift});
  scroll_y_ = press_scroll_ - (e->pos().y() - press_pos_.y());
  clampScroll();
  update();
}

void TimelineWidget::mouseReleaseEvent(QMouseEvent* e) {
  if (e->button() != Qt::LeftButton || !pressed_) return;
  pressed_ = false;
  if (dragged_) return;
  const Hit hit = hitTest(e->pos());
  if (hit.row >= 0 && rows_[static_cast<std::size_t>(hit.row)].kind == RowKind::RankHeader && e->pos().x() < kHeaderWidth) {
    toggleRankCollapsed(layout_->ranks()[rows_[static_cast<std::size_t>(hit.row)].rank_group].rank);
    return;
  }
  if (state_->measuredRange() && !hit.span) state_->setMeasuredRange(std::nullopt);
  state_->setSelection(hit.span);
}

void TimelineWidget::keyPressEvent(QKeyEvent* e) {
  const double centre = kHeaderWidth + plotWidth() / 2;
  switch (e->key()) {
    case Qt::Key_W: zoomAt(centre, kZoomStep); break;
    case Qt::Key_S: zoomAt(centre, 1.0 / kZoomStep); break;
    case Qt::Key_A: panByPixels(plotWidth() * kPanFraction); break;
    case Qt::Key_D: panByPixels(-plotWidth() * kPanFraction); break;
    case Qt::Key_F: fit(); break;
    case Qt::Key_Escape:
      state_->setSelection(std::nullopt);
      state_->setMeasuredRange(std::nullopt);
      break;
    default: QWidget::keyPressEvent(e); return;
  }
  e->accept();
}

void TimelineWidget::contextMenuEvent(QContextMenuEvent* e) {
  const Hit hit = hitTest(e->pos());
  QMenu menu(this);
  if (hit.row >= 0 && rows_[static_cast<std::size_t>(hit.row)].kind == RowKind::Lane) {
    const Row row = rows_[static_cast<std::size_t>(hit.row)];
    const QString name = track_label(layout_->trace().tracks[row.track].info);
    menu.addAction(tr("Hide %1").arg(name), this, [this, row] { setTrackHidden(row.track, true); });
    const bool pinned = options_.pinned_tracks.count(row.track) > 0;
    menu.addAction(pinned ? tr("Unpin %1").arg(name) : tr("Pin %1 to the top").arg(name), this,
                   [this, row, pinned] { setTrackPinned(row.track, !pinned); });
  }
  menu.addAction(tr("Show all rows"), this, &TimelineWidget::showAllTracks);
  menu.exec(e->globalPos());
}

QString TimelineWidget::spanTooltip(prof::SpanRef ref) const {
  const prof::Trace& trace = layout_->trace();
  const prof::Span& s = trace.tracks[ref.track].spans[ref.span];
  QString tip = QStringLiteral("<b>%1</b><br>%2, %3").arg(qstr(trace.name_of(s)).toHtmlEscaped(),
      category_label(s.category), QString::fromStdString(format_duration(double(s.duration_ns()))));
  if (s.has_flag(prof::kSpanEmulated)) tip += tr("<br><i>emulated link time</i>");
  if (s.has_flag(prof::kSpanPredicted)) tip += tr("<br><i>predicted by the cost model</i>");
  return tip;
}

bool TimelineWidget::event(QEvent* e) {
  if (e->type() == QEvent::ToolTip && layout_) {
    auto* help = static_cast<QHelpEvent*>(e);
    const Hit hit = hitTest(help->pos());
    if (hit.span) {
      QToolTip::showText(help->globalPos(), spanTooltip(*hit.span), this);
    } else {
      QToolTip::hideText();
    }
    return true;
  }
  return QWidget::event(e);
}

}  // namespace scmoe::ui
