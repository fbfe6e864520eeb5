#include "parallel/lane.h"

#include <c10/core/InferenceMode.h>
#include <c10/core/StreamGuard.h>

namespace scmoe::engine {

void LaneEvent::set() {
  {
    std::lock_guard lock(mutex_);
    set_ = true;
  }
  cv_.notify_all();
}

void LaneEvent::wait(const AbortSignal& abort) {
  std::unique_lock lock(mutex_);
  while (!set_) {
    abort.throw_if_triggered();
    cv_.wait_for(lock, AbortSignal::kPollInterval);
  }
}

void LaneEvent::record_device(const c10::Stream& stream) {
  std::lock_guard lock(mutex_);
  if (!device_event_) device_event_.emplace(stream.device_type());
  device_event_->record(stream);
}

void LaneEvent::block_device(const c10::Stream& stream) const {
  if (device_event_) device_event_->block(stream);
}

Lane::Lane(const AbortSignal& abort, std::function<void(std::exception_ptr)> on_error,
           std::optional<c10::Stream> stream)
    : abort_(abort), on_error_(std::move(on_error)), stream_(stream), thread_([this] { loop(); }) {}

Lane::~Lane() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void Lane::enqueue(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
  }
  work_cv_.notify_one();
}

void Lane::record(LaneEvent& event) {
  enqueue([this, &event] {
    if (stream_) event.record_device(*stream_);
    event.set();
  });
}

void Lane::wait(LaneEvent& event) {
  enqueue([this, &event] {
    event.wait(abort_);
    if (stream_) event.block_device(*stream_);
  });
}

void Lane::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void Lane::loop() {
  // Inference only: no autograd bookkeeping on the lane threads.
  c10::InferenceMode inference;
  // A GPU lane launches everything on its stream (and device), for the thread's whole life.
  std::optional<c10::StreamGuard> on_stream;
  if (stream_) on_stream.emplace(*stream_);
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    if (!abort_.triggered()) {
      try {
        task();
      } catch (const Cancelled&) {
        // Another lane failed or the run was cancelled: the cause is reported there.
      } catch (...) {
        on_error_(std::current_exception());
      }
    }
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
      if (queue_.empty()) idle_cv_.notify_all();
    }
  }
}

}  // namespace scmoe::engine
