// CUPTI collector: GPU kernels, copies, memsets, synchronisation, runtime/driver calls and NVTX ranges,
// captured by CUPTI's activity API and turned into spans of a prof::Trace.
//
// CUPTI lives in a separate module, libscmoe_cupti.so, opened with dlopen when a collector is created,
// so executables start on machines without libcupti or a GPU driver: there load() fails with
// "CUPTI not available: <reason>" and everything else keeps working.
//
// Module search order: Options::module_path; $SCMOE_CUPTI_MODULE; the running executable's directory;
// <exe>/../lib/scmoe/ (the install layout); the dynamic linker's search path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "scmoe/profiler/capture/cupti_capture.h"
#include "scmoe/profiler/classify.h"
#include "scmoe/profiler/trace.h"

namespace scmoe::prof::capture {

class CuptiCollector {
 public:
  struct Options {
    std::string module_path;                      // empty: search as described above
    std::size_t buffer_bytes = 8u * 1024 * 1024;  // per CUPTI activity buffer (4-8 MiB is CUPTI's sweet spot)
    std::int32_t rank = 0;                        // rank the captured tracks belong to
    ClassificationRules rules;                    // kernel and NVTX range classification
  };

  // Loads the module. On failure returns null and sets `error` to "CUPTI not available: <reason>".
  static std::unique_ptr<CuptiCollector> load(Options options, std::string& error);
  ~CuptiCollector();
  CuptiCollector(const CuptiCollector&) = delete;
  CuptiCollector& operator=(const CuptiCollector&) = delete;

  // Enables capture. Only one collector per process may be started (CUPTI's activity API is global).
  // NVTX ranges are captured only if NVTX had not been used yet in the process (NVTX picks its injection
  // library on its first call; start() sets NVTX_INJECTION64_PATH to libcupti unless already set).
  bool start(std::string& error);
  // Hands everything captured so far to `trace` (see append_cupti_capture); capture continues.
  bool flush_into(Trace& trace, std::string& error);
  // Disables capture and hands the rest to `trace`.
  bool stop_into(Trace& trace, std::string& error);

  const std::string& module_path() const { return module_path_; }

 private:
  CuptiCollector() = default;
  bool hand_over(bool stop, Trace& trace, std::string& error);

  Options options_;
  std::string module_path_;
  void* handle_ = nullptr;
  const void* module_ = nullptr;  // const ScmoeCuptiModule*
  bool started_ = false;
};

}  // namespace scmoe::prof::capture
