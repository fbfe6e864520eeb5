#!/usr/bin/env bash
# Builds the .deb and .tar.gz with CPack and checks what a user installs: the executables (scmoe, and the
# engine program lib/scmoe/scmoe-run that `scmoe run` execs; scmoe itself needs no LibTorch), the desktop
# entry, icon and MIME type, Debian dependencies declared, and no CUDA/CUPTI/NCCL library needed at load
# time (the package must install and start on a machine with no CUDA toolkit and no GPU driver), and the
# run-time loaded GPU modules only in a package built with SCMOE_PACKAGE_GPU=ON.
# Usage: check_package.sh <build dir> <with ui: ON|OFF>
set -euo pipefail
build=$1
with_ui=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "check_package: $*" >&2; exit 1; }

(cd "$build" && cpack -G "DEB;TGZ" -B "$work/out" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls "$work"/out/*.deb 2>/dev/null | head -1)
tgz=$(ls "$work"/out/*.tar.gz 2>/dev/null | head -1)
[[ -n "$deb" ]] || fail "no .deb produced"
[[ -n "$tgz" ]] || fail "no .tar.gz produced"

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
[[ "$depends" == *libtorch* ]] || fail "Depends does not name libtorch"
[[ "$depends" == *libzstd* ]] || fail "Depends does not name libzstd"
if [[ "$with_ui" == ON ]]; then
  [[ "$depends" == *libqt6widgets6* ]] || fail "Depends does not name libqt6widgets6"
  [[ "$depends" == *libqt6charts6* ]] || fail "Depends does not name libqt6charts6"
fi
[[ "$depends" != *cuda* && "$depends" != *nccl* && "$depends" != *cupti* ]] ||
  fail "Depends names CUDA libraries, which Debian does not ship: $depends"

mkdir "$work/root"
dpkg-deb -x "$deb" "$work/root"
expect=(usr/bin/scmoe usr/lib/scmoe/scmoe-run usr/share/mime/packages/scmoe-studio.xml
        usr/share/scmoe-studio/configs/demo.toml usr/share/scmoe-studio/rules/nccl.json)
if [[ "$with_ui" == ON ]]; then
  expect+=(usr/bin/scmoe-studio usr/share/applications/scmoe-studio.desktop
           usr/share/icons/hicolor/scalable/apps/scmoe-studio.svg)
fi
for f in "${expect[@]}"; do
  [[ -e "$work/root/$f" ]] || fail "the .deb lacks $f"
done
tar -tzf "$tgz" | grep -q '/bin/scmoe$' || fail "the .tar.gz lacks bin/scmoe"

for exe in "$work"/root/usr/bin/* "$work"/root/usr/lib/scmoe/scmoe-run; do
  needed=$(readelf -d "$exe" | grep NEEDED || true)
  if grep -Eiq 'libcuda|libcudart|libcupti|libnccl|libnvrtc|libnvToolsExt' <<<"$needed"; then
    fail "$(basename "$exe") needs a CUDA library at load time: $needed"
  fi
done
# The GPU modules (CUPTI collector, CUDA engine: NCCL, delay kernel, timing events) are the only binaries
# that link CUDA. They belong in the package only when it is built for a GPU workstation (SCMOE_PACKAGE_GPU).
modules=(usr/lib/scmoe/libscmoe_cupti.so usr/lib/scmoe/libscmoe_engine_cuda.so)
if grep -q '^SCMOE_PACKAGE_GPU:[A-Z]*=\(ON\|TRUE\|1\)$' "$build/CMakeCache.txt" 2>/dev/null; then
  for f in "${modules[@]}"; do
    # Built (next to the executables) only where the CUDA toolkit was found.
    if [[ -e "$build/app/$(basename "$f")" && ! -e "$work/root/$f" ]]; then
      fail "SCMOE_PACKAGE_GPU=ON but the .deb lacks $f"
    fi
  done
else
  for f in "${modules[@]}"; do
    [[ ! -e "$work/root/$f" ]] || fail "the default .deb ships the GPU module $f (only SCMOE_PACKAGE_GPU=ON may)"
  done
fi
# The packaged CLI must run from the extracted tree (its libraries come from Debian packages).
"$work/root/usr/bin/scmoe" --version | grep -q '^scmoe ' || fail "packaged scmoe --version failed"
# ... and hands `run` to the packaged engine program (found in ../lib/scmoe).
"$work/root/usr/bin/scmoe" run --help | grep -q -- '--config' || fail "packaged scmoe run --help failed"
echo "check_package: $(basename "$deb") and $(basename "$tgz") are complete"
