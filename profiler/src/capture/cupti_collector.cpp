#include "scmoe/profiler/capture/cupti_collector.h"

#include <dlfcn.h>

#include <array>
#include <filesystem>
#include <vector>

#include "cupti_module_abi.h"
#include "scmoe/profiler/capture/module_search.h"

namespace scmoe::prof::capture {

namespace {

constexpr const char* kModuleFile = "libscmoe_cupti.so";

// The module in the build tree (set by profiler/CMakeLists.txt when CUDA is found), for binaries that do
// not run from app/: the engine's GPU tests and the GPU benchmark.
#ifdef SCMOE_CUPTI_MODULE_BUILD_PATH
constexpr const char* kBuildTreeModule = SCMOE_CUPTI_MODULE_BUILD_PATH;
#else
constexpr const char* kBuildTreeModule = "";
#endif

std::vector<std::string> candidate_paths(const std::string& explicit_path) {
  return module_search_paths(kModuleFile, "SCMOE_CUPTI_MODULE", explicit_path, kBuildTreeModule);
}

}  // namespace

std::unique_ptr<CuptiCollector> CuptiCollector::load(Options options, std::string& error) {
  std::string reasons;
  for (const std::string& path : candidate_paths(options.module_path)) {
    // A path with a '/' that does not exist is not worth a dlopen (its message would only say so).
    if (path.find('/') != std::string::npos && !std::filesystem::exists(path)) {
      reasons += (reasons.empty() ? "" : "; ") + path + ": no such file";
      continue;
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      reasons += (reasons.empty() ? "" : "; ") + std::string(why ? why : path + ": dlopen failed");
      continue;
    }
    auto entry = reinterpret_cast<ScmoeCuptiModuleEntry>(dlsym(handle, kScmoeCuptiEntryName));
    const ScmoeCuptiModule* module = entry ? entry() : nullptr;
    if (module == nullptr || module->abi_version != kScmoeCuptiAbiVersion) {
      reasons += (reasons.empty() ? "" : "; ") + path +
                 (module == nullptr ? ": no scmoe_cupti_module entry point" : ": built for another ABI version");
      dlclose(handle);
      continue;
    }
    std::unique_ptr<CuptiCollector> collector(new CuptiCollector());
    collector->options_ = std::move(options);
    collector->module_path_ = path;
    collector->handle_ = handle;
    collector->module_ = module;
    return collector;
  }
  error = "CUPTI not available: " + reasons;
  return nullptr;
}

CuptiCollector::~CuptiCollector() {
  if (started_) {
    // Stop CUPTI before the module goes away: its buffer callbacks live in the module.
    CuptiCapture discarded;
    std::array<char, 256> message{};
    static_cast<const ScmoeCuptiModule*>(module_)->stop(&discarded, message.data(), message.size());
  }
  // The module stays loaded: CUPTI may still hold pointers to its callbacks after a failed stop, and
  // libcupti cannot be unloaded cleanly anyway.
}

bool CuptiCollector::start(std::string& error) {
  // CUPTI needs 8-byte aligned buffers; below 64 KiB it would hand over buffers so often that the flushes
  // perturb the run, above 256 MiB each buffer pins memory for nothing.
  constexpr std::size_t kMinBuffer = 64u * 1024, kMaxBuffer = 256u * 1024 * 1024;
  const std::size_t bytes = options_.buffer_bytes;
  if (bytes < kMinBuffer || bytes > kMaxBuffer || bytes % 8 != 0) {
    error = "CUPTI collector: buffer_bytes must be a multiple of 8 between " + std::to_string(kMinBuffer) + " and " +
            std::to_string(kMaxBuffer) + " (got " + std::to_string(bytes) + ")";
    return false;
  }
  std::array<char, 512> message{};
  if (!static_cast<const ScmoeCuptiModule*>(module_)->start(options_.buffer_bytes, message.data(), message.size())) {
    error = message.data();
    return false;
  }
  started_ = true;
  return true;
}

bool CuptiCollector::hand_over(bool stop, Trace& trace, std::string& error) {
  const auto* module = static_cast<const ScmoeCuptiModule*>(module_);
  CuptiCapture capture;
  std::array<char, 512> message{};
  const bool ok = stop ? module->stop(&capture, message.data(), message.size())
                       : module->flush(&capture, message.data(), message.size());
  if (stop) started_ = false;
  if (!ok) {
    error = message.data();
    return false;
  }
  append_cupti_capture(capture, options_.rules, options_.rank, trace);
  return true;
}

bool CuptiCollector::flush_into(Trace& trace, std::string& error) { return hand_over(false, trace, error); }
bool CuptiCollector::stop_into(Trace& trace, std::string& error) { return hand_over(true, trace, error); }

}  // namespace scmoe::prof::capture
