#include "scmoe/ui/category_style.h"

#include "scmoe/profiler/report/palette.h"

namespace scmoe::ui {

// The shared palette: a category has the same colour in the studio, the HTML/SVG reports and the CLI.
QColor category_color(prof::Category c) { return QColor(QRgb(prof::category_rgb(c))); }

QString category_label(prof::Category c) {
  const std::string_view name = prof::category_name(c);
  return QString::fromUtf8(name.data(), static_cast<qsizetype>(name.size()));
}

QColor band_color(BandState s) {
  switch (s) {
    case BandState::ComputeOnly: return QColor(0x4e79a7);
    case BandState::CommOnly: return QColor(0xd62728);
    case BandState::Overlapped: return QColor(0x2ca02c);
  }
  return Qt::gray;
}

QString band_label(BandState s) {
  switch (s) {
    case BandState::ComputeOnly: return QStringLiteral("compute only");
    case BandState::CommOnly: return QStringLiteral("comm only (exposed)");
    case BandState::Overlapped: return QStringLiteral("overlapped");
  }
  return {};
}

}  // namespace scmoe::ui
