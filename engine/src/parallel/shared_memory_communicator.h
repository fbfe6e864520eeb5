// In-process ranks (threads) exchanging through shared memory: each rank posts its outgoing blocks in a
// mailbox, all ranks meet at a barrier, each copies in what was posted for it, and a second barrier lets
// the senders reuse their buffers. The barrier is cancellable through the run's AbortSignal.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>

#include "parallel/abort_signal.h"
#include "parallel/communicator.h"

namespace scmoe::engine {

class SharedMemoryGroup {
 public:
  SharedMemoryGroup(int size, const AbortSignal& abort);
  int size() const { return size_; }
  std::unique_ptr<Communicator> communicator(int rank);

 private:
  friend class SharedMemoryCommunicator;
  void barrier();

  int size_;
  const AbortSignal& abort_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int arrived_ = 0;
  std::uint64_t generation_ = 0;
  // mailbox[src * size + dst]: what src posted for dst in the current exchange.
  std::vector<at::Tensor> rows_;
  std::vector<std::vector<std::int64_t>> counts_;
};

}  // namespace scmoe::engine
