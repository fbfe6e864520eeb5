// The emulated link's time on the GPU: a one-thread kernel that spins on the global nanosecond timer, so
// the stream it runs on is busy for the modelled time while other streams (compute) keep running.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace scmoe::engine::cuda {

// Enqueues the spin on `stream` (current device = the stream's device) and returns the launch status
// without waiting for it. ns <= 0 launches nothing.
cudaError_t launch_delay_kernel(cudaStream_t stream, std::int64_t ns);

}  // namespace scmoe::engine::cuda
