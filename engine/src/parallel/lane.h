// A lane: an ordered queue of work with events, the CPU twin of a CUDA stream (design.md "Lanes"). Work
// runs on the lane's own thread in the order it was enqueued; record(event) marks a point in the lane and
// wait(event) makes later work of another lane start only after that point. Schedules are written once
// against lanes.
//
// On a GPU the lane also owns a CUDA stream, current on its thread for its whole life: work enqueued on the
// lane launches kernels on that stream asynchronously. An event then carries a c10::Event as well,
// recorded on the producer's stream once the producing work was launched, and the consumer's stream waits
// for it (after the host-side wait), so the device keeps the order the host promised.
#pragma once

#include <c10/core/Event.h>
#include <c10/core/Stream.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "parallel/abort_signal.h"

namespace scmoe::engine {

class LaneEvent {
 public:
  void set();
  // Blocks until set; throws Cancelled if the run is aborted first.
  void wait(const AbortSignal& abort);
  // GPU lanes, before set(): the point in `stream` the event stands for.
  void record_device(const c10::Stream& stream);
  // After wait(): later work on `stream` waits for that point (nothing when not recorded on a device).
  void block_device(const c10::Stream& stream) const;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool set_ = false;
  std::optional<c10::Event> device_event_;  // written before set(), read after wait(): ordered by mutex_
};

class Lane {
 public:
  // `on_error` is called (on the lane thread) with the first exception of any task; the run then aborts.
  // `stream`: a GPU lane's CUDA stream (made current on the lane thread, with its device).
  Lane(const AbortSignal& abort, std::function<void(std::exception_ptr)> on_error,
       std::optional<c10::Stream> stream = std::nullopt);
  ~Lane();  // finishes queued work (skipping it once aborted) and joins
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  void enqueue(std::function<void()> task);
  void record(LaneEvent& event);                      // set `event` when the work enqueued so far is done
  void wait(LaneEvent& event);                        // later work waits for `event`
  void wait_idle();                                   // blocks the caller until the queue is empty
  const std::optional<c10::Stream>& stream() const { return stream_; }

 private:
  void loop();

  const AbortSignal& abort_;
  std::function<void(std::exception_ptr)> on_error_;
  const std::optional<c10::Stream> stream_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace scmoe::engine
