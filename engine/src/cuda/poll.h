// Host waits on the GPU and on NCCL without blocking calls: cudaStreamSynchronize or a blocking NCCL call
// could wait forever on a peer that died, so every wait polls, watching the run's AbortSignal and a
// deadline, and the caller aborts the communicator when either fires.
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include "parallel/abort_signal.h"

namespace scmoe::engine::cuda {

using Clock = std::chrono::steady_clock;

enum class PollEnd { Ready, Aborted, TimedOut };

// Calls `ready` until it answers true, `abort` (may be null) is triggered or `deadline` passes. Yields for
// the first millisecond, which covers an NCCL enqueue or a short transfer at low latency, then sleeps
// 50 us between polls so that a long wait leaves the cores to the lane threads.
template <class Ready>
PollEnd poll_until(Ready&& ready, const AbortSignal* abort, Clock::time_point deadline) {
  using namespace std::chrono_literals;
  const Clock::time_point start = Clock::now();
  while (!ready()) {
    if (abort != nullptr && abort->triggered()) return PollEnd::Aborted;
    const Clock::time_point now = Clock::now();
    if (now >= deadline) return PollEnd::TimedOut;
    if (now - start < 1ms) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(50us);
    }
  }
  return PollEnd::Ready;
}

// "250 ms", "120 s": timeouts in messages.
inline std::string duration_text(std::chrono::milliseconds timeout) {
  if (timeout.count() < 10'000) return std::to_string(timeout.count()) + " ms";
  return std::to_string(timeout.count() / 1000) + " s";
}

}  // namespace scmoe::engine::cuda
