#include "scmoe/ui/category_style.h"

#include <array>

namespace scmoe::ui {

namespace {
// Compute in cool/neutral hues, communication in warm ones, so overlap reads at a glance.
constexpr std::array<QRgb, prof::kCategoryCount> kCategoryColors = {
    0x4e79a7,  // attention
    0x59a14f,  // mlp
    0x8cd17d,  // expert
    0x76b7b2,  // shared_expert
    0xb07aa1,  // gate
    0x9c755f,  // encode
    0xbab0ac,  // decode
    0xe15759,  // dispatch
    0xf28e2b,  // combine
    0xff9da7,  // other_comm
    0xedc948,  // memcpy
    0xd4a6c8,  // memset
    0x86bcb6,  // other
};
}  // namespace

QColor category_color(prof::Category c) { return QColor(kCategoryColors[static_cast<std::size_t>(c)]); }

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
