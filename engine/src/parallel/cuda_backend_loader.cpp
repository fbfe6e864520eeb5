#include "parallel/cuda_backend.h"

#include <dlfcn.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

#include "scmoe/profiler/capture/module_search.h"

namespace scmoe::engine {

namespace {

constexpr const char* kModuleFile = "libscmoe_engine_cuda.so";

// The module in the build tree this binary came from (engine/src/cuda/CMakeLists.txt sets it on this file).
#ifdef SCMOE_ENGINE_CUDA_MODULE_PATH
constexpr const char* kBuildTreeModule = SCMOE_ENGINE_CUDA_MODULE_PATH;
#else
constexpr const char* kBuildTreeModule = "";
#endif

// The same search as the CUPTI module's (prof::capture::module_search_paths).
std::vector<std::string> candidate_paths(const std::string& explicit_path) {
  return prof::capture::module_search_paths(kModuleFile, "SCMOE_ENGINE_CUDA_MODULE", explicit_path, kBuildTreeModule);
}

using CreateFn = CudaBackend* (*)();

}  // namespace

std::shared_ptr<CudaBackend> load_cuda_backend(const std::string& module_path) {
  // Backends by the module's dlopen handle: two paths to one file give one handle, hence one backend.
  static std::mutex mutex;
  static std::map<void*, std::shared_ptr<CudaBackend>> loaded;

  std::lock_guard lock(mutex);
  std::string searched;
  std::string failures;
  for (const std::string& path : candidate_paths(module_path)) {
    searched += (searched.empty() ? "" : ", ") + path;
    // A missing file is only worth naming in the list of places searched, not a dlopen message.
    if (path.find('/') != std::string::npos && !std::filesystem::exists(path)) continue;
    // RTLD_LOCAL: the module's CUDA and NCCL symbols stay out of the global namespace.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      // A plain name that the dynamic linker does not know is just "not found"; a file that exists but
      // does not load (a missing libcudart, libnccl) is what the user needs to read.
      if (path.find('/') != std::string::npos) failures += std::string("; ") + (why ? why : path + ": dlopen failed");
      continue;
    }
    if (auto it = loaded.find(handle); it != loaded.end()) {
      dlclose(handle);  // drops the reference just taken; the first one keeps the module loaded
      return it->second;
    }
    auto create = reinterpret_cast<CreateFn>(dlsym(handle, "scmoe_engine_cuda_create"));
    if (create == nullptr) {
      dlclose(handle);
      throw std::runtime_error(path + " is not the CUDA engine module: it has no scmoe_engine_cuda_create");
    }
    // Never unloaded (see cuda_backend.h), so the backend's deleter may run at exit with the code present.
    std::shared_ptr<CudaBackend> backend(create());
    loaded.emplace(handle, backend);
    return backend;
  }
  if (!failures.empty()) {
    throw std::runtime_error("the CUDA engine module " + std::string(kModuleFile) + " could not be loaded: " +
                             failures.substr(2) + " (searched: " + searched + ")");
  }
  throw std::runtime_error("the CUDA engine module " + std::string(kModuleFile) + " was not found (searched: " +
                           searched + ")");
}

}  // namespace scmoe::engine
