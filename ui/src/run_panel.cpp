#include "scmoe/ui/run_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

namespace scmoe::ui {

namespace {

QString qstr(std::string_view s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }

template <class E>
void fill(QComboBox* box, std::initializer_list<E> values) {
  for (E v : values) box->addItem(qstr(engine::to_string(v)), static_cast<int>(v));
}

QSpinBox* spin(int lo, int hi) {
  auto* s = new QSpinBox;
  s->setRange(lo, hi);
  return s;
}

QString ms(double v) { return QString::number(v, 'f', 3) + QStringLiteral(" ms"); }

}  // namespace

RunPanel::RunPanel(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("runPanel"));
  preset_ = new QComboBox;
  for (std::string_view p : engine::preset_names()) preset_->addItem(qstr(p));
  arch_ = new QComboBox;
  fill(arch_, {engine::Arch::ScMoE, engine::Arch::ScMoE2, engine::Arch::Top2, engine::Arch::Top1, engine::Arch::Shared});
  position_ = spin(1, 3);
  schedule_ = new QComboBox;
  fill(schedule_, {engine::Schedule::Adaptive, engine::Schedule::Overlap, engine::Schedule::Sequential});
  slot_ = spin(1, 5);
  chunks_ = spin(1, 16);
  ep_size_ = spin(1, 64);
  experts_ = spin(1, 256);
  tokens_ = spin(1, 1 << 20);
  tokens_->setSingleStep(128);
  link_ = new QComboBox;
  link_->addItem(tr("none (real transfers only)"), QString());
  for (std::string_view p : engine::link_preset_names()) link_->addItem(tr("emulated %1").arg(qstr(p)), qstr(p));
  link_->addItem(tr("emulated, custom"), QStringLiteral("custom"));
  bandwidth_ = new QDoubleSpinBox;
  bandwidth_->setDecimals(4);
  bandwidth_->setRange(0.0, 10000.0);
  bandwidth_->setSuffix(QStringLiteral(" GB/s"));
  latency_ = new QDoubleSpinBox;
  latency_->setRange(0.0, 100000.0);
  latency_->setSuffix(QStringLiteral(" us"));
  device_ = new QComboBox;
  fill(device_, {engine::DeviceType::Cpu, engine::DeviceType::Cuda});
  iterations_ = spin(1, 100000);
  ab_ = new QCheckBox(tr("A/B against top-2"));

  auto* form_box = new QGroupBox(tr("Configuration"));
  auto* form = new QFormLayout(form_box);
  addField(form, QStringLiteral("preset"), tr("Preset"), preset_);
  addField(form, QStringLiteral("arch"), tr("Arch"), arch_);
  addField(form, QStringLiteral("shortcut_position"), tr("Shortcut position"), position_);
  addField(form, QStringLiteral("schedule"), tr("Schedule"), schedule_);
  addField(form, QStringLiteral("expert_slot"), tr("Expert slot K"), slot_);
  addField(form, QStringLiteral("pipeline_chunks"), tr("Pipeline chunks"), chunks_);
  addField(form, QStringLiteral("ep_size"), tr("EP size"), ep_size_);
  addField(form, QStringLiteral("num_experts"), tr("Experts"), experts_);
  addField(form, QStringLiteral("tokens_per_rank"), tr("Tokens per rank"), tokens_);
  addField(form, QStringLiteral("link.preset"), tr("Link"), link_);
  addField(form, QStringLiteral("link.bandwidth_gbps"), tr("Link bandwidth"), bandwidth_);
  addField(form, QStringLiteral("link.latency_us"), tr("Link latency"), latency_);
  addField(form, QStringLiteral("device"), tr("Device"), device_);
  addField(form, QStringLiteral("iterations"), tr("Iterations"), iterations_);
  form->addRow(ab_);
  general_error_ = new QLabel;
  general_error_->setStyleSheet(QStringLiteral("color: #c00000"));
  general_error_->setWordWrap(true);
  general_error_->hide();
  form->addRow(general_error_);

  predict_ = new QPushButton(tr("Predict"));
  predict_->setToolTip(tr("Redraw the predicted timeline from the measured operator times (cost model)"));
  run_ = new QPushButton(tr("Run"));
  cancel_ = new QPushButton(tr("Cancel"));
  progress_ = new QProgressBar;
  progress_->setRange(0, 1);
  progress_->setValue(0);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(predict_);
  buttons->addWidget(run_);
  buttons->addWidget(cancel_);

  auto* what_if = new QGroupBox(tr("What-if"));
  auto* what_if_layout = new QVBoxLayout(what_if);
  prediction_ = new QLabel(tr("Run a workload, then Predict."));
  prediction_->setWordWrap(true);
  prediction_error_ = new QLabel;
  prediction_error_->setWordWrap(true);
  slot_table_ = new QTableWidget(0, 5);
  slot_table_->setHorizontalHeaderLabels({tr("K"), tr("T_pre"), tr("T_post"), tr("exposed"), tr("predicted")});
  slot_table_->verticalHeader()->hide();
  slot_table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  slot_table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  slot_table_->setMinimumHeight(120);
  what_if_layout->addWidget(prediction_);
  what_if_layout->addWidget(prediction_error_);
  what_if_layout->addWidget(slot_table_);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(form_box);
  layout->addLayout(buttons);
  layout->addWidget(progress_);
  layout->addWidget(what_if, 1);

  connect(predict_, &QPushButton::clicked, this, &RunPanel::predictRequested);
  connect(run_, &QPushButton::clicked, this, &RunPanel::runRequested);
  connect(cancel_, &QPushButton::clicked, this, &RunPanel::cancelRequested);
  connect(link_, &QComboBox::currentIndexChanged, this, &RunPanel::applyLinkPreset);
  connect(preset_, &QComboBox::currentTextChanged, this, [this](const QString& name) {
    engine::apply_preset(name.toStdString(), base_);
    tokens_->setValue(base_.tokens_per_rank);
  });
  connect(schedule_, &QComboBox::currentIndexChanged, this, &RunPanel::updateEnabled);
  connect(position_, &QSpinBox::valueChanged, this, &RunPanel::updateEnabled);
  for (QComboBox* b : {preset_, arch_, schedule_, link_, device_})
    connect(b, &QComboBox::currentIndexChanged, this, &RunPanel::configEdited);
  for (QSpinBox* s : {position_, slot_, chunks_, ep_size_, experts_, tokens_, iterations_})
    connect(s, &QSpinBox::valueChanged, this, &RunPanel::configEdited);
  for (QDoubleSpinBox* s : {bandwidth_, latency_}) connect(s, &QDoubleSpinBox::valueChanged, this, &RunPanel::configEdited);
  connect(ab_, &QCheckBox::toggled, this, &RunPanel::configEdited);
  setConfig(engine::EngineConfig{});
  setRunning(false);
}

void RunPanel::addField(QFormLayout* form, const QString& field, const QString& label, QWidget* editor) {
  auto* box = new QWidget;
  auto* v = new QVBoxLayout(box);
  v->setContentsMargins(0, 0, 0, 0);
  v->setSpacing(1);
  v->addWidget(editor);
  auto* error = new QLabel;
  error->setStyleSheet(QStringLiteral("color: #c00000"));
  error->setWordWrap(true);
  error->hide();
  v->addWidget(error);
  error_labels_.insert(field, error);
  editor->setObjectName(field);
  form->addRow(label, box);
}

void RunPanel::applyLinkPreset() {
  const QString preset = link_->currentData().toString();
  const bool emulated = !preset.isEmpty();
  bandwidth_->setEnabled(emulated);
  latency_->setEnabled(emulated);
  if (emulated && preset != QStringLiteral("custom")) {
    engine::LinkModel link;
    if (engine::apply_link_preset(preset.toStdString(), link)) {
      bandwidth_->setValue(link.bandwidth_gbps);
      latency_->setValue(link.latency_us);
    }
  }
}

void RunPanel::updateEnabled() {
  slot_->setMaximum(engine::expert_slots(position_->value()));
  slot_->setEnabled(static_cast<engine::Schedule>(schedule_->currentData().toInt()) == engine::Schedule::Overlap);
}

engine::EngineConfig RunPanel::config() const {
  engine::EngineConfig c = base_;
  c.preset = preset_->currentText().toStdString();
  c.arch = static_cast<engine::Arch>(arch_->currentData().toInt());
  c.shortcut_position = position_->value();
  c.schedule = static_cast<engine::Schedule>(schedule_->currentData().toInt());
  c.expert_slot = slot_->value();
  c.pipeline_chunks = chunks_->value();
  c.ep_size = ep_size_->value();
  c.num_experts = experts_->value();
  c.tokens_per_rank = tokens_->value();
  const QString link = link_->currentData().toString();
  c.link.enabled = !link.isEmpty();
  c.link.preset = link == QStringLiteral("custom") ? std::string() : link.toStdString();
  c.link.bandwidth_gbps = c.link.enabled ? bandwidth_->value() : 0.0;
  c.link.latency_us = c.link.enabled ? latency_->value() : 0.0;
  c.device = static_cast<engine::DeviceType>(device_->currentData().toInt());
  c.iterations = iterations_->value();
  c.ab_against_top2 = ab_->isChecked();
  return c;
}

void RunPanel::setConfig(const engine::EngineConfig& c) {
  base_ = c;
  const QSignalBlocker block_preset(preset_);
  preset_->setCurrentText(QString::fromStdString(c.preset));
  arch_->setCurrentIndex(arch_->findData(static_cast<int>(c.arch)));
  position_->setValue(c.shortcut_position);
  schedule_->setCurrentIndex(schedule_->findData(static_cast<int>(c.schedule)));
  updateEnabled();
  slot_->setValue(c.expert_slot);
  chunks_->setValue(c.pipeline_chunks);
  ep_size_->setValue(c.ep_size);
  experts_->setValue(c.num_experts);
  tokens_->setValue(c.tokens_per_rank);
  {
    const QSignalBlocker block_link(link_);
    int index = 0;
    if (c.link.enabled) {
      // An enabled link without a preset name is a custom one (the "none" item's data is empty too).
      index = c.link.preset.empty() ? -1 : link_->findData(QString::fromStdString(c.link.preset));
      if (index < 0) index = link_->findData(QStringLiteral("custom"));
    }
    link_->setCurrentIndex(index);
  }
  bandwidth_->setEnabled(c.link.enabled);
  latency_->setEnabled(c.link.enabled);
  bandwidth_->setValue(c.link.bandwidth_gbps);
  latency_->setValue(c.link.latency_us);
  device_->setCurrentIndex(device_->findData(static_cast<int>(c.device)));
  iterations_->setValue(c.iterations);
  ab_->setChecked(c.ab_against_top2);
  showErrors({});
}

void RunPanel::showErrors(const std::vector<engine::ConfigError>& errors) {
  for (QLabel* l : error_labels_) {
    l->clear();
    l->hide();
  }
  QStringList general;
  for (const engine::ConfigError& e : errors) {
    const QString field = QString::fromStdString(e.field);
    const QString message = QString::fromStdString(e.message);
    if (QLabel* l = error_labels_.value(field)) {
      l->setText(l->text().isEmpty() ? message : l->text() + QLatin1Char('\n') + message);
      l->show();
    } else {
      general << QStringLiteral("%1: %2").arg(field, message);
    }
  }
  general_error_->setText(general.join(QLatin1Char('\n')));
  general_error_->setVisible(!general.isEmpty());
}

QString RunPanel::errorFor(const QString& field) const {
  if (QLabel* l = error_labels_.value(field)) return l->text();
  return general_error_->text().contains(field) ? general_error_->text() : QString();
}

void RunPanel::setRunning(bool running) {
  run_->setEnabled(!running);
  cancel_->setEnabled(running);
  if (!running) {
    progress_->setRange(0, 1);
    progress_->setValue(0);
    progress_->setFormat(tr("idle"));
  }
}

void RunPanel::setProgress(int done, int total, double eta_seconds) {
  progress_->setRange(0, std::max(1, total));
  progress_->setValue(done);
  progress_->setFormat(eta_seconds >= 0 ? tr("%v / %m iterations, ETA %1 s").arg(eta_seconds, 0, 'f', 0)
                                        : tr("%v / %m iterations"));
}

void RunPanel::showPrediction(const WhatIfResult& p) {
  predicted_ms_ = p.iteration_ms;
  prediction_->setText(tr("<b>Predicted</b> iteration %1, K = %2<br>top-2 (same measurements) %3<br>"
                          "speedup <b>%4 x</b> = %5 % time saved")
                           .arg(ms(p.iteration_ms)).arg(p.chosen_slot).arg(ms(p.top2_iteration_ms))
                           .arg(p.speedup_x(), 0, 'f', 2).arg(p.time_saved_percent(), 0, 'f', 1));
  prediction_error_->setText(tr("Run this configuration to measure it and see the prediction error."));
  slot_table_->setRowCount(static_cast<int>(p.table.size()));
  for (int r = 0; r < static_cast<int>(p.table.size()); ++r) {
    const prof::cost::SlotRow& row = p.table[static_cast<std::size_t>(r)];
    const QStringList cells = {QString::number(row.slot), ms(row.t_pre_ms), ms(row.t_post_ms), ms(row.exposed_ms),
                               ms(row.predicted_ms)};
    for (int c = 0; c < cells.size(); ++c) {
      auto* item = new QTableWidgetItem(cells[c]);
      if (row.slot == p.chosen_slot) {
        item->setBackground(QColor(0xfff2a8));
        QFont f = item->font();
        f.setBold(true);
        item->setFont(f);
      }
      slot_table_->setItem(r, c, item);
    }
  }
}

void RunPanel::showMeasured(double measured_ms) {
  if (!predicted_ms_ || measured_ms <= 0) return;
  const double error = 100.0 * (*predicted_ms_ - measured_ms) / measured_ms;
  prediction_error_->setText(tr("<b>Measured</b> %1 vs predicted %2: prediction error %3%4 %")
                                 .arg(ms(measured_ms), ms(*predicted_ms_), error >= 0 ? QStringLiteral("+") : QString())
                                 .arg(error, 0, 'f', 1));
}

void RunPanel::clearPrediction(const QString& reason) {
  predicted_ms_.reset();
  prediction_->setText(reason);
  prediction_error_->clear();
  slot_table_->setRowCount(0);
}

}  // namespace scmoe::ui
