// The run / what-if panel: a form that builds an engine::EngineConfig (preset, arch, shortcut position,
// schedule and K, pipelining chunks, EP size, tokens, link model, device, iterations, A/B), shows
// engine::validate() errors under the offending field, and holds the Predict / Run / Cancel buttons, the
// progress bar, the predicted-vs-measured numbers and the per-K table with K* highlighted.
#pragma once

#include <QMap>
#include <QWidget>
#include <optional>

#include "scmoe/engine/config.h"
#include "scmoe/ui/what_if.h"

QT_BEGIN_NAMESPACE
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QFormLayout;
QT_END_NAMESPACE

namespace scmoe::ui {

class RunPanel : public QWidget {
  Q_OBJECT

 public:
  explicit RunPanel(QWidget* parent = nullptr);

  engine::EngineConfig config() const;
  void setConfig(const engine::EngineConfig& config);
  // Shows each error under its field (unknown fields in the general error line); empty clears them.
  void showErrors(const std::vector<engine::ConfigError>& errors);
  // The error text shown for a field ("" when none), for tests and the status bar.
  QString errorFor(const QString& field) const;
  void setRunning(bool running);
  void setProgress(int done, int total, double eta_seconds);
  void showPrediction(const WhatIfResult& prediction);
  // Measured iteration time of the run that matches the prediction; shows the prediction error.
  void showMeasured(double measured_ms);
  void clearPrediction(const QString& reason);

  QComboBox* presetBox() const { return preset_; }
  QComboBox* archBox() const { return arch_; }
  QSpinBox* positionBox() const { return position_; }
  QComboBox* scheduleBox() const { return schedule_; }
  QSpinBox* slotBox() const { return slot_; }
  QPushButton* runButton() const { return run_; }
  QPushButton* cancelButton() const { return cancel_; }
  QTableWidget* slotTable() const { return slot_table_; }

 signals:
  void runRequested();
  void cancelRequested();
  void predictRequested();
  void configEdited();

 private:
  void addField(QFormLayout* form, const QString& field, const QString& label, QWidget* editor);
  void applyLinkPreset();
  void updateEnabled();

  QComboBox* preset_;
  QComboBox* arch_;
  QSpinBox* position_;
  QComboBox* schedule_;
  QSpinBox* slot_;
  QSpinBox* chunks_;
  QSpinBox* ep_size_;
  QSpinBox* experts_;
  QSpinBox* tokens_;
  QComboBox* link_;
  QDoubleSpinBox* bandwidth_;
  QDoubleSpinBox* latency_;
  QComboBox* device_;
  QSpinBox* iterations_;
  QCheckBox* ab_;
  QMap<QString, QLabel*> error_labels_;
  QLabel* general_error_;
  QPushButton* predict_;
  QPushButton* run_;
  QPushButton* cancel_;
  QProgressBar* progress_;
  QLabel* prediction_;
  QLabel* prediction_error_;
  QTableWidget* slot_table_;
  engine::EngineConfig base_;  // fields the form does not show (model shape of the preset, seed, ...)
  std::optional<double> predicted_ms_;
};

}  // namespace scmoe::ui
