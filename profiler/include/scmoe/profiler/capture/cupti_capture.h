// What the CUPTI collector captured, as plain data, and how it becomes part of a prof::Trace.
//
// The CUPTI module (libscmoe_cupti, loaded at run time) only copies activity records into a CuptiCapture;
// everything else - clock conversion, demangling, classification, NCCL phase attribution, launch flows -
// happens here, in code without CUDA types that is tested on machines without a GPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scmoe/profiler/classify.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::prof::capture {

// One record of device work: a kernel, a memcpy or a memset. Times are in the CUPTI clock.
struct CuptiDeviceActivity {
  enum class Kind : std::uint8_t { Kernel, Memcpy, Memset };
  Kind kind = Kind::Kernel;
  std::string name;  // kernel: mangled name as CUPTI reports it; memcpy/memset: a short description
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::uint32_t device = 0;
  std::uint32_t stream = 0;
  std::uint32_t correlation = 0;  // links to the runtime/driver call that launched it
  std::uint64_t bytes = 0;        // memcpy/memset
};

// A CUDA runtime or driver API call on a host thread (the launch side of a kernel).
struct CuptiApiCall {
  std::string name;  // e.g. "cudaLaunchKernel", "cuLaunchKernelEx"
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::uint32_t thread = 0;
  std::uint32_t correlation = 0;
  bool driver = false;
};

// Host time spent waiting on the device (stream / event / context synchronisation).
struct CuptiSynchronization {
  std::string what;  // "stream synchronize", "event synchronize", ...
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::uint32_t correlation = 0;  // the API call that waited (gives the thread)
  std::uint32_t stream = 0;
};

// An NVTX range (push/pop or start/end) on a host thread, already paired from its start/end markers.
struct CuptiMarkerRange {
  std::string name;
  std::string domain;
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::uint32_t thread = 0;
};

struct CuptiCapture {
  std::vector<CuptiDeviceActivity> device;
  std::vector<CuptiApiCall> api;
  std::vector<CuptiSynchronization> sync;
  std::vector<CuptiMarkerRange> markers;
  std::uint64_t dropped_records = 0;  // lost by CUPTI (full buffers) or unpaired markers
  // host_ns = cupti_ns + clock_offset_ns, with host_ns on the HostCollector clock (steady_clock).
  std::int64_t clock_offset_ns = 0;
};

// Appends a capture to `trace` (tracks of rank `rank`: one CudaStream track per device stream, one
// HostThread track per thread with API calls and synchronisation waits, one Annotation track per thread
// with NVTX ranges), adds launch flows (API call -> kernel, by correlation id), demangles kernel names
// (abi::__cxa_demangle), classifies every kernel by `rules`, finalizes the trace, and then gives kernels
// the phase, pass and layer of the NVTX ranges around the calls that launched them (apply_phase_annotations
// with `rules`' annotation rules, as for imported traces): NCCL transfers and the emulated link's delay
// kernel become dispatch or combine.
void append_cupti_capture(const CuptiCapture& capture, const ClassificationRules& rules, std::int32_t rank,
                          Trace& trace);

// abi::__cxa_demangle, or the name unchanged when it is not a mangled C++ name.
std::string demangle(const std::string& name);

}  // namespace scmoe::prof::capture
