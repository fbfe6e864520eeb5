// Colours of span categories and overlap-band states, shared by the timeline, legend, charts and reports.
#pragma once

#include <QColor>
#include <QString>

#include "scmoe/profiler/trace.h"
#include "scmoe/ui/timeline_layout.h"

namespace scmoe::ui {

QColor category_color(prof::Category c);
QString category_label(prof::Category c);
QColor band_color(BandState s);
QString band_label(BandState s);

}  // namespace scmoe::ui
