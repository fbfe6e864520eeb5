// The CUDA engine module's device-side tools on a real GPU: the emulated link's delay kernel holds a stream
// for the requested time without blocking the host or other streams, and the timing events measure what
// raw CUDA events measure. Times are checked against CUDA events and the host clock, not against the
// module itself. Skipped (with the reason) where there is no CUDA device.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <chrono>

#include "parallel/cuda_backend.h"

namespace scmoe::engine {
namespace {

#define ASSERT_CUDA(call)                                                        \
  do {                                                                           \
    const cudaError_t status_ = (call);                                          \
    ASSERT_EQ(status_, cudaSuccess) << #call << ": " << cudaGetErrorString(status_); \
  } while (0)

class CudaBackendGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = load_cuda_backend();
    if (backend_->device_count() == 0) GTEST_SKIP() << "no CUDA device (CudaBackend::device_count() == 0)";
    ASSERT_CUDA(cudaSetDevice(0));
    ASSERT_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    ASSERT_CUDA(cudaEventCreate(&begin_));
    ASSERT_CUDA(cudaEventCreate(&end_));
  }
  void TearDown() override {
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);
    if (begin_ != nullptr) cudaEventDestroy(begin_);
    if (end_ != nullptr) cudaEventDestroy(end_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  // Device time of `ns` of delay on stream_, measured with raw CUDA events.
  float delay_ms(std::int64_t ns) {
    EXPECT_EQ(cudaEventRecord(begin_, stream_), cudaSuccess);
    backend_->enqueue_delay(stream_, ns);
    EXPECT_EQ(cudaEventRecord(end_, stream_), cudaSuccess);
    EXPECT_EQ(cudaEventSynchronize(end_), cudaSuccess);
    float ms = 0;
    EXPECT_EQ(cudaEventElapsedTime(&ms, begin_, end_), cudaSuccess);
    return ms;
  }

  std::shared_ptr<CudaBackend> backend_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t begin_ = nullptr;
  cudaEvent_t end_ = nullptr;
};

TEST_F(CudaBackendGpu, DelayHoldsTheStreamForAtLeastTheRequestedTime) {
  delay_ms(10'000);  // warm-up: module load of the kernel
  for (const std::int64_t ns : {100'000LL, 2'000'000LL, 20'000'000LL}) {
    const float ms = delay_ms(ns);
    // 2 us of slack: %globaltimer ticks in steps of up to a microsecond on some GPUs.
    EXPECT_GE(ms, float(ns) / 1e6f - 0.002f) << ns << " ns";
    // Loose: the spin overshoots by one sleep step and a launch; this guards against a broken time unit.
    EXPECT_LT(ms, float(ns) / 1e6f * 1.2f + 0.2f) << ns << " ns";
  }
  EXPECT_LT(delay_ms(0), 0.2f) << "no delay requested, nothing enqueued";
}

TEST_F(CudaBackendGpu, DelayDoesNotBlockTheHostOrOtherStreams) {
  cudaStream_t other = nullptr;
  ASSERT_CUDA(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking));
  delay_ms(10'000);
  const auto host_before = std::chrono::steady_clock::now();
  backend_->enqueue_delay(stream_, 200'000'000);  // 200 ms
  const auto host_enqueue = std::chrono::steady_clock::now() - host_before;
  ASSERT_CUDA(cudaEventRecord(end_, stream_));
  backend_->enqueue_delay(other, 1'000'000);
  ASSERT_CUDA(cudaStreamSynchronize(other));
  EXPECT_EQ(cudaEventQuery(end_), cudaErrorNotReady) << "the other stream finished while the delay still runs";
  EXPECT_LT(host_enqueue, std::chrono::milliseconds(50)) << "enqueue_delay returned only after the delay";
  ASSERT_CUDA(cudaStreamSynchronize(stream_));
  cudaStreamDestroy(other);
}

TEST_F(CudaBackendGpu, TimingEventsMeasureWhatCudaEventsMeasure) {
  void* begin = backend_->create_timing_event();
  void* end = backend_->create_timing_event();
  delay_ms(10'000);
  ASSERT_CUDA(cudaEventRecord(begin_, stream_));
  backend_->record_timing_event(begin, stream_);
  backend_->enqueue_delay(stream_, 5'000'000);
  backend_->record_timing_event(end, stream_);
  ASSERT_CUDA(cudaEventRecord(end_, stream_));
  const float measured = backend_->elapsed_ms(begin, end);  // synchronises `end` itself
  float reference = 0;
  ASSERT_CUDA(cudaEventElapsedTime(&reference, begin_, end_));
  EXPECT_GE(measured, 5.0f - 0.002f);
  EXPECT_NEAR(measured, reference, 0.05f);
  backend_->destroy_timing_event(begin);
  backend_->destroy_timing_event(end);
}

TEST_F(CudaBackendGpu, ElapsedOfAnEventNeverRecordedIsAnError) {
  void* begin = backend_->create_timing_event();
  void* end = backend_->create_timing_event();
  EXPECT_THROW(backend_->elapsed_ms(begin, end), std::runtime_error);
  backend_->destroy_timing_event(begin);
  backend_->destroy_timing_event(end);
}

}  // namespace
}  // namespace scmoe::engine
