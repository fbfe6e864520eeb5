#include "scmoe/ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QBuffer>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QScopedValueRollback>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStatusBar>
#include <QSvgGenerator>
#include <QTableWidget>
#include <QToolBar>
#include <QVBoxLayout>

#include "scmoe/engine/config_io.h"
#include "scmoe/profiler/formats/load.h"
#include "scmoe/ui/charts_panel.h"
#include "scmoe/ui/compare_view.h"
#include "scmoe/ui/details_panel.h"
#include "scmoe/ui/legend_widget.h"
#include "scmoe/ui/run_controller.h"
#include "scmoe/ui/run_panel.h"
#include "scmoe/ui/time_format.h"
#include "scmoe/ui/timeline_widget.h"
#include "scmoe/ui/trace_loader.h"
#include "scmoe/ui/view_state.h"
#include "scmoe/version.h"

// The resource library is static: nothing references its initialiser, so register it explicitly.
static void init_studio_resources() { Q_INIT_RESOURCE(resources); }

namespace scmoe::ui {

namespace {

constexpr int kMaxRecentFiles = 8;
const char* kRecentKey = "recentFiles";

QString qstr(std::string_view s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }

// Mirrors a toolbar combo box and the run panel's one (same items, either side may change).
void mirror(QComboBox* a, QComboBox* b) {
  for (int i = 0; i < b->count(); ++i) a->addItem(b->itemText(i), b->itemData(i));
  a->setCurrentIndex(b->currentIndex());
  QObject::connect(a, &QComboBox::currentIndexChanged, b, &QComboBox::setCurrentIndex);
  QObject::connect(b, &QComboBox::currentIndexChanged, a, &QComboBox::setCurrentIndex);
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  init_studio_resources();
  setObjectName(QStringLiteral("mainWindow"));
  setWindowTitle(tr("ScMoE Studio"));
  setWindowIcon(QIcon(QStringLiteral(":/scmoe/icons/scmoe-studio.svg")));
  setAcceptDrops(true);
  setDockNestingEnabled(true);

  view_state_ = new ViewState(this);
  predicted_state_ = new ViewState(this);
  timeline_ = new TimelineWidget(view_state_);
  timeline_->setObjectName(QStringLiteral("timeline"));
  predicted_timeline_ = new TimelineWidget(predicted_state_);
  predicted_timeline_->setObjectName(QStringLiteral("predictedTimeline"));
  predicted_timeline_->setTitle(tr("predicted"));
  predicted_timeline_->hide();
  runner_ = new RunController(this);
  loader_ = new TraceLoader(this);
  compare_loader_ = new TraceLoader(this);

  // Centre: search bar, legend, measured timeline above the predicted one.
  search_ = new QLineEdit;
  search_->setPlaceholderText(tr("Search span names (regex)"));
  search_->setClearButtonEnabled(true);
  search_count_ = new QLabel;
  auto* previous = new QPushButton(tr("Previous"));
  auto* next = new QPushButton(tr("Next"));
  auto* search_bar = new QHBoxLayout;
  search_bar->addWidget(search_, 1);
  search_bar->addWidget(search_count_);
  search_bar->addWidget(previous);
  search_bar->addWidget(next);
  auto* splitter = new QSplitter(Qt::Vertical);
  splitter->addWidget(timeline_);
  splitter->addWidget(predicted_timeline_);
  auto* centre = new QWidget;
  auto* centre_layout = new QVBoxLayout(centre);
  centre_layout->setContentsMargins(2, 2, 2, 2);
  centre_layout->addLayout(search_bar);
  centre_layout->addWidget(new LegendWidget);
  centre_layout->addWidget(splitter, 1);
  setCentralWidget(centre);
  connect(search_, &QLineEdit::returnPressed, this, [this] {
    if (timeline_->matchCount() > 0) timeline_->nextMatch(); else timeline_->setSearch(search_->text());
  });
  connect(search_, &QLineEdit::textChanged, timeline_, &TimelineWidget::setSearch);
  connect(next, &QPushButton::clicked, timeline_, &TimelineWidget::nextMatch);
  connect(previous, &QPushButton::clicked, timeline_, &TimelineWidget::previousMatch);
  connect(timeline_, &TimelineWidget::searchChanged, this, [this](int count, int current) {
    if (!timeline_->searchError().isEmpty()) {
      search_count_->setText(tr("invalid regex"));
      search_count_->setToolTip(timeline_->searchError());
      return;
    }
    search_count_->setToolTip({});
    search_count_->setText(current >= 0 ? tr("%1 of %2").arg(current + 1).arg(count) : tr("%n match(es)", nullptr, count));
  });

  connect(timeline_, &TimelineWidget::hoveredTimeChanged, this, [this](std::int64_t t) {
    if (current_trace_) {
      statusBar()->showMessage(tr("cursor at %1 after the trace start").arg(QString::fromStdString(format_duration(double(t - current_trace_->begin_ns())))), 2000);
    }
  });
  connect(view_state_, &ViewState::windowChanged, this, [this] {
    if (!applying_window_) follow_live_ = false;
  });
  buildDocks();
  buildMenus();
  buildToolbar();
  buildStatusBar();

  connect(run_panel_, &RunPanel::runRequested, this, &MainWindow::startRun);
  connect(run_panel_, &RunPanel::cancelRequested, this, &MainWindow::cancelRun);
  connect(run_panel_, &RunPanel::predictRequested, this, &MainWindow::predict);
  // What-if toggles redraw the prediction at once once something was measured.
  connect(run_panel_, &RunPanel::configEdited, this, [this] {
    if (measured_ && predicted_timeline_->isVisible()) predict();
  });
  connect(runner_, &RunController::iterationFinished, this, &MainWindow::onIteration);
  connect(runner_, &RunController::finished, this, &MainWindow::onRunFinished);
  connect(runner_, &RunController::progress, this, [this](int done, int total) {
    const double eta = runner_->etaSeconds();
    run_panel_->setProgress(done, total, eta);
    status_progress_->setRange(0, std::max(1, total));
    status_progress_->setValue(done);
    iteration_label_->setText(tr("iteration %1/%2").arg(done).arg(total));
    eta_label_->setText(eta >= 0 ? tr("ETA %1 s").arg(eta, 0, 'f', 0) : QString());
  });
  connect(loader_, &TraceLoader::progress, this, [this](double f) {
    status_progress_->setRange(0, 1000);
    status_progress_->setValue(int(f * 1000));
  });
  connect(loader_, &TraceLoader::loaded, this, &MainWindow::onTraceLoaded);
  connect(loader_, &TraceLoader::failed, this, [this](const QString& e) {
    setError(e);
    status_progress_->setValue(0);
    emit loadFailed(e);
  });
  connect(loader_, &TraceLoader::cancelled, this, [this] { statusBar()->showMessage(tr("Loading cancelled"), 5000); });
  connect(compare_loader_, &TraceLoader::loaded, this, [this](std::shared_ptr<const prof::Trace> b, const QStringList& paths) {
    if (!current_trace_) return;
    auto* view = new CompareView(current_trace_, current_title_, std::move(b), QFileInfo(paths.value(0)).fileName());
    view->setAttribute(Qt::WA_DeleteOnClose);
    view->show();
    emit compareOpened(view);
  });
  connect(compare_loader_, &TraceLoader::failed, this, &MainWindow::setError);

  resize(1440, 900);
  restoreSettings();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildDocks() {
  run_panel_ = new RunPanel;
  details_ = new DetailsPanel(timeline_);
  charts_ = new ChartsPanel;
  summary_ = new QTableWidget(0, 2);
  summary_->setObjectName(QStringLiteral("summaryTable"));
  summary_->setHorizontalHeaderLabels({tr("metric"), tr("value")});
  summary_->verticalHeader()->hide();
  summary_->horizontalHeader()->setStretchLastSection(true);
  summary_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  auto dock = [this](QWidget* w, const QString& title, const QString& name, Qt::DockWidgetArea area) {
    auto* d = new QDockWidget(title, this);
    d->setObjectName(name);
    d->setWidget(w);
    addDockWidget(area, d);
    return d;
  };
  dock(run_panel_, tr("Run / What-if"), QStringLiteral("runDock"), Qt::LeftDockWidgetArea);
  QDockWidget* details = dock(details_, tr("Details"), QStringLiteral("detailsDock"), Qt::BottomDockWidgetArea);
  QDockWidget* summary = dock(summary_, tr("Summary"), QStringLiteral("summaryDock"), Qt::BottomDockWidgetArea);
  QDockWidget* charts = dock(charts_, tr("Charts"), QStringLiteral("chartsDock"), Qt::BottomDockWidgetArea);
  splitDockWidget(details, summary, Qt::Horizontal);
  splitDockWidget(summary, charts, Qt::Horizontal);
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open trace(s)..."), QKeySequence::Open, this, &MainWindow::openDialog);
  recent_menu_ = file->addMenu(tr("Open &recent"));
  rebuildRecentMenu();
  file->addAction(tr("Cancel loading"), loader_, &TraceLoader::cancel);
  file->addSeparator();
  file->addAction(tr("Export report (PDF)..."), this, [this] { exportDialog(tr("PDF (*.pdf)"), &MainWindow::exportReport); });
  file->addAction(tr("Export report (HTML)..."), this, [this] { exportDialog(tr("HTML (*.html)"), &MainWindow::exportReport); });
  file->addAction(tr("Export trace (Chrome JSON / CSV / native)..."), this, [this] {
    exportDialog(tr("Chrome JSON (*.json *.json.gz);;CSV (*.csv);;ScMoE trace (*.scmoe)"), &MainWindow::exportTrace);
  });
  file->addAction(tr("Export visible timeline (PNG / SVG)..."), this, [this] {
    exportDialog(tr("PNG image (*.png);;SVG image (*.svg)"), &MainWindow::exportTimelineImage);
  });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

  QMenu* run = menuBar()->addMenu(tr("&Run"));
  run->addAction(tr("&Run"), QKeySequence(Qt::CTRL | Qt::Key_R), this, &MainWindow::startRun);
  run->addAction(tr("&Stop"), QKeySequence(Qt::CTRL | Qt::Key_Period), this, &MainWindow::cancelRun);
  run->addAction(tr("&Predict (what-if)"), QKeySequence(Qt::CTRL | Qt::Key_P), this, &MainWindow::predict);
  run->addAction(tr("Load &config (TOML / JSON)..."), this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Engine configuration"), {}, tr("Config (*.toml *.json)"));
    if (path.isEmpty()) return;
    engine::EngineConfig c = run_panel_->config();
    const auto errors = engine::load_config_file(path.toStdString(), c);
    if (!errors.empty()) {
      setError(QString::fromStdString(errors.front().field + ": " + errors.front().message));
      return;
    }
    run_panel_->setConfig(c);
  });

  QMenu* view = menuBar()->addMenu(tr("&View"));
  view->addAction(tr("&Fit all / selection"), QKeySequence(Qt::Key_F), timeline_, &TimelineWidget::fit);
  view->addAction(tr("Show all rows"), timeline_, &TimelineWidget::showAllTracks);
  view->addAction(tr("Show / hide predicted timeline"), this, [this] { predicted_timeline_->setVisible(!predicted_timeline_->isVisible()); });
  view->addSeparator();
  for (QDockWidget* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());

  QMenu* compare = menuBar()->addMenu(tr("&Compare"));
  compare->addAction(tr("Compare the current trace with file(s)..."), this, &MainWindow::compareDialog);

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("Timeline &keys"), this, [this] {
    QMessageBox::information(this, tr("Timeline keys"),
        tr("Wheel / Ctrl+wheel: zoom around the cursor (Ctrl: finer)\nDrag: pan (vertical: scroll rows)\n"
           "Shift+drag: measure a range\nClick: select a span (details, flows)\nClick a rank header: collapse\n"
           "Right click a row: hide / pin\nW/S: zoom, A/D: pan, F: fit, Esc: clear selection"));
  });
  help->addAction(tr("&About"), this, [this] {
    QMessageBox::about(this, tr("About ScMoE Studio"),
        tr("ScMoE Studio %1\nProfiler and engine for shortcut-connected expert parallelism (arXiv 2404.05019).").arg(kVersion));
  });
}

void MainWindow::buildToolbar() {
  QToolBar* bar = addToolBar(tr("Run"));
  bar->setObjectName(QStringLiteral("runToolbar"));
  tool_preset_ = new QComboBox;
  tool_arch_ = new QComboBox;
  tool_schedule_ = new QComboBox;
  mirror(tool_preset_, run_panel_->presetBox());
  mirror(tool_arch_, run_panel_->archBox());
  mirror(tool_schedule_, run_panel_->scheduleBox());
  tool_position_ = new QSpinBox;
  tool_position_->setRange(1, 3);
  tool_position_->setPrefix(tr("pos "));
  tool_position_->setValue(run_panel_->positionBox()->value());
  connect(tool_position_, &QSpinBox::valueChanged, run_panel_->positionBox(), &QSpinBox::setValue);
  connect(run_panel_->positionBox(), &QSpinBox::valueChanged, tool_position_, &QSpinBox::setValue);
  bar->addWidget(new QLabel(tr(" preset ")));
  bar->addWidget(tool_preset_);
  bar->addWidget(new QLabel(tr(" arch ")));
  bar->addWidget(tool_arch_);
  bar->addWidget(tool_position_);
  bar->addWidget(new QLabel(tr(" K ")));
  bar->addWidget(tool_schedule_);
  bar->addSeparator();
  bar->addAction(tr("Run"), this, &MainWindow::startRun);
  bar->addAction(tr("Stop"), this, &MainWindow::cancelRun);
  bar->addAction(tr("Predict"), this, &MainWindow::predict);
}

void MainWindow::buildStatusBar() {
  device_label_ = new QLabel(tr("device: cpu"));
  iteration_label_ = new QLabel(tr("idle"));
  status_progress_ = new QProgressBar;
  status_progress_->setMaximumWidth(220);
  status_progress_->setRange(0, 1);
  status_progress_->setValue(0);
  status_progress_->setTextVisible(false);
  eta_label_ = new QLabel;
  error_label_ = new QLabel;
  error_label_->setObjectName(QStringLiteral("lastError"));
  error_label_->setStyleSheet(QStringLiteral("color: #c00000"));
  statusBar()->addWidget(device_label_);
  statusBar()->addWidget(iteration_label_);
  statusBar()->addWidget(status_progress_);
  statusBar()->addWidget(eta_label_);
  statusBar()->addWidget(error_label_, 1);
}

void MainWindow::restoreSettings() {
  QSettings s;
  restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
  restoreState(s.value(QStringLiteral("window/state")).toByteArray());
  const QString config = s.value(QStringLiteral("run/config")).toString();
  if (!config.isEmpty()) {
    engine::EngineConfig c;
    if (engine::parse_config_json(config.toStdString(), c).empty()) run_panel_->setConfig(c);
  }
}

void MainWindow::closeEvent(QCloseEvent* e) {
  QSettings s;
  s.setValue(QStringLiteral("window/geometry"), saveGeometry());
  s.setValue(QStringLiteral("window/state"), saveState());
  s.setValue(QStringLiteral("run/config"), QString::fromStdString(engine::config_to_json(run_panel_->config())));
  runner_->cancel();
  loader_->cancel();
  QMainWindow::closeEvent(e);
}

void MainWindow::addRecentFile(const QStringList& paths) {
  QSettings s;
  QStringList recent = s.value(kRecentKey).toStringList();
  const QString entry = paths.join(QLatin1Char('\n'));  // several rank files open together
  recent.removeAll(entry);
  recent.prepend(entry);
  while (recent.size() > kMaxRecentFiles) recent.removeLast();
  s.setValue(kRecentKey, recent);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  recent_menu_->clear();
  const QStringList recent = QSettings().value(kRecentKey).toStringList();
  for (const QString& entry : recent) {
    const QStringList paths = entry.split(QLatin1Char('\n'));
    QString label = QFileInfo(paths.front()).fileName();
    if (paths.size() > 1) label += tr(" (+%1 files)").arg(paths.size() - 1);
    recent_menu_->addAction(label, this, [this, paths] { openFiles(paths); });
  }
  recent_menu_->setEnabled(!recent.isEmpty());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
  if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
  QStringList paths;
  for (const QUrl& url : e->mimeData()->urls()) {
    if (url.isLocalFile()) paths << url.toLocalFile();
  }
  if (!paths.isEmpty()) openFiles(paths);
}

void MainWindow::openDialog() {
  const QStringList paths = QFileDialog::getOpenFileNames(
      this, tr("Open trace(s): several files = one per rank"), {},
      tr("Traces (*.scmoe *.json *.json.gz *.gz);;All files (*)"));
  if (!paths.isEmpty()) openFiles(paths);
}

void MainWindow::compareDialog() {
  if (!current_trace_) {
    setError(tr("Open or run a trace first, then compare it with another one"));
    return;
  }
  const QStringList paths = QFileDialog::getOpenFileNames(this, tr("Trace B to compare with"), {},
                                                          tr("Traces (*.scmoe *.json *.json.gz *.gz);;All files (*)"));
  if (!paths.isEmpty()) compareWith(paths);
}

void MainWindow::compareWith(const QStringList& paths) {
  if (!current_trace_) {
    setError(tr("Open or run a trace first, then compare it with another one"));
    return;
  }
  if (!compare_loader_->load(paths)) setError(tr("A comparison trace is still loading"));
}

void MainWindow::exportDialog(const QString& filter, QString (MainWindow::*exporter)(const QString&)) {
  const QString path = QFileDialog::getSaveFileName(this, tr("Export"), {}, filter);
  if (path.isEmpty()) return;
  const QString error = (this->*exporter)(path);
  if (error.isEmpty()) statusBar()->showMessage(tr("Wrote %1").arg(path), 5000); else setError(error);
}

void MainWindow::openFiles(const QStringList& paths) {
  if (runner_->running()) {
    setError(tr("Stop the run before opening a trace"));
    return;
  }
  if (!loader_->load(paths)) {
    setError(tr("A trace is still loading (File > Cancel loading)"));
    return;
  }
  statusBar()->showMessage(tr("Loading %1...").arg(paths.join(QStringLiteral(", "))));
}

void MainWindow::onTraceLoaded(std::shared_ptr<const prof::Trace> trace, const QStringList& paths) {
  current_files_ = paths;
  addRecentFile(paths);
  QString title = QFileInfo(paths.front()).fileName();
  if (paths.size() > 1) title += tr(" +%1").arg(paths.size() - 1);
  showTrace(trace, title, /*live=*/false);
  measured_.reset();
  KeyValueRows rows = {{"file(s)", paths.join(QStringLiteral(", ")).toStdString()},
                       {"spans", std::to_string(trace->span_count())},
                       {"ranks", std::to_string(timeline_->layout()->ranks().size())},
                       {"duration", format_duration(double(trace->end_ns() - trace->begin_ns()))}};
  for (auto& r : overlap_rows(*trace)) rows.push_back(std::move(r));
  if (trace->dropped_records > 0) rows.emplace_back("dropped capture records", std::to_string(trace->dropped_records));
  showSummary(rows);
  charts_->showTrace(*trace);
  status_progress_->setValue(0);
  statusBar()->showMessage(tr("Opened %1 (%2 spans)").arg(title).arg(trace->span_count()), 5000);
  emit traceOpened();
}

void MainWindow::showTrace(std::shared_ptr<const prof::Trace> trace, const QString& title, bool live) {
  const QScopedValueRollback<bool> applying(applying_window_, true);
  const bool keep = live && !follow_live_ && current_trace_ && timeline_->layout();
  const TimeWindow window = view_state_->window();
  const std::int64_t old_begin = shown_begin_ns_;
  current_trace_ = trace;
  current_title_ = title;
  shown_begin_ns_ = trace->begin_ns();
  timeline_->setTrace(trace, keep);
  timeline_->setTitle(title);
  // Live iterations start at new absolute times: keep the zoom, moved to the same offset in the new one.
  if (keep) view_state_->setWindow({window.start_ns - old_begin + shown_begin_ns_, window.end_ns - old_begin + shown_begin_ns_});
  if (!search_->text().isEmpty()) timeline_->setSearch(search_->text());
}

void MainWindow::showSummary(const KeyValueRows& rows) {
  summary_->setRowCount(static_cast<int>(rows.size()));
  for (int r = 0; r < static_cast<int>(rows.size()); ++r) {
    summary_->setItem(r, 0, new QTableWidgetItem(QString::fromStdString(rows[static_cast<std::size_t>(r)].first)));
    summary_->setItem(r, 1, new QTableWidgetItem(QString::fromStdString(rows[static_cast<std::size_t>(r)].second)));
  }
  summary_->resizeColumnToContents(0);
}

void MainWindow::setError(const QString& error) {
  error_label_->setText(error);
  error_label_->setToolTip(error);
}

QString MainWindow::lastError() const { return error_label_->text(); }

bool MainWindow::startRun() {
  const engine::EngineConfig config = run_panel_->config();
  const std::vector<engine::ConfigError> errors = runner_->start(config);
  run_panel_->showErrors(errors);
  if (!errors.empty()) {
    setError(tr("Invalid configuration: %1: %2").arg(QString::fromStdString(errors.front().field),
                                                     QString::fromStdString(errors.front().message)));
    return false;
  }
  setError({});
  live_.reset(config);
  follow_live_ = true;
  charts_->clear();
  run_panel_->setRunning(true);
  device_label_->setText(tr("device: %1").arg(qstr(engine::to_string(config.device))));
  iteration_label_->setText(tr("starting..."));
  return true;
}

void MainWindow::cancelRun() {
  if (!runner_->running()) return;
  runner_->cancel();
  iteration_label_->setText(tr("cancelling..."));
}

void MainWindow::onIteration(std::shared_ptr<const engine::IterationResult> result) {
  live_.add(result);
  // The timeline follows the chosen arch; top-2 iterations of A/B mode only feed the charts.
  if (live_.latestArch() == result) {
    std::shared_ptr<const prof::Trace> trace(result, &result->trace);
    showTrace(trace, tr("%1, iteration %2").arg(qstr(engine::to_string(result->arch))).arg(result->iteration), true);
  }
  charts_->showRun(live_);
  showSummary(live_.summaryRows());
}

void MainWindow::onRunFinished(const engine::RunSummary& summary) {
  live_.finish(summary);
  run_panel_->setRunning(false);
  status_progress_->setValue(0);
  eta_label_->clear();
  if (!summary.error.empty()) {
    setError(tr("Run failed: %1").arg(QString::fromStdString(summary.error)));
  }
  iteration_label_->setText(summary.cancelled ? tr("cancelled") : tr("finished"));
  showSummary(live_.summaryRows());
  // What the warm-up measured (each op alone) feeds the what-if predictions, as it feeds K*.
  if (auto m = measured_from_run(summary, live_.config())) {
    measured_ = std::move(*m);
  } else if (live_.latestArch()) {
    std::string error;
    if (auto t = measure_ops({live_.latestArch()->trace}, live_.config(), live_.config().arch, &error)) measured_ = std::move(*t);
  }
  if (predicted_config_ && prediction_ && !live_.archTimes().empty()) {
    const engine::EngineConfig& p = *predicted_config_;
    const engine::EngineConfig& c = live_.config();
    if (p.arch == c.arch && p.shortcut_position == c.shortcut_position && p.schedule == c.schedule &&
        p.pipeline_chunks == c.pipeline_chunks && p.ep_size == c.ep_size &&
        p.link.bandwidth_gbps == c.link.bandwidth_gbps && p.link.enabled == c.link.enabled) {
      run_panel_->showMeasured(summary.median_ms > 0 ? summary.median_ms : live_.archTimes().back());
    }
  }
  emit runFinished(summary.cancelled);
}

bool MainWindow::predict() {
  if (!measured_ && live_.latestArch()) {
    std::string error;
    if (auto m = measure_ops({live_.latestArch()->trace}, live_.config(), live_.config().arch, &error)) measured_ = std::move(*m);
  }
  if (!measured_) {
    run_panel_->clearPrediction(tr("Nothing measured yet: run a workload first (the prediction re-uses its operator times)."));
    return false;
  }
  const engine::EngineConfig target = run_panel_->config();
  prediction_ = ui::predict(*measured_, target);
  predicted_config_ = target;
  auto trace = std::make_shared<const prof::Trace>(prediction_->timeline);
  predicted_timeline_->setTrace(trace);
  predicted_timeline_->setTitle(tr("predicted %1").arg(QString::fromStdString(format_duration(prediction_->unit_ms * 1e6))));
  predicted_timeline_->show();
  run_panel_->showPrediction(*prediction_);
  return true;
}

QImage MainWindow::timelineImage() const {
  QImage image(timeline_->size().expandedTo(QSize(800, 300)), QImage::Format_ARGB32_Premultiplied);
  QPainter p(&image);
  timeline_->renderTo(p, image.size());
  return image;
}

ReportContent MainWindow::reportContent() const {
  ReportContent c;
  c.title = tr("ScMoE Studio report: %1").arg(current_title_.isEmpty() ? tr("no trace") : current_title_);
  c.machine = machine_rows();
  for (int r = 0; r < summary_->rowCount(); ++r) {
    c.summary.emplace_back(summary_->item(r, 0)->text().toStdString(), summary_->item(r, 1)->text().toStdString());
  }
  if (!live_.archTimes().empty()) {
    const engine::EngineConfig& cfg = live_.config();
    c.config = {{"preset", cfg.preset},
                {"arch", std::string(engine::to_string(cfg.arch))},
                {"shortcut position", std::to_string(cfg.shortcut_position)},
                {"schedule", std::string(engine::to_string(cfg.schedule))},
                {"expert slot K", cfg.schedule == engine::Schedule::Adaptive ? "adaptive" : std::to_string(cfg.expert_slot)},
                {"pipeline chunks", std::to_string(cfg.pipeline_chunks)},
                {"EP size", std::to_string(cfg.ep_size)},
                {"experts", std::to_string(cfg.num_experts)},
                {"tokens per rank", std::to_string(cfg.tokens_per_rank)},
                {"device", std::string(engine::to_string(cfg.device))},
                {"iterations", std::to_string(cfg.iterations)},
                {"link", cfg.link.enabled ? "emulated " + cfg.link.preset + " " + QString::number(cfg.link.bandwidth_gbps).toStdString() +
                                                " GB/s, " + QString::number(cfg.link.latency_us).toStdString() + " us"
                                          : "real transfers"}};
    if (cfg.link.enabled) c.notes << tr("Communication times come from an emulated link (hatched in the timeline), not a real interconnect.");
    c.notes << tr("Speedup is T_top2 / T_arch (\"x\"); \"% time\" is the share of top-2's iteration time saved (1 - T_arch / T_top2).");
  } else {
    for (const QString& f : current_files_) c.config.emplace_back("file", f.toStdString());
  }
  if (prediction_) {
    c.slot_header = {"K", "T_pre (ms)", "T_post (ms)", "exposed (ms)", "predicted (ms)"};
    for (std::size_t i = 0; i < prediction_->table.size(); ++i) {
      const auto& r = prediction_->table[i];
      c.slot_rows.push_back({std::to_string(r.slot), QString::number(r.t_pre_ms, 'f', 3).toStdString(),
                             QString::number(r.t_post_ms, 'f', 3).toStdString(), QString::number(r.exposed_ms, 'f', 3).toStdString(),
                             QString::number(r.predicted_ms, 'f', 3).toStdString()});
      if (r.slot == prediction_->chosen_slot) c.chosen_slot_row = static_cast<int>(i);
    }
  }
  if (current_trace_) c.timeline = timelineImage();
  if (!live_.archTimes().empty()) c.charts = charts_->grab().toImage();
  return c;
}

QString MainWindow::exportReport(const QString& path) {
  const ReportContent content = reportContent();
  if (path.endsWith(QStringLiteral(".pdf"), Qt::CaseInsensitive)) return write_pdf_report(content, path);
  if (path.endsWith(QStringLiteral(".html"), Qt::CaseInsensitive) || path.endsWith(QStringLiteral(".htm"), Qt::CaseInsensitive)) {
    return write_html_report(content, path);
  }
  return tr("%1: unknown report type (use .pdf or .html)").arg(path);
}

QString MainWindow::exportTrace(const QString& path) {
  if (!current_trace_) return tr("No trace to export");
  return QString::fromStdString(prof::formats::save_trace(*current_trace_, path.toStdString()));
}

QString MainWindow::exportTimelineImage(const QString& path) {
  if (!current_trace_) return tr("No trace to export");
  if (path.endsWith(QStringLiteral(".svg"), Qt::CaseInsensitive)) {
    // Render into memory first, then save atomically.
    QBuffer buffer;
    buffer.open(QIODevice::WriteOnly);
    QSvgGenerator svg;
    svg.setOutputDevice(&buffer);
    svg.setSize(timeline_->size());
    svg.setViewBox(QRect(QPoint(0, 0), timeline_->size()));
    svg.setTitle(current_title_);
    {
      QPainter p(&svg);
      timeline_->renderTo(p, timeline_->size());
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(buffer.data()) != buffer.data().size() || !file.commit()) {
      return tr("%1: cannot write: %2").arg(path, file.errorString());
    }
    return {};
  }
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly)) return tr("%1: cannot write: %2").arg(path, file.errorString());
  if (!timelineImage().save(&file, "PNG") || !file.commit()) return tr("%1: cannot write the PNG").arg(path);
  return {};
}

}  // namespace scmoe::ui
