#include "schedule/device_op_timer.h"

#include <algorithm>
#include <cmath>

namespace scmoe::engine {

DeviceOpTimer::DeviceOpTimer(std::shared_ptr<CudaBackend> gpu, void* stream) : gpu_(std::move(gpu)), stream_(stream) {}

DeviceOpTimer::~DeviceOpTimer() {
  for (void* event : pool_) gpu_->destroy_timing_event(event);
}

void* DeviceOpTimer::record() {
  if (used_ == pool_.size()) pool_.push_back(gpu_->create_timing_event());
  void* event = pool_[used_++];
  gpu_->record_timing_event(event, stream_);
  return event;
}

void DeviceOpTimer::add(void* begin, void* end, const SpanInfo& info) { pending_.push_back({begin, end, info}); }

std::int64_t DeviceOpTimer::resolve(void* anchor, std::int64_t anchor_host_ns, prof::capture::HostCollector& collector) {
  const auto host_ns = [&](void* event) {
    return anchor_host_ns + static_cast<std::int64_t>(std::llround(static_cast<double>(gpu_->elapsed_ms(anchor, event)) * 1e6));
  };
  std::int64_t latest = anchor_host_ns;
  for (const Pending& p : pending_) {
    const std::int64_t begin = host_ns(p.begin);
    const std::int64_t end = std::max(begin, host_ns(p.end));
    collector.add_span(p.info.track, p.info.name, p.info.category, begin, end, p.info.layer, p.info.iteration,
                       p.info.op_instance, p.info.flags);
    latest = std::max(latest, end);
  }
  pending_.clear();
  used_ = 0;
  return latest;
}

}  // namespace scmoe::engine
