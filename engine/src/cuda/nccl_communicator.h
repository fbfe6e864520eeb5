// One rank's expert-parallel communicator over NCCL. Everything is issued on the calling thread's current
// LibTorch stream of the rank's device (the comm lane sets it), asynchronously: all_to_all returns once
// the grouped ncclSend/ncclRecv are enqueued. exchange_counts and barrier wait on the host for that stream
// only, by polling, so an NCCL error, a dead peer, the timeout or the run's AbortSignal ends the wait: the
// communicator is then aborted (ncclCommAbort) and the error thrown; later calls fail with the reason.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <string>

#include "parallel/abort_signal.h"
#include "parallel/communicator.h"
#include "poll.h"

namespace scmoe::engine::cuda {

// NCCL's element type for a tensor's dtype; throws for dtypes NCCL cannot move.
ncclDataType_t nccl_type(at::ScalarType type);

class NcclCommunicator final : public Communicator {
 public:
  // Takes ownership of `comm`, whose non-blocking initialisation has completed.
  NcclCommunicator(ncclComm_t comm, int rank, int size, int device, const AbortSignal& abort,
                   std::chrono::milliseconds timeout);
  // Aborts rather than destroys: ncclCommDestroy may wait for peers, which may be gone after a failure,
  // and communicators of one process are destroyed one after the other (a collective teardown would wait
  // for the next one). By then the run has synchronised its streams, so nothing useful is cut short.
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int device() const { return device_; }
  void barrier() override;
  std::vector<std::int64_t> exchange_counts(const std::vector<std::int64_t>& send) override;
  at::Tensor all_to_all(const at::Tensor& send, const std::vector<std::int64_t>& send_splits,
                        const std::vector<std::int64_t>& recv_splits) override;

 private:
  // Grouped point-to-point transfer: counts[p] elements to and from each peer p, consecutive in the
  // buffers; peers with a zero count are skipped (the peer skips the matching call too).
  void send_recv(const void* send, void* recv, const std::vector<std::size_t>& send_counts,
                 const std::vector<std::size_t>& recv_counts, ncclDataType_t type, std::size_t element_bytes,
                 cudaStream_t stream, const std::string& what);
  // After an enqueue that may have answered ncclInProgress: polls until NCCL has enqueued everything.
  void wait_enqueued(const std::string& what);
  // Host wait until `stream` has passed everything enqueued so far.
  void wait_stream(cudaStream_t stream, const std::string& what);
  // Throws if an earlier asynchronous NCCL error is pending or the communicator was aborted.
  void check_usable(const std::string& what);
  // Aborts the communicator, remembers why, and throws `message` (Cancelled when the run was cancelled).
  [[noreturn]] void fail(const std::string& message);
  [[noreturn]] void fail_cancelled();
  void abort_comm(const std::string& reason);
  std::string label(const std::string& op) const;
  Clock::time_point deadline() const { return Clock::now() + timeout_; }

  ncclComm_t comm_;
  int rank_;
  int size_;
  int device_;
  const AbortSignal& abort_;
  std::chrono::milliseconds timeout_;
  std::string aborted_because_;
  cudaEvent_t passed_ = nullptr;           // recorded on the stream for host waits (no timing)
  std::int64_t* pinned_counts_ = nullptr;  // page-locked: the counts' copies stay asynchronous
  std::size_t pinned_capacity_ = 0;        // elements; the first half goes out, the second half comes back
};

}  // namespace scmoe::engine::cuda
