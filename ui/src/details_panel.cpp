#include "scmoe/ui/details_panel.h"

#include "scmoe/ui/category_style.h"
#include "scmoe/ui/range_statistics.h"
#include "scmoe/ui/time_format.h"
#include "scmoe/ui/timeline_widget.h"

namespace scmoe::ui {

namespace {

QString qstr(std::string_view s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())).toHtmlEscaped(); }
QString dur(double ns) { return QString::fromStdString(format_duration(ns)); }
QString row(const QString& key, const QString& value) {
  return QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>").arg(key, value);
}

QString span_name(const prof::Trace& trace, prof::SpanRef ref) {
  const prof::Track& track = trace.tracks[ref.track];
  return QStringLiteral("%1 (rank %2, %3)").arg(qstr(trace.name_of(track.spans[ref.span])))
      .arg(track.info.rank).arg(qstr(track.info.name));
}

}  // namespace

DetailsPanel::DetailsPanel(TimelineWidget* timeline, QWidget* parent) : QTextBrowser(parent), timeline_(timeline) {
  setObjectName(QStringLiteral("detailsPanel"));
  connect(timeline_, &TimelineWidget::traceChanged, this, &DetailsPanel::refresh);
  connect(timeline_->viewState(), &ViewState::selectionChanged, this, &DetailsPanel::refresh);
  connect(timeline_->viewState(), &ViewState::measuredRangeChanged, this, &DetailsPanel::refresh);
  refresh();
}

void DetailsPanel::refresh() {
  const ViewState* state = timeline_->viewState();
  if (!timeline_->layout()) {
    setHtml(tr("<i>No trace.</i>"));
  } else if (state->selection()) {
    setHtml(selectionHtml());
  } else if (state->measuredRange()) {
    setHtml(rangeHtml());
  } else {
    setHtml(tr("<i>Click a span for its details; shift+drag to measure a range.</i>"));
  }
}

QString DetailsPanel::selectionHtml() const {
  const prof::Trace& trace = timeline_->layout()->trace();
  const prof::SpanRef ref = *timeline_->viewState()->selection();
  if (ref.track >= trace.tracks.size() || ref.span >= trace.tracks[ref.track].spans.size()) return {};
  const prof::Track& track = trace.tracks[ref.track];
  const prof::Span& s = track.spans[ref.span];
  QString html = QStringLiteral("<h3>%1</h3><table>").arg(qstr(trace.name_of(s)));
  html += row(tr("category"), category_label(s.category));
  html += row(tr("rank"), QString::number(track.info.rank));
  html += row(tr("stream"), qstr(track.info.name));
  html += row(tr("start"), dur(double(s.start_ns - trace.begin_ns())) + tr(" after trace start"));
  html += row(tr("duration"), dur(double(s.duration_ns())));
  if (s.layer >= 0) html += row(tr("layer"), QString::number(s.layer));
  if (s.op_instance >= 0) html += row(tr("op"), QString::number(s.op_instance));
  if (s.iteration >= 0) html += row(tr("iteration"), QString::number(s.iteration));
  QStringList flags;
  if (s.has_flag(prof::kSpanEmulated)) flags << tr("emulated link time");
  if (s.has_flag(prof::kSpanPredicted)) flags << tr("predicted");
  if (s.has_flag(prof::kSpanDropped)) flags << tr("tokens dropped");
  if (!flags.isEmpty()) html += row(tr("flags"), flags.join(QStringLiteral(", ")));
  if (s.args != prof::kNoArgs && s.args < trace.args.size()) {
    for (const prof::Arg& a : trace.args[s.args]) html += row(qstr(trace.strings.view(a.key)), qstr(a.value()));
  }
  html += QStringLiteral("</table>");
  QString flows;
  for (const prof::Flow& f : trace.flows) {
    if (f.from == ref) flows += QStringLiteral("<li>&rarr; %1</li>").arg(span_name(trace, f.to));
    if (f.to == ref) flows += QStringLiteral("<li>&larr; %1</li>").arg(span_name(trace, f.from));
  }
  if (!flows.isEmpty()) html += tr("<p><b>flows</b></p><ul>%1</ul>").arg(flows);
  return html;
}

QString DetailsPanel::rangeHtml() const {
  const TimeWindow range = *timeline_->viewState()->measuredRange();
  const RangeStatistics stats = range_statistics(*timeline_->layout(), range);
  QString html = tr("<h3>Range %1</h3><table>").arg(dur(double(range.length())));
  for (int c = 0; c < prof::kCategoryCount; ++c) {
    if (stats.category_spans[static_cast<std::size_t>(c)] == 0) continue;
    const auto ns = stats.category_ns[static_cast<std::size_t>(c)];
    html += row(category_label(static_cast<prof::Category>(c)),
                tr("%1 (%2 spans, %3% of the range)").arg(dur(double(ns)))
                    .arg(stats.category_spans[static_cast<std::size_t>(c)])
                    .arg(100.0 * double(ns) / double(std::max<std::int64_t>(1, range.length())), 0, 'f', 1));
  }
  html += row(tr("comm"), dur(double(stats.comm_ns)));
  html += row(tr("overlapped"), tr("%1 (%2% of comm)").arg(dur(double(stats.overlapped_ns)))
                                   .arg(100.0 * stats.overlap_fraction(), 0, 'f', 1));
  html += QStringLiteral("</table>");
  return html;
}

}  // namespace scmoe::ui
