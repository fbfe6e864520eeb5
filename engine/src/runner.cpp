#include "scmoe/engine/runner.h"

#include <atomic>
#include <mutex>
#include <thread>

#include "launch/runner_ranks.h"
#include "parallel/abort_signal.h"
#include "parallel/gpu_runtime.h"
#include "run_session.h"

namespace scmoe::engine {

struct Runner::Impl {
  std::thread thread;
  std::unique_ptr<AbortSignal> abort;
  std::atomic<bool> running{false};
  std::mutex mutex;
  RunSummary summary;
};

Runner::Runner() : impl_(std::make_unique<Impl>()) {}

Runner::~Runner() {
  cancel();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::vector<ConfigError> Runner::start(const EngineConfig& config, RunCallbacks callbacks) {
  if (impl_->running) return {{"run", "a run is already in progress: cancel or wait for it first"}};
  if (impl_->thread.joinable()) impl_->thread.join();
  std::vector<ConfigError> errors = validate(config);
  // device = cuda where this build or machine cannot run it: one error naming "device", before anything runs.
  if (errors.empty()) {
    if (auto error = cuda_device_error(config)) errors.push_back(*error);
  }
  if (!errors.empty()) return errors;
  impl_->abort = std::make_unique<AbortSignal>();
  impl_->running = true;
  impl_->thread = std::thread([impl = impl_.get(), config, callbacks = std::move(callbacks)] {
    // world_size > 1 without a rendezvous: this process is rank 0 and starts the other ranks itself.
    RunnerRanks others;
    EngineConfig run_config = config;
    RunSummary summary;
    summary.error = others.start(run_config);
    if (summary.error.empty()) summary = run_session(run_config, callbacks, *impl->abort);
    others.finish(summary);
    {
      std::lock_guard lock(impl->mutex);
      impl->summary = summary;
    }
    if (callbacks.on_finished) callbacks.on_finished(summary);
    impl->running = false;
  });
  return {};
}

void Runner::cancel() {
  if (impl_->abort) impl_->abort->trigger();
}

RunSummary Runner::wait() {
  if (impl_->thread.joinable()) impl_->thread.join();
  std::lock_guard lock(impl_->mutex);
  return impl_->summary;
}

bool Runner::running() const { return impl_->running; }

}  // namespace scmoe::engine
