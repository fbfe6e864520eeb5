#include "scmoe/ui/charts_panel.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QHBoxLayout>
#include <QLineSeries>
#include <QStackedBarSeries>
#include <QValueAxis>
#include <algorithm>

#include "scmoe/profiler/analysis/breakdown.h"
#include "scmoe/profiler/analysis/overlap.h"
#include "scmoe/ui/category_style.h"

namespace scmoe::ui {

ChartsPanel::ChartsPanel(QWidget* parent) : QWidget(parent) {
  auto* chart = new QChart;
  arch_series_ = new QLineSeries;
  top2_series_ = new QLineSeries;
  speedup_series_ = new QLineSeries;
  speedup_low_ = new QLineSeries;
  speedup_high_ = new QLineSeries;
  arch_series_->setName(tr("arch (ms)"));
  top2_series_->setName(tr("top-2 (ms)"));
  speedup_series_->setName(tr("speedup (x)"));
  speedup_low_->setName(tr("speedup 25th pct"));
  speedup_high_->setName(tr("speedup 75th pct"));
  QPen dotted(QColor(0x2ca02c), 1, Qt::DotLine);
  speedup_low_->setPen(dotted);
  speedup_high_->setPen(dotted);
  speedup_series_->setPen(QPen(QColor(0x2ca02c), 2));
  arch_series_->setPen(QPen(QColor(0x4e79a7), 2));
  top2_series_->setPen(QPen(QColor(0xe15759), 2));
  for (QLineSeries* s : {arch_series_, top2_series_, speedup_series_, speedup_low_, speedup_high_}) chart->addSeries(s);
  x_axis_ = new QValueAxis;
  x_axis_->setTitleText(tr("iteration"));
  x_axis_->setLabelFormat(QStringLiteral("%d"));
  time_axis_ = new QValueAxis;
  time_axis_->setTitleText(tr("ms"));
  speedup_axis_ = new QValueAxis;
  speedup_axis_->setTitleText(tr("x"));
  chart->addAxis(x_axis_, Qt::AlignBottom);
  chart->addAxis(time_axis_, Qt::AlignLeft);
  chart->addAxis(speedup_axis_, Qt::AlignRight);
  for (QLineSeries* s : {arch_series_, top2_series_}) {
    s->attachAxis(x_axis_);
    s->attachAxis(time_axis_);
  }
  for (QLineSeries* s : {speedup_series_, speedup_low_, speedup_high_}) {
    s->attachAxis(x_axis_);
    s->attachAxis(speedup_axis_);
  }
  chart->legend()->setAlignment(Qt::AlignBottom);
  line_view_ = new QChartView(chart);
  line_view_->setRenderHint(QPainter::Antialiasing);
  line_view_->setMinimumSize(320, 220);

  auto* bars = new QChart;
  bars->setTitle(tr("Time per category, latest iteration (ms)"));
  bars->legend()->setAlignment(Qt::AlignRight);
  bar_view_ = new QChartView(bars);
  bar_view_->setMinimumSize(320, 220);

  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(line_view_, 3);
  layout->addWidget(bar_view_, 2);
  clear();
}

void ChartsPanel::clear() {
  line_view_->chart()->setTitle(tr("Iteration time and speedup over top-2"));
  for (QLineSeries* s : {arch_series_, top2_series_, speedup_series_, speedup_low_, speedup_high_}) s->clear();
  x_axis_->setRange(0, 1);
  time_axis_->setRange(0, 1);
  speedup_axis_->setRange(0, 2);
  bar_view_->chart()->removeAllSeries();
  for (QAbstractAxis* a : bar_view_->chart()->axes()) {
    bar_view_->chart()->removeAxis(a);
    delete a;
  }
}

void ChartsPanel::showRun(const LiveRunModel& model) {
  auto fill = [](QLineSeries* s, const std::vector<double>& v) {
    QList<QPointF> points;
    for (std::size_t i = 0; i < v.size(); ++i) points.append(QPointF(double(i), v[i]));
    s->replace(points);
  };
  fill(arch_series_, model.archTimes());
  fill(top2_series_, model.top2Times());
  QList<QPointF> median, low, high;
  const auto& history = model.speedupHistory();
  for (std::size_t i = 0; i < history.size(); ++i) {
    median.append(QPointF(double(i), history[i].median_x));
    low.append(QPointF(double(i), history[i].low_x));
    high.append(QPointF(double(i), history[i].high_x));
  }
  speedup_series_->replace(median);
  speedup_low_->replace(low);
  speedup_high_->replace(high);
  const std::size_t n = std::max(model.archTimes().size(), model.top2Times().size());
  x_axis_->setRange(0, double(std::max<std::size_t>(n, 2) - 1));
  double max_ms = 0.0;
  for (double v : model.archTimes()) max_ms = std::max(max_ms, v);
  for (double v : model.top2Times()) max_ms = std::max(max_ms, v);
  time_axis_->setRange(0, max_ms > 0 ? max_ms * 1.1 : 1.0);
  double max_x = 2.0;
  for (const SpeedupStats& s : history) max_x = std::max(max_x, s.high_x * 1.1);
  speedup_axis_->setRange(0, max_x);
  std::vector<BarColumn> columns;
  if (model.latestArch()) {
    columns.push_back({QString::fromUtf8(engine::to_string(model.config().arch).data()), &model.latestArch()->trace, 0});
  }
  if (model.latestTop2()) columns.push_back({QStringLiteral("top2"), &model.latestTop2()->trace, 0});
  rebuildBars(columns, tr("Time per category, latest iteration, rank 0 (ms)"));
}

void ChartsPanel::showTrace(const prof::Trace& trace) {
  clear();
  line_view_->chart()->setTitle(tr("Iteration time and speedup over top-2 (live runs only)"));
  std::vector<BarColumn> columns;
  for (std::int32_t rank : prof::analysis::ranks_of(trace)) columns.push_back({tr("rank %1").arg(rank), &trace, rank});
  rebuildBars(columns, tr("Time per category per rank, whole trace (ms)"));
}

void ChartsPanel::rebuildBars(const std::vector<BarColumn>& columns, const QString& title) {
  QChart* chart = bar_view_->chart();
  chart->setTitle(title);
  chart->removeAllSeries();
  for (QAbstractAxis* a : chart->axes()) {
    chart->removeAxis(a);
    delete a;
  }
  if (columns.empty()) return;
  // Busy time per category (the same tracks as the overlap analysis).
  std::vector<std::array<double, prof::kCategoryCount>> values(columns.size());
  for (std::size_t c = 0; c < columns.size(); ++c) {
    prof::analysis::BreakdownOptions options;
    options.group_by = prof::analysis::GroupBy::Category;
    options.rank = columns[c].rank;
    values[c].fill(0.0);
    for (const auto& op : prof::analysis::breakdown(*columns[c].trace, options)) {
      values[c][static_cast<std::size_t>(op.category)] += double(op.total_ns) / 1e6;
    }
  }
  auto* series = new QStackedBarSeries;
  double max_total = 0.0;
  std::vector<double> totals(columns.size(), 0.0);
  for (int cat = 0; cat < prof::kCategoryCount; ++cat) {
    bool any = false;
    for (const auto& v : values) any = any || v[static_cast<std::size_t>(cat)] > 0;
    if (!any) continue;
    auto* set = new QBarSet(category_label(static_cast<prof::Category>(cat)));
    set->setColor(category_color(static_cast<prof::Category>(cat)));
    for (std::size_t c = 0; c < columns.size(); ++c) {
      *set << values[c][static_cast<std::size_t>(cat)];
      totals[c] += values[c][static_cast<std::size_t>(cat)];
    }
    series->append(set);
  }
  for (double t : totals) max_total = std::max(max_total, t);
  chart->addSeries(series);
  auto* x = new QBarCategoryAxis;
  for (const auto& col : columns) x->append(col.label);
  auto* y = new QValueAxis;
  y->setRange(0, max_total > 0 ? max_total * 1.1 : 1.0);
  chart->addAxis(x, Qt::AlignBottom);
  chart->addAxis(y, Qt::AlignLeft);
  series->attachAxis(x);
  series->attachAxis(y);
}

}  // namespace scmoe::ui
