// The Communicator of one rank of a multi-process CPU run: the split sizes, then the rows, each one
// c10d::ProcessGroupGloo::alltoall_base (All-to-All(v)), as the NCCL path does with its count exchange and
// grouped send/recv. Received rows land in rank order, exactly where the shared-memory exchange puts them,
// so a multi-process run computes bit for bit what the in-process one does.
#include "parallel/gloo_communicator.h"

#include <numeric>
#include <stdexcept>

namespace scmoe::engine {

namespace {

class GlooCommunicator final : public Communicator {
 public:
  explicit GlooCommunicator(GlooTransport& transport) : transport_(transport) {}
  int rank() const override { return transport_.rank(); }
  int size() const override { return transport_.world(); }

  void barrier() override { transport_.wait(transport_.group().barrier(), "barrier"); }

  std::vector<std::int64_t> exchange_counts(const std::vector<std::int64_t>& send) override {
    const auto n = static_cast<std::size_t>(size());
    if (send.size() % n != 0) {
      throw std::invalid_argument("exchange_counts: " + std::to_string(send.size()) + " counts do not split into " +
                                  std::to_string(n) + " equal blocks");
    }
    at::Tensor in = at::tensor(at::ArrayRef<std::int64_t>(send), at::kLong);
    at::Tensor out = at::empty_like(in);
    std::vector<std::int64_t> equal;  // empty: equal blocks
    transport_.wait(transport_.group().alltoall_base(out, in, equal, equal), "the split-size exchange");
    return {out.data_ptr<std::int64_t>(), out.data_ptr<std::int64_t>() + out.numel()};
  }

  at::Tensor all_to_all(const at::Tensor& send, const std::vector<std::int64_t>& send_splits,
                        const std::vector<std::int64_t>& recv_splits) override {
    const std::int64_t rows = std::accumulate(recv_splits.begin(), recv_splits.end(), std::int64_t{0});
    at::Tensor in = send.contiguous();
    at::Tensor out = at::empty({rows, send.size(1)}, send.options());
    std::vector<std::int64_t> out_splits = recv_splits, in_splits = send_splits;
    transport_.wait(transport_.group().alltoall_base(out, in, out_splits, in_splits), "all-to-all");
    return out;
  }

 private:
  GlooTransport& transport_;
};

}  // namespace

std::unique_ptr<Communicator> make_gloo_communicator(GlooTransport& transport) {
  return std::make_unique<GlooCommunicator>(transport);
}

}  // namespace scmoe::engine
