#include "nccl_communicator.h"

#include <numeric>
#include <stdexcept>

#include "cuda_error.h"
#include "torch_cuda.h"

namespace scmoe::engine::cuda {

ncclDataType_t nccl_type(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return ncclFloat;
    case at::kBFloat16: return ncclBfloat16;
    case at::kHalf: return ncclHalf;
    case at::kDouble: return ncclDouble;
    case at::kLong: return ncclInt64;
    case at::kInt: return ncclInt32;
    case at::kChar: return ncclInt8;
    case at::kByte:
    case at::kBool: return ncclUint8;  // both one byte; NCCL only copies them
    default: throw std::invalid_argument(std::string("NCCL cannot transfer tensors of dtype ") + c10::toString(type));
  }
}

NcclCommunicator::NcclCommunicator(ncclComm_t comm, int rank, int size, int device, const AbortSignal& abort,
                                   std::chrono::milliseconds timeout)
    : comm_(comm), rank_(rank), size_(size), device_(device), abort_(abort), timeout_(timeout) {
  DeviceGuard guard(device_);
  check_cuda(cudaEventCreateWithFlags(&passed_, cudaEventDisableTiming), "cudaEventCreateWithFlags");
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) ncclCommAbort(comm_);
  if (passed_ != nullptr) cudaEventDestroy(passed_);
  if (pinned_counts_ != nullptr) cudaFreeHost(pinned_counts_);
}

std::string NcclCommunicator::label(const std::string& op) const {
  return "NCCL " + op + " (rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ", GPU " +
         std::to_string(device_) + ")";
}

void NcclCommunicator::abort_comm(const std::string& reason) {
  if (comm_ == nullptr) return;
  ncclCommAbort(comm_);
  comm_ = nullptr;
  aborted_because_ = reason;
}

void NcclCommunicator::fail(const std::string& message) {
  abort_comm(message);
  throw std::runtime_error(message);
}

void NcclCommunicator::fail_cancelled() {
  abort_comm("the run was cancelled");
  throw Cancelled();
}

void NcclCommunicator::check_usable(const std::string& what) {
  if (comm_ == nullptr) throw std::runtime_error(what + ": the communicator was aborted after: " + aborted_because_);
  ncclResult_t state = ncclSuccess;
  const ncclResult_t status = ncclCommGetAsyncError(comm_, &state);
  if (status != ncclSuccess) fail(nccl_message(what + ": ncclCommGetAsyncError", status, comm_));
  if (state == ncclInProgress) wait_enqueued(what);
  else if (state != ncclSuccess) fail(nccl_message(what + ": an earlier operation", state, comm_));
}

void NcclCommunicator::wait_enqueued(const std::string& what) {
  ncclResult_t state = ncclInProgress;
  const PollEnd end = poll_until(
      [&] {
        const ncclResult_t status = ncclCommGetAsyncError(comm_, &state);
        if (status != ncclSuccess) state = status;
        return state != ncclInProgress;
      },
      &abort_, deadline());
  if (end == PollEnd::Aborted) fail_cancelled();
  if (end == PollEnd::TimedOut) {
    fail(what + ": NCCL did not finish enqueueing within " + duration_text(timeout_) + "; communicator aborted");
  }
  if (state != ncclSuccess) fail(nccl_message(what, state, comm_));
}

void NcclCommunicator::wait_stream(cudaStream_t stream, const std::string& what) {
  check_cuda(cudaEventRecord(passed_, stream), what + ": cudaEventRecord");
  cudaError_t query = cudaErrorNotReady;
  ncclResult_t state = ncclSuccess;
  const PollEnd end = poll_until(
      [&] {
        query = cudaEventQuery(passed_);
        if (query != cudaErrorNotReady) return true;
        // A failed peer shows up here while our kernels wait for it.
        const ncclResult_t status = ncclCommGetAsyncError(comm_, &state);
        if (status != ncclSuccess) state = status;
        return state != ncclSuccess && state != ncclInProgress;
      },
      &abort_, deadline());
  if (end == PollEnd::Aborted) fail_cancelled();
  if (end == PollEnd::TimedOut) {
    fail(what + ": the GPU did not get through the transfer within " + duration_text(timeout_) +
         " (a peer rank stopped or is far behind); communicator aborted");
  }
  if (query != cudaSuccess && query != cudaErrorNotReady) {
    fail(what + " failed on the GPU: " + cudaGetErrorName(query) + ": " + cudaGetErrorString(query));
  }
  if (state != ncclSuccess && state != ncclInProgress) fail(nccl_message(what, state, comm_));
}

void NcclCommunicator::send_recv(const void* send, void* recv, const std::vector<std::size_t>& send_counts,
                                 const std::vector<std::size_t>& recv_counts, ncclDataType_t type,
                                 std::size_t element_bytes, cudaStream_t stream, const std::string& what) {
  const ncclResult_t start = ncclGroupStart();
  if (start != ncclSuccess) fail(nccl_message(what + ": ncclGroupStart", start, comm_));
  // Every call between start and end must run so the group stays balanced; the first failure is reported.
  ncclResult_t status = ncclSuccess;
  std::size_t send_offset = 0;
  std::size_t recv_offset = 0;
  for (int peer = 0; peer < size_; ++peer) {
    const std::size_t out = send_counts[std::size_t(peer)];
    const std::size_t in = recv_counts[std::size_t(peer)];
    if (out > 0 && nccl_ok(status)) {
      status = ncclSend(static_cast<const char*>(send) + send_offset * element_bytes, out, type, peer, comm_, stream);
    }
    if (in > 0 && nccl_ok(status)) {
      status = ncclRecv(static_cast<char*>(recv) + recv_offset * element_bytes, in, type, peer, comm_, stream);
    }
    send_offset += out;
    recv_offset += in;
  }
  const ncclResult_t end = ncclGroupEnd();
  if (!nccl_ok(status)) fail(nccl_message(what + ": ncclSend/ncclRecv", status, comm_));
  if (!nccl_ok(end)) fail(nccl_message(what + ": ncclGroupEnd", end, comm_));
  wait_enqueued(what);
}

void NcclCommunicator::barrier() {
  // An all-to-all completes on a rank only once every peer has sent to it, so zero counts make a barrier.
  exchange_counts(std::vector<std::int64_t>(std::size_t(size_), 0));
}

std::vector<std::int64_t> NcclCommunicator::exchange_counts(const std::vector<std::int64_t>& send) {
  const std::string what = label("exchange_counts");
  if (send.empty() || send.size() % std::size_t(size_) != 0) {
    throw std::invalid_argument(what + ": " + std::to_string(send.size()) + " counts do not split into " +
                                std::to_string(size_) + " equal blocks");
  }
  check_usable(what);
  const std::size_t n = send.size();
  DeviceGuard guard(device_);
  const CurrentStream stream = current_stream(device_);
  if (pinned_capacity_ < 2 * n) {
    if (pinned_counts_ != nullptr) check_cuda(cudaFreeHost(pinned_counts_), what + ": cudaFreeHost");
    pinned_counts_ = nullptr;
    pinned_capacity_ = 0;
    check_cuda(cudaMallocHost(&pinned_counts_, 2 * n * sizeof(std::int64_t)), what + ": cudaMallocHost");
    pinned_capacity_ = 2 * n;
  }
  std::int64_t* host_out = pinned_counts_;
  std::int64_t* host_in = pinned_counts_ + n;
  std::copy(send.begin(), send.end(), host_out);

  // Allocated on the comm stream by the caching allocator, like every tensor of this lane.
  const at::Tensor device_counts =
      at::empty({2 * std::int64_t(n)}, at::TensorOptions().dtype(at::kLong).device(at::kCUDA, device_));
  std::int64_t* device_out = device_counts.data_ptr<std::int64_t>();
  std::int64_t* device_in = device_out + n;
  const std::size_t bytes = n * sizeof(std::int64_t);
  check_cuda(cudaMemcpyAsync(device_out, host_out, bytes, cudaMemcpyHostToDevice, stream.handle),
             what + ": copy to the GPU");
  const std::vector<std::size_t> block(std::size_t(size_), n / std::size_t(size_));
  send_recv(device_out, device_in, block, block, ncclInt64, sizeof(std::int64_t), stream.handle, what);
  check_cuda(cudaMemcpyAsync(host_in, device_in, bytes, cudaMemcpyDeviceToHost, stream.handle),
             what + ": copy to the host");
  wait_stream(stream.handle, what);
  return {host_in, host_in + n};
}

at::Tensor NcclCommunicator::all_to_all(const at::Tensor& send, const std::vector<std::int64_t>& send_splits,
                                        const std::vector<std::int64_t>& recv_splits) {
  const std::string what = label("all_to_all");
  if (send_splits.size() != std::size_t(size_) || recv_splits.size() != std::size_t(size_)) {
    throw std::invalid_argument(what + ": need one split per rank (" + std::to_string(size_) + "), got " +
                                std::to_string(send_splits.size()) + " send and " +
                                std::to_string(recv_splits.size()) + " receive splits");
  }
  for (std::size_t p = 0; p < send_splits.size(); ++p) {
    if (send_splits[p] < 0 || recv_splits[p] < 0) throw std::invalid_argument(what + ": negative split");
  }
  if (send.dim() < 1) throw std::invalid_argument(what + ": the rows to send need at least one dimension");
  const std::int64_t send_rows = std::accumulate(send_splits.begin(), send_splits.end(), std::int64_t{0});
  if (send_rows != send.size(0)) {
    throw std::invalid_argument(what + ": send splits add up to " + std::to_string(send_rows) + " rows, tensor has " +
                                std::to_string(send.size(0)));
  }
  if (!send.is_cuda() || send.get_device() != device_) {
    throw std::invalid_argument(what + ": the rows must be on cuda:" + std::to_string(device_) + ", they are on " +
                                send.device().str());
  }
  const ncclDataType_t type = nccl_type(send.scalar_type());
  check_usable(what);

  DeviceGuard guard(device_);
  const CurrentStream stream = current_stream(device_);
  // contiguous() and empty() run on (and allocate for) the current stream: the comm lane's.
  const at::Tensor rows = send.contiguous();
  std::vector<std::int64_t> shape = rows.sizes().vec();
  const std::int64_t row_elements =
      std::accumulate(shape.begin() + 1, shape.end(), std::int64_t{1}, std::multiplies<std::int64_t>());
  shape[0] = std::accumulate(recv_splits.begin(), recv_splits.end(), std::int64_t{0});
  at::Tensor out = at::empty(shape, rows.options());

  std::vector<std::size_t> send_counts(static_cast<std::size_t>(size_));
  std::vector<std::size_t> recv_counts(static_cast<std::size_t>(size_));
  for (std::size_t p = 0; p < send_counts.size(); ++p) {
    send_counts[p] = std::size_t(send_splits[p] * row_elements);
    recv_counts[p] = std::size_t(recv_splits[p] * row_elements);
  }
  send_recv(rows.data_ptr(), out.data_ptr(), send_counts, recv_counts, type, std::size_t(rows.element_size()),
            stream.handle, what);
  record_on_stream(rows, stream.stream);
  return out;
}

}  // namespace scmoe::engine::cuda
