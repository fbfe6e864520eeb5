// The seam between the profiler and libscmoe_cupti, the run-time loaded CUPTI module: one C entry point
// returning a table of functions. Both sides are built from this tree with the same compiler, so the
// table may pass the C++ CuptiCapture; the version guards against a stale module from another build.
#pragma once

#include <cstddef>
#include <cstdint>

#include "scmoe/profiler/capture/cupti_capture.h"

extern "C" {

inline constexpr std::uint32_t kScmoeCuptiAbiVersion = 1;

struct ScmoeCuptiModule {
  std::uint32_t abi_version;
  // Each returns true on success; on failure writes a message into error[error_size].
  // start: registers buffer callbacks (buffer_bytes per activity buffer) and enables the activity kinds.
  bool (*start)(std::size_t buffer_bytes, char* error, std::size_t error_size);
  // flush: forces CUPTI to hand over every buffer and moves what was captured so far into *out
  // (appending; out->clock_offset_ns is set). Capture continues.
  bool (*flush)(scmoe::prof::capture::CuptiCapture* out, char* error, std::size_t error_size);
  // stop: disables the activity kinds, then flushes as above.
  bool (*stop)(scmoe::prof::capture::CuptiCapture* out, char* error, std::size_t error_size);
};

// Exported by the module.
const ScmoeCuptiModule* scmoe_cupti_module();
using ScmoeCuptiModuleEntry = const ScmoeCuptiModule* (*)();
inline constexpr const char* kScmoeCuptiEntryName = "scmoe_cupti_module";
}
