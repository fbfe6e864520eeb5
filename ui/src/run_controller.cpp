#include "scmoe/ui/run_controller.h"

#include <QMetaObject>
#include <QPointer>

namespace scmoe::ui {

RunController::RunController(QObject* parent) : QObject(parent), runner_(std::make_unique<engine::Runner>()) {
  qRegisterMetaType<std::shared_ptr<const scmoe::engine::IterationResult>>();
  qRegisterMetaType<scmoe::engine::RunSummary>();
}

RunController::~RunController() {
  // The runner joins its thread; the callbacks it still makes post to a QPointer that is about to die,
  // which Qt drops safely.
  runner_->cancel();
  runner_.reset();
}

std::vector<engine::ConfigError> RunController::start(const engine::EngineConfig& config) {
  if (running_) return {{"run", "a run is already in progress; cancel it first"}};
  QPointer<RunController> self(this);
  engine::RunCallbacks callbacks;
  callbacks.on_iteration = [self](const engine::IterationResult& r) {
    auto copy = std::make_shared<const engine::IterationResult>(r);
    QMetaObject::invokeMethod(self, [self, copy] { if (self) emit self->iterationFinished(copy); }, Qt::QueuedConnection);
  };
  callbacks.on_progress = [self](int done, int total) {
    QMetaObject::invokeMethod(self, [self, done, total] {
      if (!self) return;
      self->done_ = done;
      self->total_ = total;
      emit self->progress(done, total);
    }, Qt::QueuedConnection);
  };
  callbacks.on_finished = [self](const engine::RunSummary& summary) {
    QMetaObject::invokeMethod(self, [self, summary] {
      if (!self) return;
      self->running_ = false;
      emit self->finished(summary);
    }, Qt::QueuedConnection);
  };
  std::vector<engine::ConfigError> errors = runner_->start(config, std::move(callbacks));
  if (!errors.empty()) return errors;
  config_ = config;
  running_ = true;
  done_ = 0;
  total_ = config.warmup + config.iterations;
  clock_.start();
  emit started();
  return {};
}

void RunController::cancel() {
  if (running_) runner_->cancel();
}

double RunController::etaSeconds() const {
  if (!running_ || done_ <= 0 || total_ <= 0) return -1.0;
  const double per_iteration = double(clock_.elapsed()) / 1000.0 / done_;
  return per_iteration * (total_ - done_);
}

}  // namespace scmoe::ui
