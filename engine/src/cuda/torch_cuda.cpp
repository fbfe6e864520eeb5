#include "torch_cuda.h"

#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/version.h>

#include <stdexcept>
#include <string>

// Stream::native_handle() arrived in LibTorch 2.1.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define SCMOE_TORCH_HAS_NATIVE_STREAM 1
#else
#define SCMOE_TORCH_HAS_NATIVE_STREAM 0
#endif

namespace scmoe::engine::cuda {

namespace {

[[maybe_unused]] constexpr const char* kTooOld = "too old to hand out CUDA stream handles (c10::Stream::native_handle)";

[[noreturn]] void throw_unsupported(const std::string& why) {
  throw std::runtime_error("GPU runs need LibTorch >= 2.1 built with CUDA: this is LibTorch " +
                           std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + ", " +
                           why);
}

}  // namespace

void require_torch_cuda() {
#if SCMOE_TORCH_HAS_NATIVE_STREAM
  if (!at::hasCUDA()) throw_unsupported("built without CUDA (or no CUDA device is visible to it)");
#else
  throw_unsupported(kTooOld);
#endif
}

CurrentStream current_stream(int device) {
#if SCMOE_TORCH_HAS_NATIVE_STREAM
  const c10::impl::VirtualGuardImpl impl(c10::DeviceType::CUDA);
  const c10::Stream stream = impl.getStream(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(device)));
  return {stream, static_cast<cudaStream_t>(stream.native_handle())};
#else
  (void)device;
  throw_unsupported(kTooOld);
#endif
}

void record_on_stream(const at::Tensor& tensor, const c10::Stream& stream) {
  if (!tensor.has_storage()) return;
  const c10::impl::VirtualGuardImpl impl(c10::DeviceType::CUDA);
  impl.recordDataPtrOnStream(tensor.storage().data_ptr(), stream);
}

}  // namespace scmoe::engine::cuda
