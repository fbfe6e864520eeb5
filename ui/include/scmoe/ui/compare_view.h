// Two traces side by side: two timelines that pan and zoom together (their view states follow each
// other, aligned at each trace's start) and the per-phase / per-op diff table of analysis::compare_traces.
#pragma once

#include <QWidget>
#include <memory>

#include "scmoe/profiler/trace.h"

QT_BEGIN_NAMESPACE
class QTableWidget;
class QLabel;
QT_END_NAMESPACE

namespace scmoe::ui {

class TimelineWidget;
class ViewState;

class CompareView : public QWidget {
  Q_OBJECT

 public:
  CompareView(std::shared_ptr<const prof::Trace> a, const QString& label_a, std::shared_ptr<const prof::Trace> b,
              const QString& label_b, QWidget* parent = nullptr);

  TimelineWidget* timelineA() const { return timeline_a_; }
  TimelineWidget* timelineB() const { return timeline_b_; }
  QTableWidget* diffTable() const { return table_; }

 private:
  void follow(ViewState* from, ViewState* to, std::int64_t offset);

  TimelineWidget* timeline_a_;
  TimelineWidget* timeline_b_;
  QTableWidget* table_;
  QLabel* headline_;
  bool syncing_ = false;
};

}  // namespace scmoe::ui
