// The NCCL communicator of the CUDA engine module on real GPUs, used the way the comm lane uses it: a
// high-priority LibTorch stream made current, then exchange_counts and all_to_all. Results are compared
// with CPU slices of the inputs (fresh random rows, outputs poisoned with NaN first). One GPU runs the
// 1-rank tests (NCCL self send/recv); the unequal-split test needs two. Skipped (with the reason) without
// a CUDA device or without a LibTorch that can run on it.
#include <ATen/ATen.h>
#include <arpa/inet.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <functional>
#include <limits>
#include <thread>

#include "parallel/cuda_backend.h"
#include "error_message.h"

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define SCMOE_TEST_NATIVE_STREAMS 1
#else
#define SCMOE_TEST_NATIVE_STREAMS 0
#endif

namespace scmoe::engine {
namespace {

// What the comm lane makes current: a high-priority stream from LibTorch's pool.
c10::Stream comm_stream(int device) {
  const c10::impl::VirtualGuardImpl impl(c10::DeviceType::CUDA);
  return impl.getStreamFromGlobalPool(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(device)),
                                      /*isHighPriority=*/true);
}

cudaStream_t native(const c10::Stream& stream) {
#if SCMOE_TEST_NATIVE_STREAMS
  return static_cast<cudaStream_t>(stream.native_handle());
#else
  (void)stream;
  return nullptr;  // not reached: the fixture skips with this LibTorch
#endif
}

at::TensorOptions on_gpu(int device, at::ScalarType dtype) {
  return at::TensorOptions().dtype(dtype).device(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device)));
}

// The caching allocator gives a freed block to the next allocation of the same size on the same stream:
// filling one with NaN and freeing it makes any row all_to_all leaves unwritten show up as NaN.
void poison_next_allocation(std::int64_t rows, std::int64_t cols, at::ScalarType dtype, int device) {
  at::full({rows, cols}, std::numeric_limits<float>::quiet_NaN(), on_gpu(device, dtype));
}

// Exact comparison in float (bf16 -> float is exact); NaN never equals anything.
void expect_same_rows(const at::Tensor& gpu_result, const at::Tensor& cpu_expected) {
  const at::Tensor got = gpu_result.to(at::kCPU).to(at::kFloat);  // synchronises the current (comm) stream
  ASSERT_EQ(got.sizes().vec(), cpu_expected.sizes().vec());
  EXPECT_TRUE(at::equal(got, cpu_expected.to(at::kFloat)));
}

int free_tcp_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

TEST(NcclGpuErrors, MoreRanksThanGpusIsAClearError) {
  const std::shared_ptr<CudaBackend> backend = load_cuda_backend();
  const int devices = backend->device_count();
  if (devices == 0) GTEST_SKIP() << "no CUDA device (CudaBackend::device_count() == 0)";
  AbortSignal abort;
  const std::string message = error_of([&] { backend->make_local_group(devices + 1, abort); });
  EXPECT_NE(message.find("needs " + std::to_string(devices + 1) + " GPUs"), std::string::npos) << message;
  EXPECT_NE(message.find("CUDA sees " + std::to_string(devices)), std::string::npos) << message;
}

class NcclGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = load_cuda_backend();
    devices_ = backend_->device_count();
    if (devices_ == 0) GTEST_SKIP() << "no CUDA device (CudaBackend::device_count() == 0)";
#if !SCMOE_TEST_NATIVE_STREAMS
    GTEST_SKIP() << "GPU runs need LibTorch >= 2.1 built with CUDA; this is LibTorch " << TORCH_VERSION_MAJOR << "."
                 << TORCH_VERSION_MINOR;
#endif
    if (!at::hasCUDA()) GTEST_SKIP() << "GPU runs need LibTorch >= 2.1 built with CUDA; this LibTorch has no CUDA";
  }

  std::shared_ptr<CudaBackend> backend_;
  int devices_ = 0;
  AbortSignal abort_;
};

TEST_F(NcclGpu, OneRankAllToAllMovesTheRows) {
  std::vector<std::unique_ptr<Communicator>> group = backend_->make_local_group(1, abort_);
  ASSERT_EQ(group.size(), 1u);
  Communicator& comm = *group[0];
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  EXPECT_FALSE(comm.emulated());
  const c10::StreamGuard on_comm_stream(comm_stream(0));

  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    const at::Tensor rows = at::randn({37, 24}).to(dtype);
    poison_next_allocation(37, 24, dtype, 0);
    expect_same_rows(comm.all_to_all(rows.to(on_gpu(0, dtype)), {37}, {37}), rows);

    // A transposed view is not contiguous: its rows must arrive as rows, not as the storage order.
    const at::Tensor view = rows.to(on_gpu(0, dtype)).t();
    poison_next_allocation(24, 37, dtype, 0);
    expect_same_rows(comm.all_to_all(view, {24}, {24}), rows.t());

    // No rows at all (an expert slot nobody routed to).
    const at::Tensor none = comm.all_to_all(at::empty({0, 24}, on_gpu(0, dtype)), {0}, {0});
    EXPECT_EQ(none.sizes().vec(), (std::vector<std::int64_t>{0, 24}));
    EXPECT_EQ(none.scalar_type(), dtype);
    EXPECT_TRUE(none.is_cuda());
  }
}

TEST_F(NcclGpu, OneRankExchangeCountsAndBarrier) {
  std::vector<std::unique_ptr<Communicator>> group = backend_->make_local_group(1, abort_);
  Communicator& comm = *group[0];
  const c10::StreamGuard on_comm_stream(comm_stream(0));
  EXPECT_EQ(comm.exchange_counts({5, 0, 11}), (std::vector<std::int64_t>{5, 0, 11}));
  EXPECT_EQ(comm.exchange_counts({-3}), (std::vector<std::int64_t>{-3}));
  comm.barrier();
  EXPECT_THROW(comm.exchange_counts({}), std::invalid_argument);
}

TEST_F(NcclGpu, AllToAllRejectsWrongInputs) {
  std::vector<std::unique_ptr<Communicator>> group = backend_->make_local_group(1, abort_);
  Communicator& comm = *group[0];
  const c10::StreamGuard on_comm_stream(comm_stream(0));
  const std::string host = error_of([&] { comm.all_to_all(at::zeros({4, 2}), {4}, {4}); });
  EXPECT_NE(host.find("must be on cuda:0"), std::string::npos) << host;
  const at::Tensor rows = at::zeros({4, 2}, on_gpu(0, at::kFloat));
  EXPECT_NE(error_of([&] { comm.all_to_all(rows, {3}, {3}); }).find("add up to 3 rows"), std::string::npos);
  EXPECT_NE(error_of([&] { comm.all_to_all(rows, {2, 2}, {4}); }).find("one split per rank"), std::string::npos);
  const at::Tensor complex_rows = at::zeros({4, 2}, on_gpu(0, at::kComplexFloat));
  EXPECT_NE(error_of([&] { comm.all_to_all(complex_rows, {4}, {4}); }).find("NCCL cannot transfer"),
            std::string::npos);
}

TEST_F(NcclGpu, TwoRanksUnequalSplitsWithAnEmptyOne) {
  if (devices_ < 2) GTEST_SKIP() << "needs 2 GPUs (NCCL runs one rank per GPU), CUDA sees " << devices_;
  std::vector<std::unique_ptr<Communicator>> group = backend_->make_local_group(2, abort_);
  ASSERT_EQ(group.size(), 2u);
  constexpr std::int64_t kCols = 6;
  // Rank 0 sends 2 rows to itself and 3 to rank 1; rank 1 sends none to rank 0 and 4 to itself.
  const std::vector<std::vector<std::int64_t>> send_splits = {{2, 3}, {0, 4}};
  const std::vector<std::vector<std::int64_t>> recv_splits = {{2, 0}, {3, 4}};
  const std::vector<at::Tensor> rows = {at::randn({5, kCols}), at::randn({4, kCols})};
  const std::vector<at::Tensor> expected = {rows[0].slice(0, 0, 2),
                                            at::cat({rows[0].slice(0, 2, 5), rows[1].slice(0, 0, 4)})};

  std::vector<at::Tensor> results(2);
  std::vector<std::vector<std::int64_t>> counts(2);
  std::vector<std::string> errors(2);
  std::vector<std::thread> lanes;
  for (int rank = 0; rank < 2; ++rank) {
    // One thread per rank, as the engine's comm lanes: NCCL needs both sides of a transfer issued at once.
    lanes.emplace_back([&, rank] {
      try {
        const c10::StreamGuard on_comm_stream(comm_stream(rank));
        counts[rank] = group[rank]->exchange_counts(send_splits[rank]);
        poison_next_allocation(std::max<std::int64_t>(1, expected[rank].size(0)), kCols, at::kFloat, rank);
        results[rank] = group[rank]->all_to_all(rows[rank].to(on_gpu(rank, at::kFloat)), send_splits[rank],
                                                recv_splits[rank]).to(at::kCPU);
      } catch (const std::exception& e) {
        errors[rank] = e.what();
        abort_.trigger();  // the other rank's waits end too
      }
    });
  }
  for (std::thread& lane : lanes) lane.join();
  for (int rank = 0; rank < 2; ++rank) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    ASSERT_EQ(errors[rank], "");
    EXPECT_EQ(counts[rank], recv_splits[rank]);
    ASSERT_EQ(results[rank].sizes().vec(), expected[rank].sizes().vec());
    EXPECT_TRUE(at::equal(results[rank], expected[rank]));
  }
}

TEST_F(NcclGpu, CancelDuringAWaitAbortsTheCommunicator) {
  std::vector<std::unique_ptr<Communicator>> group = backend_->make_local_group(1, abort_);
  Communicator& comm = *group[0];
  const c10::Stream stream = comm_stream(0);
  const c10::StreamGuard on_comm_stream(stream);
  // The stream is busy for 300 ms, so exchange_counts is still waiting when it sees the cancel.
  backend_->enqueue_delay(native(stream), 300'000'000);
  abort_.trigger();
  EXPECT_THROW(comm.exchange_counts({1}), Cancelled);
  const std::string after = error_of([&] { comm.exchange_counts({1}); });
  EXPECT_NE(after.find("aborted after: the run was cancelled"), std::string::npos) << after;
  // The aborted communicator must not leave the stream stuck behind its transfer, nor fault it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (cudaStreamQuery(native(stream)) == cudaErrorNotReady && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(cudaStreamQuery(native(stream)), cudaSuccess);
}

TEST_F(NcclGpu, InitTimeoutIsAnErrorNotAHang) {
  backend_->set_timeout(std::chrono::milliseconds(1));  // far below any NCCL initialisation
  const std::string message = error_of([&] { backend_->make_local_group(1, abort_); });
  backend_->set_timeout(std::chrono::seconds(120));  // the backend is per process: restore the default
  EXPECT_NE(message.find("not every rank joined within 1 ms"), std::string::npos) << message;
}

TEST_F(NcclGpu, DistributedRankThroughTcpStoreRendezvous) {
  const int port = free_tcp_port();
  ASSERT_GT(port, 0);
  // World of one: rank 0 serves the id from its TCPStore and reads nothing back, but the whole path runs:
  // store, id, non-blocking rank init, then traffic.
  std::unique_ptr<Communicator> comm = backend_->make_distributed("127.0.0.1", port, 1, 0, 0, abort_);
  ASSERT_NE(comm, nullptr);
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  const c10::StreamGuard on_comm_stream(comm_stream(0));
  EXPECT_EQ(comm->exchange_counts({9}), (std::vector<std::int64_t>{9}));
  const at::Tensor rows = at::randn({8, 3});
  poison_next_allocation(8, 3, at::kFloat, 0);
  expect_same_rows(comm->all_to_all(rows.to(on_gpu(0, at::kFloat)), {8}, {8}), rows);
}

}  // namespace
}  // namespace scmoe::engine
