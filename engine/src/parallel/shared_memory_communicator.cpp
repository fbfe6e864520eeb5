#include "parallel/shared_memory_communicator.h"

#include <stdexcept>
#include <string>

namespace scmoe::engine {

class SharedMemoryCommunicator final : public Communicator {
 public:
  SharedMemoryCommunicator(SharedMemoryGroup& group, int rank) : group_(group), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_.size_; }
  void barrier() override { group_.barrier(); }

  std::vector<std::int64_t> exchange_counts(const std::vector<std::int64_t>& send) override {
    const int n = group_.size_;
    if (send.size() % static_cast<std::size_t>(n) != 0) {
      throw std::invalid_argument("exchange_counts: " + std::to_string(send.size()) +
                                  " counts do not split into " + std::to_string(n) + " equal blocks");
    }
    const std::size_t block = send.size() / static_cast<std::size_t>(n);
    for (int d = 0; d < n; ++d) {
      group_.counts_[slot(rank_, d)].assign(send.begin() + static_cast<std::ptrdiff_t>(block * d),
                                            send.begin() + static_cast<std::ptrdiff_t>(block * (d + 1)));
    }
    group_.barrier();
    std::vector<std::int64_t> received;
    for (int s = 0; s < n; ++s) {
      const auto& posted = group_.counts_[slot(s, rank_)];
      received.insert(received.end(), posted.begin(), posted.end());
    }
    group_.barrier();
    return received;
  }

  at::Tensor all_to_all(const at::Tensor& send, const std::vector<std::int64_t>& send_splits,
                        const std::vector<std::int64_t>& recv_splits) override {
    const int n = group_.size_;
    std::int64_t offset = 0;
    for (int d = 0; d < n; ++d) {
      group_.rows_[slot(rank_, d)] = send.narrow(0, offset, send_splits[static_cast<std::size_t>(d)]);
      offset += send_splits[static_cast<std::size_t>(d)];
    }
    group_.barrier();
    std::vector<at::Tensor> parts;
    for (int s = 0; s < n; ++s) {
      const at::Tensor& posted = group_.rows_[slot(s, rank_)];
      if (posted.size(0) != recv_splits[static_cast<std::size_t>(s)]) {
        throw std::runtime_error("all_to_all: rank " + std::to_string(s) + " sent " + std::to_string(posted.size(0)) +
                                 " rows to rank " + std::to_string(rank_) + ", expected " +
                                 std::to_string(recv_splits[static_cast<std::size_t>(s)]));
      }
      parts.push_back(posted);
    }
    at::Tensor received = at::cat(parts, 0);  // the copy out of the senders' memory
    group_.barrier();
    for (int d = 0; d < n; ++d) group_.rows_[slot(rank_, d)] = at::Tensor();
    return received;
  }

 private:
  std::size_t slot(int src, int dst) const { return static_cast<std::size_t>(src * group_.size_ + dst); }

  SharedMemoryGroup& group_;
  int rank_;
};

SharedMemoryGroup::SharedMemoryGroup(int size, const AbortSignal& abort)
    : size_(size),
      abort_(abort),
      rows_(static_cast<std::size_t>(size * size)),
      counts_(static_cast<std::size_t>(size * size)) {}

std::unique_ptr<Communicator> SharedMemoryGroup::communicator(int rank) {
  return std::make_unique<SharedMemoryCommunicator>(*this, rank);
}

void SharedMemoryGroup::barrier() {
  std::unique_lock lock(mutex_);
  const std::uint64_t generation = generation_;
  if (++arrived_ == size_) {
    arrived_ = 0;
    ++generation_;
    cv_.notify_all();
    return;
  }
  while (generation_ == generation) {
    if (abort_.triggered()) {
      --arrived_;
      throw Cancelled();
    }
    cv_.wait_for(lock, AbortSignal::kPollInterval);
  }
}

}  // namespace scmoe::engine
