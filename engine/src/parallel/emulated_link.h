// The emulated link (design.md "Link model"): wraps a communicator and holds the comm lane for
// latency + bytes / bandwidth, so a CPU run, or one GPU playing one rank of an N-rank group, shows the
// overlap a PCIe or NVLink machine would have. Spans it produces are flagged emulated by the executor
// (emulated() is true).
// - CPU: the lane thread sleeps until that time after all ranks met.
// - GPU: the real exchange (NCCL; a 1-rank self send/recv when one GPU plays rank 0) is enqueued on the
//   caller's current stream (the comm lane's), followed by a spin kernel for the modelled time
//   (CudaBackend::enqueue_delay): the comm stream is busy as long as the link would be, the host never
//   blocks, and compute streams run alongside.
#pragma once

#include <memory>

#include "parallel/abort_signal.h"
#include "parallel/communicator.h"
#include "parallel/cuda_backend.h"
#include "scmoe/engine/config.h"

namespace scmoe::engine {

class EmulatedLinkCommunicator final : public Communicator {
 public:
  // `gpu`: the CUDA backend for a GPU rank (null on the CPU).
  EmulatedLinkCommunicator(std::unique_ptr<Communicator> inner, const LinkModel& link, const AbortSignal& abort,
                           std::shared_ptr<CudaBackend> gpu = nullptr);
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  void barrier() override { inner_->barrier(); }
  std::vector<std::int64_t> exchange_counts(const std::vector<std::int64_t>& send) override;
  at::Tensor all_to_all(const at::Tensor& send, const std::vector<std::int64_t>& send_splits,
                        const std::vector<std::int64_t>& recv_splits) override;
  bool emulated() const override { return true; }

 private:
  // The modelled time of one All-to-All(v) of `send`.
  double modelled_seconds(const at::Tensor& send, const std::vector<std::int64_t>& send_splits,
                          const std::vector<std::int64_t>& recv_splits) const;

  std::unique_ptr<Communicator> inner_;
  LinkModel link_;
  const AbortSignal& abort_;
  std::shared_ptr<CudaBackend> gpu_;
};

}  // namespace scmoe::engine
