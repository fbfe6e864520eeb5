#include "parallel/gpu_runtime.h"

#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/version.h>

#include <stdexcept>
#include <string>

// Stream::native_handle(), which the lanes need to hand streams to the CUDA module, arrived in 2.1.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define SCMOE_TORCH_CAN_RUN_GPU 1
#else
#define SCMOE_TORCH_CAN_RUN_GPU 0
#endif

namespace scmoe::engine {

namespace {

std::string torch_version() { return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR); }

[[noreturn]] void throw_unsupported() {
  throw std::runtime_error("GPU runs need LibTorch >= 2.1 built with CUDA; this engine was built against LibTorch " +
                           torch_version());
}

}  // namespace

int local_gpu_count(const EngineConfig& c) { return c.world_size > 1 ? 1 : c.gpu_devices; }

c10::Device local_gpu_device(const EngineConfig& c, int local_gpu) {
  const int index = c.world_size > 1 ? c.local_device : local_gpu;
  return {c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index)};
}

std::vector<int> local_ranks(const EngineConfig& c) {
  if (c.world_size > 1) return {c.rank};
  std::vector<int> ranks;
  for (int r = 0; r < c.ep_size; ++r) ranks.push_back(r);
  return ranks;
}

int local_gpu_of(const EngineConfig& c, int rank) {
  return c.device == DeviceType::Cuda && c.world_size == 1 ? rank : 0;
}

c10::Device rank_device(const EngineConfig& c, int rank) {
  if (c.device != DeviceType::Cuda) return at::kCPU;
  return local_gpu_device(c, local_gpu_of(c, rank));
}

std::optional<ConfigError> cuda_device_error(const EngineConfig& c) {
  if (c.device != DeviceType::Cuda) return std::nullopt;
#if !SCMOE_TORCH_CAN_RUN_GPU
  return ConfigError{"device", "GPU runs need LibTorch >= 2.1 built with CUDA; this engine was built against "
                               "LibTorch " + torch_version() + ": use \"cpu\""};
#else
  if (!at::hasCUDA()) {
    return ConfigError{"device", "GPU runs need LibTorch >= 2.1 built with CUDA and a CUDA device: this LibTorch " +
                                     torch_version() + " has no CUDA support or sees no GPU; use \"cpu\""};
  }
  std::shared_ptr<CudaBackend> backend;
  try {
    backend = cuda_backend();
  } catch (const std::exception& e) {
    return ConfigError{"device", e.what()};
  }
  const int found = backend->device_count();
  const int needed = c.world_size > 1 ? c.local_device + 1 : c.gpu_devices;
  if (found < needed) {
    return ConfigError{"device", "the config places ranks on " + std::to_string(needed) +
                                     " GPU(s) of this machine (gpu_devices / local_device) but it has " +
                                     std::to_string(found)};
  }
  return std::nullopt;
#endif
}

std::shared_ptr<CudaBackend> cuda_backend() { return load_cuda_backend(); }

c10::Stream pool_stream(c10::Device device, bool high_priority) {
  const c10::impl::VirtualGuardImpl impl(c10::DeviceType::CUDA);
  return impl.getStreamFromGlobalPool(device, high_priority);
}

c10::Stream current_stream(c10::Device device) {
  const c10::impl::VirtualGuardImpl impl(c10::DeviceType::CUDA);
  return impl.getStream(device);
}

void* native_handle(const c10::Stream& stream) {
#if SCMOE_TORCH_CAN_RUN_GPU
  return stream.native_handle();
#else
  (void)stream;
  throw_unsupported();
#endif
}

}  // namespace scmoe::engine
