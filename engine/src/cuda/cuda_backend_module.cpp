// libscmoe_engine_cuda: the engine's only code that calls the CUDA runtime or NCCL (see
// parallel/cuda_backend.h). Loaded with dlopen by load_cuda_backend(), so the executables start on
// machines without a GPU driver, CUDA toolkit or NCCL.
#include <atomic>
#include <stdexcept>
#include <string>

#include "cuda_error.h"
#include "delay_kernel.h"
#include "nccl_init.h"
#include "parallel/cuda_backend.h"
#include "poll.h"
#include "rendezvous.h"
#include "torch_cuda.h"

namespace scmoe::engine::cuda {

namespace {

class CudaBackendImpl final : public CudaBackend {
 public:
  int device_count() override {
    int count = 0;
    // No driver, no device or a driver older than the runtime: all mean "no GPU here", not an error.
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return count;
  }

  std::vector<std::unique_ptr<Communicator>> make_local_group(int ranks, const AbortSignal& abort) override {
    const int devices = device_count();
    if (ranks < 1) throw std::invalid_argument("a local NCCL group needs at least 1 rank, got " + std::to_string(ranks));
    if (ranks > devices) {
      throw std::invalid_argument("a local NCCL group of " + std::to_string(ranks) + " ranks needs " +
                                  std::to_string(ranks) + " GPUs (NCCL runs one rank per GPU), but CUDA sees " +
                                  std::to_string(devices) +
                                  "; to play more ranks on fewer GPUs, emulate them with link.emulated_ranks");
    }
    require_torch_cuda();
    return init_local_group(ranks, abort, timeout());
  }

  std::unique_ptr<Communicator> make_distributed(const std::string& host, int port, int world, int rank, int device,
                                                 const AbortSignal& abort) override {
    if (world < 1 || rank < 0 || rank >= world) {
      throw std::invalid_argument("distributed NCCL: rank " + std::to_string(rank) + " is not a rank of a world of " +
                                  std::to_string(world));
    }
    if (port < 1 || port > 65535) throw std::invalid_argument("distributed NCCL: port " + std::to_string(port) + " is not a TCP port");
    const int devices = device_count();
    if (device < 0 || device >= devices) {
      throw std::invalid_argument("distributed NCCL: GPU " + std::to_string(device) + " does not exist (CUDA sees " +
                                  std::to_string(devices) + ")");
    }
    require_torch_cuda();
    const std::chrono::milliseconds limit = timeout();
    return rendezvous(host, port, world, rank, abort, limit, [&](const ncclUniqueId& id) {
      return init_rank(id, world, rank, device, abort, limit);
    });
  }

  void enqueue_delay(void* stream, std::int64_t ns) override {
    if (ns <= 0) return;
    const auto handle = static_cast<cudaStream_t>(stream);
    int device = 0;
    check_cuda(cudaStreamGetDevice(handle, &device), "enqueue_delay: cudaStreamGetDevice");
    DeviceGuard guard(device);
    check_cuda(launch_delay_kernel(handle, ns), "enqueue_delay: launching the delay kernel");
  }

  void set_timeout(std::chrono::milliseconds limit) override {
    if (limit.count() <= 0) throw std::invalid_argument("the NCCL timeout must be positive");
    timeout_ms_.store(limit.count(), std::memory_order_relaxed);
  }

  void* create_timing_event() override {
    cudaEvent_t event = nullptr;
    check_cuda(cudaEventCreate(&event), "create_timing_event: cudaEventCreate");
    return event;
  }

  void record_timing_event(void* event, void* stream) override {
    check_cuda(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)),
               "record_timing_event: cudaEventRecord");
  }

  float elapsed_ms(void* begin, void* end) override {
    // Polled rather than cudaEventSynchronize: behind `end` may sit an NCCL kernel waiting for a peer that
    // died, and the caller must get an error rather than a hang.
    const auto end_event = static_cast<cudaEvent_t>(end);
    cudaError_t query = cudaErrorNotReady;
    const PollEnd waited = poll_until(
        [&] {
          query = cudaEventQuery(end_event);
          return query != cudaErrorNotReady;
        },
        nullptr, Clock::now() + timeout());
    if (waited == PollEnd::TimedOut) {
      throw std::runtime_error("elapsed_ms: the GPU did not reach the end event within " + duration_text(timeout()));
    }
    check_cuda(query, "elapsed_ms: cudaEventQuery");
    float ms = 0.0f;
    check_cuda(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(begin), end_event), "elapsed_ms: cudaEventElapsedTime");
    return ms;
  }

  void destroy_timing_event(void* event) override {
    if (event != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(event));
  }

 private:
  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(timeout_ms_.load(std::memory_order_relaxed)); }

  // Long enough for a multi-node NCCL start-up, short enough that a lost peer is reported in minutes.
  std::atomic<std::int64_t> timeout_ms_{120'000};
};

}  // namespace

}  // namespace scmoe::engine::cuda

extern "C" scmoe::engine::CudaBackend* scmoe_engine_cuda_create() { return new scmoe::engine::cuda::CudaBackendImpl(); }
