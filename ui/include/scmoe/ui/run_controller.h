// Owns the engine::Runner for the studio. The engine calls back on its run thread; every callback is
// re-posted to this object's (GUI) thread as a queued call, so widgets only ever see results on the GUI
// thread and the UI never waits for the engine.
#pragma once

#include <QObject>
#include <QElapsedTimer>
#include <memory>
#include <vector>

#include "scmoe/engine/config.h"
#include "scmoe/engine/runner.h"

namespace scmoe::ui {

class RunController : public QObject {
  Q_OBJECT

 public:
  explicit RunController(QObject* parent = nullptr);
  ~RunController() override;

  // Validates and starts; returns the config errors (nothing started) or an empty list.
  std::vector<engine::ConfigError> start(const engine::EngineConfig& config);
  void cancel();
  bool running() const { return running_; }
  const engine::EngineConfig& config() const { return config_; }
  // Seconds left, estimated from the mean time per finished iteration; negative when unknown.
  double etaSeconds() const;

 signals:
  void started();
  void iterationFinished(std::shared_ptr<const scmoe::engine::IterationResult> result);
  void progress(int done, int total);
  void finished(const scmoe::engine::RunSummary& summary);

 private:
  std::unique_ptr<engine::Runner> runner_;
  engine::EngineConfig config_;
  bool running_ = false;
  int done_ = 0;
  int total_ = 0;
  QElapsedTimer clock_;
};

}  // namespace scmoe::ui
