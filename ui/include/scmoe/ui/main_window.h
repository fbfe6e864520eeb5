// The studio's main window (design.md sketch): menus File/Run/View/Compare/Help, a toolbar with the
// main run knobs, the timeline (measured, and the predicted one under it) in the centre, docks for the
// run / what-if panel, details, charts and summary, and a status bar with device, iteration, progress,
// ETA and the last error. Layout, recent files and the last config are remembered (QSettings).
#pragma once

#include <QMainWindow>
#include <QStringList>
#include <memory>
#include <optional>

#include "scmoe/engine/config.h"
#include "scmoe/ui/live_run_model.h"
#include "scmoe/ui/report_exporter.h"
#include "scmoe/ui/what_if.h"

QT_BEGIN_NAMESPACE
class QComboBox;
class QLabel;
class QLineEdit;
class QMenu;
class QProgressBar;
class QSpinBox;
class QTableWidget;
QT_END_NAMESPACE

namespace scmoe::ui {

class ChartsPanel;
class DetailsPanel;
class RunController;
class RunPanel;
class TimelineWidget;
class TraceLoader;
class ViewState;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // Opens trace files (several = one rank per file) off the UI thread.
  void openFiles(const QStringList& paths);
  // Opens a compare window of the current trace (A) against these file(s) (B), loaded off the UI thread.
  void compareWith(const QStringList& paths);
  // Starts the configured run; returns false (errors shown next to the fields) when the config is invalid.
  bool startRun();
  void cancelRun();
  // Predicts the configured run from the last measured operator times; false when nothing was measured.
  bool predict();
  // Export by extension: report .pdf / .html, trace .json / .json.gz / .csv / .scmoe, timeline .png / .svg.
  QString exportReport(const QString& path);
  QString exportTrace(const QString& path);
  QString exportTimelineImage(const QString& path);
  QImage timelineImage() const;

  TimelineWidget* timeline() const { return timeline_; }
  TimelineWidget* predictedTimeline() const { return predicted_timeline_; }
  RunPanel* runPanel() const { return run_panel_; }
  RunController* runController() const { return runner_; }
  QTableWidget* summaryTable() const { return summary_; }
  const LiveRunModel& liveRun() const { return live_; }
  QString lastError() const;

 signals:
  void runFinished(bool cancelled);
  void traceOpened();
  void compareOpened(QWidget* view);
  void loadFailed(const QString& error);

 protected:
  void closeEvent(QCloseEvent*) override;
  void dragEnterEvent(QDragEnterEvent*) override;
  void dropEvent(QDropEvent*) override;

 private:
  void buildMenus();
  void buildToolbar();
  void buildDocks();
  void buildStatusBar();
  void restoreSettings();
  void addRecentFile(const QStringList& paths);
  void rebuildRecentMenu();
  void showTrace(std::shared_ptr<const prof::Trace> trace, const QString& title, bool live);
  void showSummary(const KeyValueRows& rows);
  void setError(const QString& error);
  void onIteration(std::shared_ptr<const engine::IterationResult> result);
  void onRunFinished(const engine::RunSummary& summary);
  void onTraceLoaded(std::shared_ptr<const prof::Trace> trace, const QStringList& paths);
  void openDialog();
  void compareDialog();
  void exportDialog(const QString& filter, QString (MainWindow::*exporter)(const QString&));
  ReportContent reportContent() const;

  ViewState* view_state_;
  ViewState* predicted_state_;
  TimelineWidget* timeline_;
  TimelineWidget* predicted_timeline_;
  QLineEdit* search_;
  QLabel* search_count_;
  RunPanel* run_panel_;
  DetailsPanel* details_;
  ChartsPanel* charts_;
  QTableWidget* summary_;
  RunController* runner_;
  TraceLoader* loader_;
  TraceLoader* compare_loader_;
  QMenu* recent_menu_ = nullptr;
  QComboBox* tool_preset_ = nullptr;
  QComboBox* tool_arch_ = nullptr;
  QSpinBox* tool_position_ = nullptr;
  QComboBox* tool_schedule_ = nullptr;
  QLabel* device_label_;
  QLabel* iteration_label_;
  QProgressBar* status_progress_;
  QLabel* eta_label_;
  QLabel* error_label_;

  LiveRunModel live_;
  std::shared_ptr<const prof::Trace> current_trace_;
  QString current_title_;
  QStringList current_files_;
  std::optional<MeasuredOps> measured_;
  std::optional<WhatIfResult> prediction_;
  std::optional<engine::EngineConfig> predicted_config_;
  std::int64_t shown_begin_ns_ = 0;
  // Live iterations are fitted until the user pans or zooms; then the zoom is kept instead.
  bool follow_live_ = true;
  bool applying_window_ = false;
};

}  // namespace scmoe::ui
