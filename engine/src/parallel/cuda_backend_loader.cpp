#include "parallel/cuda_backend.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

namespace scmoe::engine {

namespace {

constexpr const char* kModuleFile = "libscmoe_engine_cuda.so";

// Same order as the CUPTI module's loader: an explicit path alone; otherwise the environment, next to the
// executable (build tree: app/), the installed lib/scmoe, the build tree this binary came from (tests live
// in other folders than the module), and last the plain name for LD_LIBRARY_PATH and the ld.so cache.
std::vector<std::string> candidate_paths(const std::string& explicit_path) {
  if (!explicit_path.empty()) return {explicit_path};
  std::vector<std::string> out;
  if (const char* env = std::getenv("SCMOE_ENGINE_CUDA_MODULE"); env != nullptr && *env != '\0') out.emplace_back(env);
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path() / kModuleFile).string());
    out.push_back((exe.parent_path().parent_path() / "lib" / "scmoe" / kModuleFile).string());
  }
#ifdef SCMOE_ENGINE_CUDA_MODULE_PATH
  out.emplace_back(SCMOE_ENGINE_CUDA_MODULE_PATH);
#endif
  out.emplace_back(kModuleFile);
  return out;
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
