// What the module needs from LibTorch's CUDA side, through the device-generic c10 interfaces only (no
// libc10_cuda to link): the calling thread's current stream as a cudaStream_t, and telling the caching
// allocator that a tensor is in use on a stream. Stream::native_handle() exists from LibTorch 2.1 on; with
// an older or CUDA-less LibTorch every GPU entry point fails with one clear message instead.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/Stream.h>
#include <cuda_runtime.h>

namespace scmoe::engine::cuda {

// Throws "GPU runs need LibTorch >= 2.1 built with CUDA ..." unless this LibTorch can run them.
void require_torch_cuda();

struct CurrentStream {
  c10::Stream stream;
  cudaStream_t handle;
};
// The stream LibTorch considers current on `device` for this thread (the lane's, set by its StreamGuard).
CurrentStream current_stream(int device);

// The caching allocator must not hand `tensor`'s memory to another stream before the work enqueued on
// `stream` that reads it (an NCCL send) has finished, even if the tensor's last owner drops it at once.
void record_on_stream(const at::Tensor& tensor, const c10::Stream& stream);

}  // namespace scmoe::engine::cuda
