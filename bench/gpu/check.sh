#!/usr/bin/env bash
# The one prepared script for the GPU machine (issue 6, docs: bench/gpu/README.md): checks the build
# dependencies, configures the headless preset against the LibTorch found there, builds with all cores, runs
# the GPU tests, the GPU benchmark and the PyTorch-eager reference with the link the benchmark calibrated,
# and prints a short table last. Every phase is timed and has a time limit inside one overall budget
# (default 570 s: the device tool stops a command at 600 s), so it never hangs; it stops with a clear
# message at the first failing phase. Exit code: 0 done, 77 skipped (no CUDA device: the benchmark has
# nothing to measure), anything else: the failing phase's code.
#
# Results (tables, JSON, one log per phase) go to $OUT when set (the device tool brings $OUT back), else to
# build/gpu-check/results.
#
# Environment: SCMOE_CHECK_BUDGET_S (overall seconds, default 570; every phase limit scales with it),
# SCMOE_CHECK_FULL=1 (the benchmark without --quick), SCMOE_CHECK_JOBS (build jobs, default nproc),
# SCMOE_CHECK_TARGETS (space-separated build targets instead of all, for a second try short of time; the
# GPU tests of targets not built do not run).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/build/gpu-check"
DEPS="$ROOT/build/gpu-deps"
RESULTS="${OUT:-$BUILD/results}"
BUDGET_S="${SCMOE_CHECK_BUDGET_S:-570}"
JOBS="${SCMOE_CHECK_JOBS:-$(nproc)}"
START_S=$SECONDS
PHASE_TIMES=()

mkdir -p "$RESULTS"
# Everything printed also goes to check.log (the device tool returns only the last 12,000 characters).
exec > >(tee -a "$RESULTS/check.log") 2>&1
TEE_PID=$!
# On exit, close our end and let tee finish writing check.log before the device tool collects $OUT.
trap 'exec 1>&- 2>&-; wait "$TEE_PID" || true' EXIT

say() { printf '%s\n' "$*"; }

phase_report() {
  say ""
  say "phase times: ${PHASE_TIMES[*]:-none} (total $((SECONDS - START_S)) s of the ${BUDGET_S} s budget)"
}

# stop CODE MESSAGE: the one way out after a failure.
stop() {
  local code=$1
  shift
  say ""
  say "check.sh: STOPPED: $*"
  phase_report
  say "results and logs: $RESULTS"
  exit "$code"
}

# run_phase NAME DEFAULT_LIMIT_S SHOW CMD...: runs CMD under a time limit (DEFAULT_LIMIT_S scaled by the
# budget, never past what is left of it), its output in $RESULTS/NAME.log and, with SHOW=all, also here.
# Returns CMD's exit code (124/137: timed out).
run_phase() {
  local name=$1 limit=$(($2 * BUDGET_S / 570)) show=$3
  shift 3
  local left=$((BUDGET_S - (SECONDS - START_S)))
  if ((left < 15)); then
    stop 124 "phase $name: no time left in the ${BUDGET_S} s budget"
  fi
  ((limit > left)) && limit=$left
  local log="$RESULTS/$name.log" t0=$SECONDS rc=0
  say ""
  say "== $name (limit ${limit} s): $*"
  if [[ $show == all ]]; then
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$log" || rc=$?
  else
    timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 || rc=$?
  fi
  local dt=$((SECONDS - t0))
  PHASE_TIMES+=("$name=${dt}s")
  say "== $name: ${dt} s, exit code $rc"
  if ((rc == 124 || rc == 137)); then
    say "== $name TIMED OUT after ${limit} s"
  fi
  return "$rc"
}

show_tail() {  # the end of a failed phase's log
  say "--- last 40 lines of $1"
  tail -n 40 "$1" || true
  say "---"
}

say "check.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores, budget ${BUDGET_S} s, results in $RESULTS"
say "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l | tr -d ' ') uncommitted path(s)"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/gpu: /' || true
else
  say "gpu: nvidia-smi not found"
fi

# ---- Phase 1: dependencies -----------------------------------------------------------------------------
# LibTorch: the C++ SDK inside a pip torch (python3, else the GPU machine's venv); else the system one.
TORCH_PY=""
TORCH_PREFIX=""
for py in python3 /opt/torch/.venv/bin/python3; do
  command -v "$py" >/dev/null 2>&1 || continue
  if prefix=$("$py" -c 'import torch, torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null); then
    TORCH_PY=$(command -v "$py")
    if [[ -f "$prefix/Torch/TorchConfig.cmake" ]]; then
      TORCH_PREFIX=$prefix
      break
    fi
    say "warning: $py has torch but no LibTorch CMake files under $prefix"
  fi
done
if [[ -n $TORCH_PREFIX ]]; then
  say "LibTorch: $TORCH_PREFIX (python: $TORCH_PY, torch $("$TORCH_PY" -c 'import torch; print(torch.__version__)' 2>/dev/null))"
else
  say "warning: no python3 with a pip torch (tried python3, /opt/torch/.venv/bin/python3): falling back to the"
  say "         system LibTorch (find_package(Torch) default search); the eager reference cannot run"
fi

PREFIX_PATH="$TORCH_PREFIX"
if [[ -d $DEPS ]]; then
  say "bundled dependencies: $DEPS (from bench/gpu/bundle-deps.sh): searched first"
  PREFIX_PATH="$DEPS${PREFIX_PATH:+;$PREFIX_PATH}"
  # CMake finds them through CMAKE_PREFIX_PATH; the linker and the loader through these.
  export LIBRARY_PATH="$DEPS/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export LD_LIBRARY_PATH="$DEPS/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PKG_CONFIG_PATH="$DEPS/lib/x86_64-linux-gnu/pkgconfig:$DEPS/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
fi
if [[ -d /usr/local/cuda/bin ]]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

GENERATOR_ARGS=()
MISSING=()
for tool in cmake ctest c++ timeout; do
  command -v "$tool" >/dev/null 2>&1 || MISSING+=("tool $tool")
done
if ! command -v ninja >/dev/null 2>&1; then
  say "warning: ninja not found: using Unix Makefiles instead of the preset's Ninja"
  GENERATOR_ARGS=(-G "Unix Makefiles")
fi
if ((${#MISSING[@]})); then
  stop 2 "missing: ${MISSING[*]}"
fi

# The same find_package calls as cmake/ScmoeDependencies.cmake, in a throwaway project, so what is missing
# is listed by name before the real configure stops at the first one.
PROBE="$BUILD/dep-probe"
rm -rf "$PROBE"  # a cache from an earlier run would report what was found then
mkdir -p "$PROBE/src"
cat >"$PROBE/src/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(scmoe_dep_probe LANGUAGES CXX)
find_package(Threads REQUIRED)
set(missing "")
foreach(pkg zstd ZLIB simdjson nlohmann_json tomlplusplus CLI11 GTest benchmark)
  find_package(${pkg} QUIET)
  if(${pkg}_FOUND)
    message(STATUS "found ${pkg} ${${pkg}_VERSION} ${${pkg}_DIR}${${pkg}_LIBRARIES}")
  else()
    list(APPEND missing ${pkg})
  endif()
endforeach()
file(WRITE "${CMAKE_BINARY_DIR}/missing.txt" "${missing}")
EOF
run_phase deps 60 all cmake -S "$PROBE/src" -B "$PROBE/build" -DCMAKE_PREFIX_PATH="$PREFIX_PATH" -Wno-dev ||
  stop 2 "the dependency probe failed to run (see $RESULTS/deps.log)"
missing_list=$(cat "$PROBE/build/missing.txt")
declare -A UBUNTU_PACKAGE=([zstd]=libzstd-dev [ZLIB]=zlib1g-dev [simdjson]=libsimdjson-dev
  [nlohmann_json]=nlohmann-json3-dev [tomlplusplus]=libtomlplusplus-dev [CLI11]=libcli11-dev
  [GTest]=libgtest-dev [benchmark]=libbenchmark-dev)
if [[ -n $missing_list ]]; then
  say ""
  say "MISSING build dependencies (CMake package: Ubuntu package):"
  IFS=';' read -r -a missing_pkgs <<<"$missing_list"
  for p in "${missing_pkgs[@]}"; do
    say "  $p: ${UBUNTU_PACKAGE[$p]:-?}"
  done
  say "The GPU machine has no network: run bench/gpu/bundle-deps.sh on the Debian machine and carry"
  say "build/gpu-deps (device tool: carry [\"build/gpu-deps\"])."
  stop 2 "missing build dependencies: ${missing_list//;/ }"
fi
[[ -f /usr/local/cuda/include/cupti.h ]] ||
  say "warning: /usr/local/cuda/include/cupti.h not found: the CUDA parts (CUPTI, NCCL) will not be built"

# ---- Phase 2: configure --------------------------------------------------------------------------------
CONFIG_ARGS=(--preset headless -S "$ROOT" -B "$BUILD" "${GENERATOR_ARGS[@]}" -DCMAKE_BUILD_TYPE=Release
  -DSCMOE_WITH_TESTS=ON -DSCMOE_WITH_BENCH=ON)
[[ -n $PREFIX_PATH ]] && CONFIG_ARGS+=("-DCMAKE_PREFIX_PATH=$PREFIX_PATH")
[[ -d /usr/local/cuda ]] && CONFIG_ARGS+=(-DCUDAToolkit_ROOT=/usr/local/cuda)
if ! run_phase configure 120 tail cmake "${CONFIG_ARGS[@]}"; then
  show_tail "$RESULTS/configure.log"
  stop 3 "configure failed (see $RESULTS/configure.log)"
fi
grep -E "ScMoE Studio|CUDA toolkit|not found" "$RESULTS/configure.log" || true

# ---- Phase 3: build ------------------------------------------------------------------------------------
BUILD_ARGS=(--build "$BUILD" -j "$JOBS")
if [[ -n ${SCMOE_CHECK_TARGETS:-} ]]; then
  read -r -a targets <<<"$SCMOE_CHECK_TARGETS"
  BUILD_ARGS+=(--target "${targets[@]}")
fi
if ! run_phase build 330 tail cmake "${BUILD_ARGS[@]}"; then
  show_tail "$RESULTS/build.log"
  stop 4 "build failed (see $RESULTS/build.log)"
fi

# ---- Phase 4: GPU tests --------------------------------------------------------------------------------
if ! run_phase ctest-gpu 120 all ctest --test-dir "$BUILD" -L gpu --output-on-failure --timeout 100; then
  stop 5 "GPU tests failed (ctest -L gpu, see $RESULTS/ctest-gpu.log)"
fi

# ---- Phase 5: the benchmark ----------------------------------------------------------------------------
# The benchmark starts no engine run past its own budget, which leaves ~90 s for the eager reference and
# the summary; it measures the rows that matter most first (see --budget-s in scmoe_gpu_bench --help).
bench_budget=$((300 * BUDGET_S / 570))
left=$((BUDGET_S - (SECONDS - START_S) - 90))
((bench_budget > left)) && bench_budget=$left
bench_budget=$((bench_budget - 20))
((bench_budget >= 30)) || stop 124 "no time left for the benchmark in the ${BUDGET_S} s budget"
BENCH_ARGS=(--json "$RESULTS/gpu_bench.json" --budget-s "$bench_budget")
[[ ${SCMOE_CHECK_FULL:-0} == 1 ]] || BENCH_ARGS+=(--quick)
bench_rc=0
run_phase gpu-bench 300 all "$BUILD/bench/gpu/scmoe_gpu_bench" "${BENCH_ARGS[@]}" || bench_rc=$?
if ((bench_rc == 77)); then
  stop 77 "skipped at the benchmark: no CUDA device ($(grep -m1 'skipped' "$RESULTS/gpu-bench.log" || echo 'see gpu-bench.log'))"
fi
SUMMARY=(python3 "$ROOT/bench/gpu/summary.py" --bench "$RESULTS/gpu_bench.json" --eager "$RESULTS/eager_reference.json"
  --out "$RESULTS/summary.md")
if ((bench_rc != 0)); then
  # What it measured before it stopped is in the JSON (rewritten after every row): show it anyway.
  "${SUMMARY[@]}" || true
  stop 6 "the benchmark failed with exit code $bench_rc (see $RESULTS/gpu-bench.log)"
fi

# ---- Phase 6: the PyTorch-eager reference, with the link the benchmark calibrated -----------------------
if [[ -z $TORCH_PY ]]; then
  stop 7 "no python3 with torch: the eager reference cannot run"
fi
mapfile -t LINK_ARGS < <(python3 - "$RESULTS/gpu_bench.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1])).get("regimes", []):
    link = r["link"]
    print("--link")
    print(f"{round(r['comm_share_target'] * 100)}={link['bandwidth_gbps']!r},{link['latency_us']!r}")
EOF
)
if ! run_phase eager-reference 150 all "$TORCH_PY" "$ROOT/bench/gpu/eager_reference.py" "${LINK_ARGS[@]}" \
  --json "$RESULTS/eager_reference.json"; then
  "${SUMMARY[@]}" || true
  stop 7 "the eager reference failed (see $RESULTS/eager-reference.log)"
fi

# ---- Last: the short table -----------------------------------------------------------------------------
say ""
"${SUMMARY[@]}" || stop 8 "summary.py failed"
phase_report
say "results and logs: $RESULTS"
