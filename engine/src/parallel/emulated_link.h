// The emulated link (design.md "Link model"): wraps a communicator and holds the caller (the comm lane)
// until latency + bytes / bandwidth after all ranks met, so a CPU run, or one GPU playing one rank of an
// N-rank group, shows the overlap a PCIe or NVLink machine would have. Spans it produces are flagged
// emulated by the executor (emulated() is true).
#pragma once

#include <memory>

#include "parallel/abort_signal.h"
#include "parallel/communicator.h"
#include "scmoe/engine/config.h"

namespace scmoe::engine {

class EmulatedLinkCommunicator final : public Communicator {
 public:
  EmulatedLinkCommunicator(std::unique_ptr<Communicator> inner, const LinkModel& link, const AbortSignal& abort);
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  void barrier() override { inner_->barrier(); }
  std::vector<std::int64_t> exchange_counts(const std::vector<std::int64_t>& send) override;
  at::Tensor all_to_all(const at::Tensor& send, const std::vector<std::int64_t>& send_splits,
                        const std::vector<std::int64_t>& recv_splits) override;
  bool emulated() const override { return true; }

 private:
  std::unique_ptr<Communicator> inner_;
  LinkModel link_;
  const AbortSignal& abort_;
};

}  // namespace scmoe::engine
