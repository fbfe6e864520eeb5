#include "parallel/emulated_link.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "parallel/gpu_runtime.h"
#include "scmoe/profiler/cost_model.h"

namespace scmoe::engine {

EmulatedLinkCommunicator::EmulatedLinkCommunicator(std::unique_ptr<Communicator> inner, const LinkModel& link,
                                                   const AbortSignal& abort, std::shared_ptr<CudaBackend> gpu)
    : inner_(std::move(inner)), link_(link), abort_(abort), gpu_(std::move(gpu)) {}

std::vector<std::int64_t> EmulatedLinkCommunicator::exchange_counts(const std::vector<std::int64_t>& send) {
  // A few bytes: only the latency would matter and it is charged once per All-to-All below.
  return inner_->exchange_counts(send);
}

double EmulatedLinkCommunicator::modelled_seconds(const at::Tensor& send, const std::vector<std::int64_t>& send_splits,
                                                  const std::vector<std::int64_t>& recv_splits) const {
  // Rows a rank keeps for itself never cross the link. Sending and receiving use the two directions in
  // parallel, so the busier direction decides.
  const double row_bytes = static_cast<double>(send.size(1) * send.element_size());
  double crossing_rows = 0.0;
  if (size() == 1 && link_.emulated_ranks > 1) {
    // One rank standing in for a group: by symmetry (n-1)/n of its rows would go to the other ranks and
    // as many would arrive from them.
    crossing_rows = static_cast<double>(send.size(0)) * (link_.emulated_ranks - 1) / link_.emulated_ranks;
  } else {
    std::int64_t sent_rows = 0, received_rows = 0;
    for (std::size_t r = 0; r < send_splits.size(); ++r) {
      if (static_cast<int>(r) == rank()) continue;
      sent_rows += send_splits[r];
      received_rows += recv_splits[r];
    }
    crossing_rows = static_cast<double>(std::max(sent_rows, received_rows));
  }
  return prof::cost::link_transfer_ms(row_bytes * crossing_rows, link_.bandwidth_gbps, link_.latency_us) * 1e-3;
}

at::Tensor EmulatedLinkCommunicator::all_to_all(const at::Tensor& send, const std::vector<std::int64_t>& send_splits,
                                                const std::vector<std::int64_t>& recv_splits) {
  if (gpu_) {
    // The NCCL exchange itself waits on the device for every rank; the modelled time follows it on the
    // same stream.
    at::Tensor received = inner_->all_to_all(send, send_splits, recv_splits);
    const double seconds = modelled_seconds(send, send_splits, recv_splits);
    gpu_->enqueue_delay(native_handle(current_stream(send.device())), static_cast<std::int64_t>(seconds * 1e9));
    return received;
  }
  // The transfer starts when every rank is ready (as an NCCL collective does).
  inner_->barrier();
  const auto start = std::chrono::steady_clock::now();
  at::Tensor received = inner_->all_to_all(send, send_splits, recv_splits);
  const double seconds = modelled_seconds(send, send_splits, recv_splits);
  const auto until = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(seconds));
  // Sleep (the other lane's compute keeps the cores) in short steps so a cancel is seen quickly.
  for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now()) {
    abort_.throw_if_triggered();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(until - now, AbortSignal::kPollInterval));
  }
  return received;
}

}  // namespace scmoe::engine
