// The CUDA engine module as the engine sees it, on any machine with the CUDA toolkit: it loads from the
// build tree, answers device_count() without a GPU driver instead of crashing, and a missing or wrong
// module is a clear error. Runs (never skips) without a GPU.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <stdexcept>
#include <string>

#include "parallel/cuda_backend.h"
#include "error_message.h"

namespace scmoe::engine {
namespace {

bool gpu_driver_present() { return std::filesystem::exists("/dev/nvidiactl"); }

TEST(CudaBackendModule, LoadsFromTheBuildTreeOncePerProcess) {
  const std::shared_ptr<CudaBackend> first = load_cuda_backend();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(load_cuda_backend(), first);
  // The same file by its explicit path is the same module, hence the same backend.
  EXPECT_EQ(load_cuda_backend(SCMOE_ENGINE_CUDA_MODULE_FILE), first);
}

TEST(CudaBackendModule, DeviceCountIsZeroWithoutADriver) {
  const int devices = load_cuda_backend()->device_count();
  EXPECT_GE(devices, 0);
  if (!gpu_driver_present()) {
    EXPECT_EQ(devices, 0);
  }
}

TEST(CudaBackendModule, MissingModuleNamesWhereItLooked) {
  const std::string path = "/nonexistent/dir/libscmoe_engine_cuda.so";
  const std::string message = error_of([&] { load_cuda_backend(path); });
  EXPECT_NE(message.find("the CUDA engine module libscmoe_engine_cuda.so was not found"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(CudaBackendModule, FileThatIsNoLibraryGivesTheLoadersMessage) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "scmoe_not_a_library.so";
  std::ofstream(path) << "not an ELF file\n";
  const std::string message = error_of([&] { load_cuda_backend(path.string()); });
  std::filesystem::remove(path);
  EXPECT_NE(message.find("could not be loaded"), std::string::npos) << message;
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
}

TEST(CudaBackendModule, LibraryWithoutTheEntryPointIsRejected) {
  // libm loads everywhere and has no scmoe_engine_cuda_create.
  const std::string message = error_of([] { load_cuda_backend("libm.so.6"); });
  EXPECT_NE(message.find("is not the CUDA engine module"), std::string::npos) << message;
}

TEST(CudaBackendModule, WithoutAGpuCommunicatorsAreAClearError) {
  const std::shared_ptr<CudaBackend> backend = load_cuda_backend();
  if (backend->device_count() > 0) GTEST_SKIP() << "a GPU is present: the GPU tests cover communicators";
  AbortSignal abort;
  const std::string local = error_of([&] { backend->make_local_group(1, abort); });
  EXPECT_NE(local.find("needs 1 GPUs"), std::string::npos) << local;
  EXPECT_NE(local.find("CUDA sees 0"), std::string::npos) << local;
  const std::string distributed = error_of([&] { backend->make_distributed("127.0.0.1", 29500, 2, 0, 0, abort); });
  EXPECT_NE(distributed.find("GPU 0 does not exist"), std::string::npos) << distributed;
}

TEST(CudaBackendModule, ArgumentsAreCheckedBeforeAnyGpuWork) {
  const std::shared_ptr<CudaBackend> backend = load_cuda_backend();
  AbortSignal abort;
  EXPECT_NE(error_of([&] { backend->make_local_group(0, abort); }).find("at least 1 rank"), std::string::npos);
  EXPECT_NE(error_of([&] { backend->make_distributed("127.0.0.1", 29500, 2, 2, 0, abort); })
                .find("rank 2 is not a rank of a world of 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { backend->make_distributed("127.0.0.1", 70000, 2, 0, 0, abort); }).find("not a TCP port"),
            std::string::npos);
  EXPECT_THROW(backend->set_timeout(std::chrono::milliseconds(0)), std::invalid_argument);
}

}  // namespace
}  // namespace scmoe::engine
