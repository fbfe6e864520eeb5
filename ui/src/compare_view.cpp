#include "scmoe/ui/compare_view.h"

#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include "scmoe/profiler/analysis/compare.h"
#include "scmoe/ui/time_format.h"
#include "scmoe/ui/timeline_widget.h"
#include "scmoe/ui/view_state.h"

namespace scmoe::ui {

namespace {
QString dur(double ns) { return QString::fromStdString(format_duration(ns)); }
QString signed_dur(double ns) { return (ns >= 0 ? QStringLiteral("+") : QString()) + dur(ns); }
}  // namespace

CompareView::CompareView(std::shared_ptr<const prof::Trace> a, const QString& label_a,
                         std::shared_ptr<const prof::Trace> b, const QString& label_b, QWidget* parent)
    : QWidget(parent) {
  setWindowTitle(tr("Compare: %1 vs %2").arg(label_a, label_b));
  auto* state_a = new ViewState(this);
  auto* state_b = new ViewState(this);
  timeline_a_ = new TimelineWidget(state_a);
  timeline_b_ = new TimelineWidget(state_b);
  timeline_a_->setTrace(a);
  timeline_b_->setTrace(b);
  timeline_a_->setTitle(QStringLiteral("A: ") + label_a);
  timeline_b_->setTitle(QStringLiteral("B: ") + label_b);
  // Aligned at each trace's start: the same offset from the start is shown in both.
  const std::int64_t offset = b->begin_ns() - a->begin_ns();
  follow(state_a, state_b, offset);
  follow(state_b, state_a, -offset);
  state_b->setWindow({state_a->window().start_ns + offset, state_a->window().end_ns + offset});

  const prof::analysis::Comparison cmp = prof::analysis::compare_traces(*a, *b);
  headline_ = new QLabel(tr("Median iteration: A %1, B %2 &mdash; B is <b>%3 x</b> as fast (%4 % time saved)")
                             .arg(dur(double(cmp.iteration_a_ns)), dur(double(cmp.iteration_b_ns)))
                             .arg(cmp.speedup_x(), 0, 'f', 2).arg(cmp.time_saved_percent(), 0, 'f', 1));
  table_ = new QTableWidget(0, 5);
  table_->setHorizontalHeaderLabels({tr("phase / op"), tr("change"), tr("A per iteration"), tr("B per iteration"), tr("delta")});
  table_->verticalHeader()->hide();
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  auto add_row = [this](const QString& key, std::string_view change, double a_ns, double b_ns) {
    const int r = table_->rowCount();
    table_->insertRow(r);
    const QStringList cells = {key, QString::fromUtf8(change.data(), static_cast<qsizetype>(change.size())), dur(a_ns),
                               dur(b_ns), signed_dur(b_ns - a_ns)};
    for (int c = 0; c < cells.size(); ++c) table_->setItem(r, c, new QTableWidgetItem(cells[c]));
  };
  for (const auto& p : cmp.phases) add_row(QStringLiteral("[%1]").arg(QString::fromStdString(p.phase)), prof::analysis::change_name(p.change), p.a_ns, p.b_ns);
  for (const auto& o : cmp.ops) add_row(QString::fromStdString(o.key), prof::analysis::change_name(o.change), o.per_iteration_a_ns, o.per_iteration_b_ns);

  auto* splitter = new QSplitter(Qt::Vertical);
  splitter->addWidget(timeline_a_);
  splitter->addWidget(timeline_b_);
  auto* bottom = new QWidget;
  auto* bottom_layout = new QVBoxLayout(bottom);
  bottom_layout->setContentsMargins(0, 0, 0, 0);
  bottom_layout->addWidget(headline_);
  bottom_layout->addWidget(table_);
  splitter->addWidget(bottom);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(splitter);
  resize(1200, 800);
}

void CompareView::follow(ViewState* from, ViewState* to, std::int64_t offset) {
  connect(from, &ViewState::windowChanged, this, [this, from, to, offset] {
    if (syncing_) return;
    syncing_ = true;
    to->setWindow({from->window().start_ns + offset, from->window().end_ns + offset});
    syncing_ = false;
  });
}

}  // namespace scmoe::ui
