// A small GPU program for the CUPTI collector test: a compute kernel on one stream and a 1-rank NCCL
// send/recv on another, the NCCL call inside an NVTX range named like the engine's dispatch range.
#pragma once

#include <cstdint>
#include <string>

namespace scmoe::gputest {

struct TwoStreamWorkload {
  std::string error;                 // non-empty when a CUDA/NCCL call failed (names the call)
  std::uint32_t compute_stream_id = 0;  // CUPTI stream ids (cuptiGetStreamIdEx)
  std::uint32_t comm_stream_id = 0;
  int compute_launches = 0;
};

// The compute kernel's name as CUPTI reports it after demangling.
inline constexpr const char* kComputeKernelName = "scale_kernel(float*, int, float)";
inline constexpr const char* kDispatchRangeName = "scmoe:dispatch";

TwoStreamWorkload run_two_stream_workload();

}  // namespace scmoe::gputest
