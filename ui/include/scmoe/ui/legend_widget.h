// The colour legend above the timeline: every span category, the overlap-band states, and how emulated
// and predicted spans are marked.
#pragma once

#include <QWidget>

namespace scmoe::ui {

class LegendWidget : public QWidget {
  Q_OBJECT

 public:
  explicit LegendWidget(QWidget* parent = nullptr);
  QSize sizeHint() const override;

 protected:
  void paintEvent(QPaintEvent*) override;
};

}  // namespace scmoe::ui
