// Qt Charts of a live run: per-iteration time of the chosen arch and of top-2 with the running speedup
// (and its interquartile spread) on a second axis, and stacked bars of the per-category time of the
// latest iteration of each arch.
#pragma once

#include <QWidget>

#include "scmoe/ui/live_run_model.h"

QT_BEGIN_NAMESPACE
class QChart;
class QChartView;
class QLineSeries;
class QValueAxis;
QT_END_NAMESPACE

namespace scmoe::ui {

class ChartsPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ChartsPanel(QWidget* parent = nullptr);

  void showRun(const LiveRunModel& model);
  // An opened trace: per-category time of each rank as stacked bars (no iteration series).
  void showTrace(const prof::Trace& trace);
  void clear();

 private:
  struct BarColumn {
    QString label;
    const prof::Trace* trace;
    std::int32_t rank;
  };
  void rebuildBars(const std::vector<BarColumn>& columns, const QString& title);

  QChartView* line_view_;
  QChartView* bar_view_;
  QLineSeries* arch_series_;
  QLineSeries* top2_series_;
  QLineSeries* speedup_series_;
  QLineSeries* speedup_low_;
  QLineSeries* speedup_high_;
  QValueAxis* x_axis_;
  QValueAxis* time_axis_;
  QValueAxis* speedup_axis_;
};

}  // namespace scmoe::ui
