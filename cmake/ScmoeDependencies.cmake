# Every third-party dependency is found here, once, so the layer CMakeLists only link targets.
# Debian package names for each are listed in packaging/debian-packages.txt.

find_package(Threads REQUIRED)
find_package(zstd REQUIRED)            # native trace compression (libzstd-dev)
find_package(ZLIB REQUIRED)            # .json.gz traces (zlib1g-dev)
find_package(simdjson REQUIRED)        # streaming Chrome/Kineto JSON import (libsimdjson-dev)
find_package(nlohmann_json REQUIRED)   # small JSON documents: configs, --json output (nlohmann-json3-dev)
find_package(tomlplusplus REQUIRED)    # TOML engine configs (libtomlplusplus-dev)
find_package(CLI11 REQUIRED)           # command line parsing (libcli11-dev)
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)  # linear-time classification regexes (libre2-dev)
find_package(Torch REQUIRED)           # LibTorch >= 1.13: Debian's libtorch-dev, or a pip torch via CMAKE_PREFIX_PATH

if(TARGET zstd::libzstd_shared)
  set(SCMOE_ZSTD_TARGET zstd::libzstd_shared)
else()
  set(SCMOE_ZSTD_TARGET zstd::libzstd_static)
endif()

# LibTorch with CUDA exposes its CUDA libraries; Debian's CPU-only build does not.
set(SCMOE_TORCH_HAS_CUDA OFF)
if(TORCH_CUDA_LIBRARIES OR TARGET torch_cuda)
  set(SCMOE_TORCH_HAS_CUDA ON)
endif()

if(SCMOE_WITH_TESTS)
  find_package(GTest REQUIRED)
endif()
if(SCMOE_WITH_BENCH)
  find_package(benchmark REQUIRED)
endif()
if(SCMOE_WITH_UI)
  find_package(Qt6 6.4 REQUIRED COMPONENTS Core Gui Widgets Charts Concurrent Svg Test)
  set(CMAKE_AUTOMOC ON)
  set(CMAKE_AUTORCC ON)
endif()

# CUDA: the toolkit (CUPTI, NCCL) is optional. The parts that use it are built as run-time loaded modules
# so the executables never need libcuda/libcupti/libnccl at load time (a .deb installs on a machine with
# no GPU driver).
set(SCMOE_HAVE_CUDA OFF)
if(NOT SCMOE_WITH_CUDA STREQUAL "OFF")
  if(NOT CUDAToolkit_ROOT AND EXISTS /usr/local/cuda)
    set(CUDAToolkit_ROOT /usr/local/cuda)
  endif()
  find_package(CUDAToolkit QUIET)
  find_path(SCMOE_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/include)
  find_library(SCMOE_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/lib/x86_64-linux-gnu)
  if(CUDAToolkit_FOUND AND TARGET CUDA::cupti AND SCMOE_NCCL_INCLUDE_DIR AND SCMOE_NCCL_LIBRARY)
    set(SCMOE_HAVE_CUDA ON)
    # CUDA sources (test kernels, GPU benchmarks) compile with nvcc; one architecture by default keeps the
    # build short: Hopper (the H200 of the GPU machine). Override with -DCMAKE_CUDA_ARCHITECTURES=...
    if(NOT CMAKE_CUDA_COMPILER AND EXISTS ${CUDAToolkit_BIN_DIR}/nvcc)
      set(CMAKE_CUDA_COMPILER ${CUDAToolkit_BIN_DIR}/nvcc)
    endif()
    if(NOT CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    add_library(scmoe_nccl INTERFACE)
    target_include_directories(scmoe_nccl SYSTEM INTERFACE ${SCMOE_NCCL_INCLUDE_DIR})
    target_link_libraries(scmoe_nccl INTERFACE ${SCMOE_NCCL_LIBRARY} CUDA::cudart)
    message(STATUS "CUDA toolkit ${CUDAToolkit_VERSION} with CUPTI and NCCL (${SCMOE_NCCL_LIBRARY})")
  elseif(SCMOE_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SCMOE_WITH_CUDA=ON but the CUDA toolkit with CUPTI and NCCL was not found "
                        "(set CUDAToolkit_ROOT)")
  else()
    message(STATUS "CUDA toolkit with CUPTI and NCCL not found: GPU parts are not built")
  endif()
endif()

if(SCMOE_HAVE_CUDA)
  set(SCMOE_HAVE_CUDA_BOOL true)
else()
  set(SCMOE_HAVE_CUDA_BOOL false)
endif()
if(SCMOE_WITH_UI)
  set(SCMOE_WITH_UI_BOOL true)
else()
  set(SCMOE_WITH_UI_BOOL false)
endif()
