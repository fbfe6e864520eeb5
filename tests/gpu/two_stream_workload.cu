#include "two_stream_workload.h"

#include <cuda_runtime.h>
#include <cupti.h>
#include <nccl.h>
#include <nvtx3/nvToolsExt.h>

namespace scmoe::gputest {

namespace {

__global__ void scale_kernel(float* x, int n, float a) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    float v = x[i];
    for (int k = 0; k < 256; ++k) v = v * a + 1.0f;  // long enough to be clearly ordered on the stream
    x[i] = v;
  }
}

#define SCMOE_CHECK_CUDA(call)                                                      \
  do {                                                                              \
    const cudaError_t e = (call);                                                   \
    if (e != cudaSuccess) return std::string(#call) + ": " + cudaGetErrorString(e); \
  } while (0)
#define SCMOE_CHECK_NCCL(call)                                                      \
  do {                                                                              \
    const ncclResult_t e = (call);                                                  \
    if (e != ncclSuccess) return std::string(#call) + ": " + ncclGetErrorString(e); \
  } while (0)

std::string run(TwoStreamWorkload& out) {
  constexpr int kN = 1 << 20;
  SCMOE_CHECK_CUDA(cudaSetDevice(0));
  cudaStream_t compute = nullptr, comm = nullptr;
  SCMOE_CHECK_CUDA(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
  SCMOE_CHECK_CUDA(cudaStreamCreateWithFlags(&comm, cudaStreamNonBlocking));
  float *x = nullptr, *send = nullptr, *recv = nullptr;
  SCMOE_CHECK_CUDA(cudaMalloc(&x, kN * sizeof(float)));
  SCMOE_CHECK_CUDA(cudaMalloc(&send, kN * sizeof(float)));
  SCMOE_CHECK_CUDA(cudaMalloc(&recv, kN * sizeof(float)));
  SCMOE_CHECK_CUDA(cudaMemsetAsync(x, 0, kN * sizeof(float), compute));

  ncclComm_t nccl = nullptr;
  int devices[1] = {0};
  SCMOE_CHECK_NCCL(ncclCommInitAll(&nccl, 1, devices));

  for (int i = 0; i < 2; ++i) {
    scale_kernel<<<(kN + 255) / 256, 256, 0, compute>>>(x, kN, 1.0001f);
    SCMOE_CHECK_CUDA(cudaGetLastError());
    ++out.compute_launches;
  }
  nvtxRangePushA(kDispatchRangeName);
  SCMOE_CHECK_NCCL(ncclGroupStart());
  SCMOE_CHECK_NCCL(ncclSend(send, kN, ncclFloat, 0, nccl, comm));
  SCMOE_CHECK_NCCL(ncclRecv(recv, kN, ncclFloat, 0, nccl, comm));
  SCMOE_CHECK_NCCL(ncclGroupEnd());
  nvtxRangePop();
  SCMOE_CHECK_CUDA(cudaStreamSynchronize(compute));
  SCMOE_CHECK_CUDA(cudaStreamSynchronize(comm));

  // CUPTI's own stream ids, the ones its activity records carry (null context: no driver API needed).
  if (cuptiGetStreamIdEx(nullptr, compute, 0, &out.compute_stream_id) != CUPTI_SUCCESS ||
      cuptiGetStreamIdEx(nullptr, comm, 0, &out.comm_stream_id) != CUPTI_SUCCESS) {
    return "cuptiGetStreamIdEx failed";
  }
  ncclCommDestroy(nccl);
  cudaFree(x);
  cudaFree(send);
  cudaFree(recv);
  cudaStreamDestroy(compute);
  cudaStreamDestroy(comm);
  return {};
}

}  // namespace

TwoStreamWorkload run_two_stream_workload() {
  TwoStreamWorkload out;
  out.error = run(out);
  return out;
}

}  // namespace scmoe::gputest
