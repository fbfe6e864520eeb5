// Errors of the CUDA runtime and NCCL as exceptions that name the call and the library's own message, and
// a device guard: the module's entry points run on engine threads whose current device they must not move.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <stdexcept>
#include <string>

namespace scmoe::engine::cuda {

inline void check_cuda(cudaError_t status, const std::string& what) {
  if (status == cudaSuccess) return;
  throw std::runtime_error(what + " failed: " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
}

// "what failed: ncclRemoteError (remote process exited or there was a network error): <NCCL's detail>".
inline std::string nccl_message(const std::string& what, ncclResult_t status, ncclComm_t comm) {
  std::string message = what + " failed: NCCL error " + std::to_string(int(status)) + " (" + ncclGetErrorString(status) + ")";
  if (const char* detail = ncclGetLastError(comm); detail != nullptr && *detail != '\0') message += ": " + std::string(detail);
  return message;
}

// For NCCL calls that may legitimately answer ncclInProgress on a non-blocking communicator.
inline bool nccl_ok(ncclResult_t status) { return status == ncclSuccess || status == ncclInProgress; }

// Restores the calling thread's current device on scope exit; optionally switches to `device` first.
class DeviceGuard {
 public:
  DeviceGuard() {
    check_cuda(cudaGetDevice(&saved_), "cudaGetDevice");
    current_ = saved_;
  }
  explicit DeviceGuard(int device) : DeviceGuard() { set(device); }
  ~DeviceGuard() { cudaSetDevice(saved_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;
  void set(int device) {
    if (device != current_) check_cuda(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")");
    current_ = device;
  }

 private:
  int saved_ = 0;
  int current_ = 0;
};

}  // namespace scmoe::engine::cuda
