// A lane: an ordered queue of work with events, the CPU twin of a CUDA stream (design.md "Lanes"). Work
// runs on the lane's own thread in the order it was enqueued; record(event) marks a point in the lane and
// wait(event) makes later work of another lane start only after that point. Schedules are written once
// against lanes.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "parallel/abort_signal.h"

namespace scmoe::engine {

class LaneEvent {
 public:
  void set();
  // Blocks until set; throws Cancelled if the run is aborted first.
  void wait(const AbortSignal& abort);

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool set_ = false;
};

class Lane {
 public:
  // `on_error` is called (on the lane thread) with the first exception of any task; the run then aborts.
  Lane(const AbortSignal& abort, std::function<void(std::exception_ptr)> on_error);
  ~Lane();  // finishes queued work (skipping it once aborted) and joins
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  void enqueue(std::function<void()> task);
  void record(LaneEvent& event);                      // set `event` when the work enqueued so far is done
  void wait(LaneEvent& event);                        // later work waits for `event`
  void wait_idle();                                   // blocks the caller until the queue is empty

 private:
  void loop();

  const AbortSignal& abort_;
  std::function<void(std::exception_ptr)> on_error_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace scmoe::engine
