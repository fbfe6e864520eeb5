// What the engine needs to run on GPUs besides the CUDA module (cuda_backend.h): where each rank runs,
// whether this build and machine can run device = cuda at all, and CUDA streams through LibTorch's
// device-generic c10 interfaces. Nothing here links CUDA or libc10_cuda, so it compiles against Debian's
// CPU-only LibTorch 1.13, where every GPU entry point fails with one clear message.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/Stream.h>

#include <memory>
#include <optional>

#include "parallel/cuda_backend.h"
#include "scmoe/engine/config.h"

namespace scmoe::engine {

// GPUs of this process (config.h, "GPU runs"): gpu_devices in one process, one with world_size > 1.
int local_gpu_count(const EngineConfig& config);
// The CUDA device of local GPU `local_gpu` (0..local_gpu_count-1).
c10::Device local_gpu_device(const EngineConfig& config, int local_gpu);
// The ranks this process runs: all of them on the CPU and in one process, its own with world_size > 1.
std::vector<int> local_ranks(const EngineConfig& config);
// Which local GPU a rank of this process runs on (0 on the CPU), and its device.
int local_gpu_of(const EngineConfig& config, int rank);
c10::Device rank_device(const EngineConfig& config, int rank);

// The one error (field "device") for device = cuda where it cannot run: LibTorch older than 2.1 or built
// without CUDA, no GPU or driver, the CUDA module missing, or fewer GPUs than the config places ranks on.
// nullopt when it can run, and for device = cpu.
std::optional<ConfigError> cuda_device_error(const EngineConfig& config);

// The process's CUDA backend (the module is loaded once).
std::shared_ptr<CudaBackend> cuda_backend();

// A stream from LibTorch's pool on `device`; the comm lane takes a high-priority one.
c10::Stream pool_stream(c10::Device device, bool high_priority);
// The calling thread's current stream on `device` (a lane's, set by its StreamGuard).
c10::Stream current_stream(c10::Device device);
// The cudaStream_t of a CUDA stream, as void* (c10::Stream::native_handle, LibTorch >= 2.1).
void* native_handle(const c10::Stream& stream);

}  // namespace scmoe::engine
