// The engine's GPU backend, seen from code that must not link CUDA or NCCL. Everything that calls the CUDA
// runtime or NCCL lives in the run-time loaded module libscmoe_engine_cuda.so (engine/src/cuda/), so the
// packaged executables carry no libcudart/libnccl dependency and run unchanged on machines without a GPU.
// This header has no CUDA or NCCL types: streams and events travel as void* (cudaStream_t, cudaEvent_t).
//
// Lookup: an explicit path alone, else $SCMOE_ENGINE_CUDA_MODULE, next to the executable, ../lib/scmoe from
// it, the build tree (SCMOE_ENGINE_CUDA_MODULE_PATH, which engine/src/cuda/CMakeLists.txt sets on
// cuda_backend_loader.cpp: nothing to link for it), then the dynamic linker's search path.
#pragma once

#include "parallel/abort_signal.h"
#include "parallel/communicator.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace scmoe::engine {

class CudaBackend {  // one per process, from load_cuda_backend()
 public:
  virtual ~CudaBackend() = default;
  // 0 when there is no GPU or no driver (never throws for that).
  virtual int device_count() = 0;
  // NCCL communicators for `ranks` local GPUs in this process (ranks 0..ranks-1 on devices 0..ranks-1;
  // ranks == 1 gives a 1-rank communicator). Non-blocking init, async error polling and ncclCommAbort on
  // error, timeout or `abort`: errors surface as exceptions naming the NCCL error, never a hang.
  // `abort` must outlive the communicators.
  // Streams: a communicator issues on the calling thread's current LibTorch stream (the comm lane's). It
  // marks the rows passed to all_to_all as used on that stream; the tensor all_to_all returns is allocated
  // on it, so a consumer on another stream must mark it used there too
  // (c10::impl::VirtualGuardImpl::recordDataPtrOnStream) before dropping it, or the caching allocator may
  // hand its memory to the comm stream's next allocation while the consumer still reads it.
  virtual std::vector<std::unique_ptr<Communicator>> make_local_group(int ranks, const AbortSignal& abort) = 0;
  // Multi-process / multi-node: rank `rank` of `world`, unique id exchanged through c10d::TCPStore at
  // host:port (rank 0 is the store's server), on local GPU `device`.
  virtual std::unique_ptr<Communicator> make_distributed(const std::string& host, int port, int world, int rank,
                                                         int device, const AbortSignal& abort) = 0;
  // Keeps `stream` (a cudaStream_t passed as void*) busy for `ns` nanoseconds on the GPU with a spin kernel
  // (%globaltimer), without blocking the host: the emulated link's modelled time on the comm stream.
  // The kernel runs on the stream's device, whatever the caller's current device.
  virtual void enqueue_delay(void* stream, std::int64_t ns) = 0;
  // How long NCCL set-up, an NCCL enqueue, a host wait on a communicator (exchange_counts, barrier) and
  // elapsed_ms may take before the communicator is aborted and an error thrown (default 120 s). Applies to
  // communicators made after the call.
  virtual void set_timeout(std::chrono::milliseconds timeout) = 0;
  // Device timing: an event pair per op; elapsed_ms after the stream has passed both.
  // An event is created on the calling thread's current device and recorded only on streams of that device.
  virtual void* create_timing_event() = 0;
  virtual void record_timing_event(void* event, void* stream) = 0;
  virtual float elapsed_ms(void* begin, void* end) = 0;  // synchronises `end`
  virtual void destroy_timing_event(void* event) = 0;
};

// Opens libscmoe_engine_cuda.so and returns its backend. A module is opened once and never closed (the CUDA
// runtime and NCCL keep threads running in it), so later calls that find the same module return the same
// backend. `module_path`, when given, is the only place searched. Throws std::runtime_error naming every
// path searched when the module is missing, and dlerror()'s message when it cannot be opened.
std::shared_ptr<CudaBackend> load_cuda_backend(const std::string& module_path = {});

}  // namespace scmoe::engine

// The module's one export (C linkage, so dlsym finds it by name; default visibility, because the module is
// built with hidden visibility).
extern "C" __attribute__((visibility("default"))) scmoe::engine::CudaBackend* scmoe_engine_cuda_create();
