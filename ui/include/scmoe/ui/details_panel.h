// Details of what the user picked in a timeline: the selected span (name, category, rank, stream, start,
// duration, flags, layer/op/iteration, args, flows) or, for a shift+drag range, its statistics (busy
// time per category, overlap of comm with compute inside the range).
#pragma once

#include <QTextBrowser>

namespace scmoe::ui {

class TimelineWidget;

class DetailsPanel : public QTextBrowser {
  Q_OBJECT

 public:
  explicit DetailsPanel(TimelineWidget* timeline, QWidget* parent = nullptr);

  void refresh();

 private:
  QString selectionHtml() const;
  QString rangeHtml() const;

  TimelineWidget* timeline_;
};

}  // namespace scmoe::ui
