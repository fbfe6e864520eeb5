// The one object that owns what the user is looking at (the idea of Hotspot's FilterAndZoomStack):
// the visible time window, the selected span, the measured range and the search pattern. The timeline,
// details panel and compare view listen to it instead of talking to each other.
#pragma once

#include <QObject>
#include <QString>
#include <optional>

#include "scmoe/profiler/trace.h"
#include "scmoe/ui/draw_list.h"

namespace scmoe::ui {

class ViewState : public QObject {
  Q_OBJECT

 public:
  explicit ViewState(QObject* parent = nullptr);

  TimeWindow window() const { return window_; }
  // Windows shorter than 10 ns are widened around their centre: below that nothing is left to see.
  void setWindow(TimeWindow window);
  const std::optional<prof::SpanRef>& selection() const { return selection_; }
  void setSelection(std::optional<prof::SpanRef> selection);
  const std::optional<TimeWindow>& measuredRange() const { return measured_; }
  void setMeasuredRange(std::optional<TimeWindow> range);
  // Clears selection and measurement (the trace they referred to is gone).
  void resetForNewTrace(TimeWindow full);

 signals:
  void windowChanged();
  void selectionChanged();
  void measuredRangeChanged();

 private:
  TimeWindow window_{0, 1000};
  std::optional<prof::SpanRef> selection_;
  std::optional<TimeWindow> measured_;
};

}  // namespace scmoe::ui
