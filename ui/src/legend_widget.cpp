#include "scmoe/ui/legend_widget.h"

#include <QPainter>

#include "scmoe/ui/category_style.h"

namespace scmoe::ui {

LegendWidget::LegendWidget(QWidget* parent) : QWidget(parent) {
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

QSize LegendWidget::sizeHint() const { return {800, fontMetrics().height() + 8}; }

void LegendWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  const int h = fontMetrics().height();
  int x = 4;
  auto item = [&](const QColor& color, const QString& label, Qt::BrushStyle pattern = Qt::SolidPattern, bool dashed = false) {
    const QRect swatch(x, 4, h, h - 2);
    p.fillRect(swatch, color);
    if (pattern != Qt::SolidPattern) p.fillRect(swatch, QBrush(QColor(0, 0, 0, 110), pattern));
    if (dashed) {
      p.setPen(QPen(color.darker(160), 1, Qt::DashLine));
      p.drawRect(swatch.adjusted(0, 0, -1, -1));
    }
    p.setPen(palette().color(QPalette::Text));
    p.drawText(x + h + 3, 3 + fontMetrics().ascent(), label);
    x += h + 10 + fontMetrics().horizontalAdvance(label);
  };
  for (int c = 0; c < prof::kCategoryCount; ++c) {
    item(category_color(static_cast<prof::Category>(c)), category_label(static_cast<prof::Category>(c)));
  }
  x += 8;
  for (BandState s : {BandState::ComputeOnly, BandState::Overlapped, BandState::CommOnly}) item(band_color(s), band_label(s));
  x += 8;
  item(QColor(0xbab0ac), tr("emulated"), Qt::BDiagPattern);
  QColor predicted(0xbab0ac);
  predicted.setAlpha(150);
  item(predicted, tr("predicted"), Qt::SolidPattern, true);
}

}  // namespace scmoe::ui
