#!/usr/bin/env bash
# ScMoE Studio quick start on Debian 12. Two commands (see README.md):
#   ./quickstart.sh start   set up, build, start the studio on the built-in demo workload
#                           (no display: run the same workload with the CLI and write a report)
#   ./quickstart.sh test    set up, build, run the whole test suite (GUI tests under Xvfb/offscreen,
#                           bounded fuzzing of the importers)
# Both are idempotent: a second run only rebuilds what changed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
what=${1:-}
jobs=$(nproc 2>/dev/null || echo 2)

configure_and_build() { # $1 = preset
  local preset=$1
  if [[ ! -f build/$preset/CMakeCache.txt ]]; then
    cmake --preset "$preset"
  fi
  cmake --build --preset "$preset" -j "$jobs"
}

case "$what" in
  start)
    packaging/setup-debian.sh build
    configure_and_build default
    if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
      exec build/default/app/scmoe-studio
    fi
    mkdir -p out
    echo "quickstart: no display found: running the demo workload with the CLI instead of the studio"
    build/default/app/scmoe run --config resources/configs/demo.toml \
      --report out/demo-report.html --trace out/demo-trace.scmoe
    echo "quickstart: report written to $(pwd)/out/demo-report.html" \
         "(trace: $(pwd)/out/demo-trace.scmoe; open it with scmoe-studio or scmoe analyze)"
    ;;
  test)
    packaging/setup-debian.sh test
    configure_and_build default
    ctest --preset default -j "$jobs"
    # Bounded fuzzing of the trace readers: a clang + libFuzzer build of the profiler alone.
    configure_and_build fuzz
    SCMOE_FUZZ_SECONDS=${SCMOE_FUZZ_SECONDS:-60} ctest --preset fuzz
    ;;
  *)
    echo "usage: ./quickstart.sh start|test" >&2
    exit 2
    ;;
esac
