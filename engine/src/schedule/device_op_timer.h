// Device time of the ops of one GPU lane. On a GPU the lane thread only launches an op, so its host time
// says nothing about when the op ran: each op is bracketed by two CUDA timing events on the lane's stream,
// and once the stream has passed them the op's span is placed at the iteration's anchor (an event recorded
// at the iteration start, whose host time is known) plus the device time between them. The spans land in
// the same HostCollector as the CPU host spans, so the trace and the cost model's measured_op_times see
// the same kind of data on both devices.
//
// Used from one lane thread (its device current): record(), add(), resolve(). Events are pooled across
// iterations and destroyed with the timer.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "parallel/cuda_backend.h"
#include "scmoe/profiler/capture/host_collector.h"

namespace scmoe::engine {

class DeviceOpTimer {
 public:
  struct SpanInfo {
    prof::capture::HostTrackId track = 0;
    prof::capture::HostNameId name = 0;
    prof::Category category = prof::Category::Other;
    std::int32_t layer = prof::kNoIndex;
    std::int32_t iteration = prof::kNoIndex;
    std::int32_t op_instance = prof::kNoIndex;
    std::uint8_t flags = 0;
  };

  DeviceOpTimer(std::shared_ptr<CudaBackend> gpu, void* stream);
  ~DeviceOpTimer();
  DeviceOpTimer(const DeviceOpTimer&) = delete;
  DeviceOpTimer& operator=(const DeviceOpTimer&) = delete;

  // Records the next pooled event on the lane's stream and returns it.
  void* record();
  // An op between two recorded events.
  void add(void* begin, void* end, const SpanInfo& info);
  // Waits until the stream has passed every added op, adds their spans to `collector` at
  // anchor_host_ns + (event - anchor), and starts over for the next iteration. `anchor` is an event of
  // the same device recorded before them. Returns the latest span end (anchor_host_ns when none).
  std::int64_t resolve(void* anchor, std::int64_t anchor_host_ns, prof::capture::HostCollector& collector);

 private:
  struct Pending {
    void* begin;
    void* end;
    SpanInfo info;
  };
  std::shared_ptr<CudaBackend> gpu_;
  void* stream_;
  std::vector<void*> pool_;
  std::size_t used_ = 0;
  std::vector<Pending> pending_;
};

}  // namespace scmoe::engine
