#!/usr/bin/env bash
# Proves that build/gpu-deps (bundle-deps.sh) is enough on its own: in a private mount namespace (root,
# nothing outside this process sees it) the system copies of the bundled packages are hidden (headers,
# CMake and pkg-config files, static archives, the simdjson/toml++/benchmark shared libraries), then a
# throwaway build in build/gpu-deps-test is configured with CMAKE_PREFIX_PATH=build/gpu-deps and builds
# the profiler, the engine config library, the formats tests (simdjson, zstd, zlib, GoogleTest) and the
# analysis benchmark (Google Benchmark), and runs the formats tests.
#
# Not hidden: libz.so and libzstd.so (links to the runtime libraries that the compiler and linker themselves
# load); the build's link lines are checked to name the bundle's copies instead.
#
#   sudo-less root on the Debian machine: bash bench/gpu/test-bundle.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEPS="$ROOT/build/gpu-deps"
BUILD="$ROOT/build/gpu-deps-test"
PACKAGES=(libsimdjson-dev libzstd-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libbenchmark-dev
  libgtest-dev zlib1g-dev)

[[ -d $DEPS ]] || { echo "test-bundle.sh: no $DEPS: run bench/gpu/bundle-deps.sh first" >&2; exit 2; }

if [[ ${SCMOE_IN_NAMESPACE:-0} != 1 ]]; then
  exec env SCMOE_IN_NAMESPACE=1 unshare --mount --propagation private bash "$0" "$@"
fi

hidden=0
hide() {  # an empty tmpfs over a directory, /dev/null over a file
  if [[ -d $1 ]]; then
    mount -t tmpfs none "$1"
  else
    mount --bind /dev/null "$1"
  fi
  hidden=$((hidden + 1))
}
for p in "${PACKAGES[@]}"; do
  while IFS= read -r f; do
    case "$f" in
      /usr/include/*/*) continue ;;                      # inside a header directory hidden as a whole
      */libz.so | */libzstd.so) continue ;;               # the toolchain's own runtime libraries
      /usr/include/*) hide "$f" ;;
      */cmake/*/*) continue ;;
      */cmake/*) hide "$f" ;;                            # a package's CMake directory
      *.pc | *.a | */libsimdjson.so | */libtomlplusplus.so | */libbenchmark.so) hide "$f" ;;
    esac
  done < <(dpkg-query -L "$p")
done
echo "hidden: $hidden system paths of ${PACKAGES[*]}"
[[ ! -s /usr/include/simdjson.h && ! -e /usr/include/nlohmann/json.hpp ]] || { echo "hiding failed" >&2; exit 1; }

rm -rf "$BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSCMOE_WITH_UI=OFF -DSCMOE_WITH_CUDA=OFF \
  -DCMAKE_PREFIX_PATH="$DEPS" >"$BUILD.configure.log" 2>&1 || { tail -n 30 "$BUILD.configure.log"; exit 1; }
echo "configured with only the bundle; where each package was found:"
grep -E '^(zstd|simdjson|nlohmann_json|tomlplusplus|CLI11|GTest|benchmark)_DIR|^ZLIB_(INCLUDE_DIR|LIBRARY_RELEASE)' \
  "$BUILD/CMakeCache.txt"
cmake --build "$BUILD" -j "$(nproc)" --target scmoe_profiler scmoe_engine_config scmoe_formats_tests scmoe_analysis_bench
echo "link lines naming a bundled or system library:"
grep -oE '[^ ]*lib(simdjson|zstd|z|tomlplusplus|benchmark|gtest)\.(so|a)[^ ]*' "$BUILD/build.ninja" | sort -u
if grep -qE ' /usr/lib/x86_64-linux-gnu/lib(simdjson|zstd|z|tomlplusplus|benchmark|gtest)\.' "$BUILD/build.ninja"; then
  echo "test-bundle.sh: the build links a system copy" >&2
  exit 1
fi
echo "the formats tests load:"
ldd "$BUILD/tests/profiler/scmoe_formats_tests" | grep -E 'simdjson|zstd|libz\.'
"$BUILD/tests/profiler/scmoe_formats_tests" --gtest_brief=1 | tail -n 3
echo "test-bundle.sh: OK: configured, built and ran with only build/gpu-deps"
