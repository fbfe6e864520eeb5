#!/usr/bin/env bash
# Run on the Debian build machine (not on the GPU machine): copies the build dependencies the GPU machine
# (Ubuntu 24.04, no network) may lack from the installed Debian packages into build/gpu-deps, laid out as
# under /usr (include/, lib/x86_64-linux-gnu/ with its cmake/ and pkgconfig/, share/cmake, share/pkgconfig),
# so that CMAKE_PREFIX_PATH=build/gpu-deps finds them with the packages' own CMake files. Header-only ones
# (nlohmann-json, CLI11) and the compiled ones (simdjson, zstd, toml++, zlib, Google Benchmark, GoogleTest):
# headers, shared libraries (the real file plus its soname and development links, relative) or static
# archives, CMake and pkg-config files with every path relative to where they lie.
#
# bench/gpu/check.sh puts build/gpu-deps first on CMAKE_PREFIX_PATH and on the library paths when it
# exists; the device tool brings it along with carry ["build/gpu-deps"] (64 MiB at most).
#
#   bash bench/gpu/bundle-deps.sh [DEST]   (default: build/gpu-deps in the repository)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEST="${1:-$ROOT/build/gpu-deps}"
ARCH_LIB=lib/x86_64-linux-gnu
PACKAGES=(libsimdjson-dev libzstd-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libbenchmark-dev
  libgtest-dev zlib1g-dev)
LIMIT_BYTES=$((64 * 1024 * 1024))

for tool in dpkg-query objdump; do
  command -v "$tool" >/dev/null || { echo "bundle-deps.sh: needs $tool (a Debian machine)" >&2; exit 2; }
done
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bundle-deps.sh: not installed here: ${missing[*]} (apt-get install them first)" >&2
  exit 2
fi

rm -rf "$DEST"
mkdir -p "$DEST/$ARCH_LIB"

# copy_so LINK: the real file under its own name, then relative links for its soname and for LINK's name.
copy_so() {
  local link=$1 real soname
  real=$(readlink -f "$link")
  cp "$real" "$DEST/$ARCH_LIB/"
  soname=$(objdump -p "$real" | awk '$1 == "SONAME" { print $2 }')
  if [[ -n $soname && $soname != "$(basename "$real")" ]]; then
    ln -sfn "$(basename "$real")" "$DEST/$ARCH_LIB/$soname"
  fi
  if [[ $(basename "$link") != "$(basename "$real")" ]]; then
    ln -sfn "${soname:-$(basename "$real")}" "$DEST/$ARCH_LIB/$(basename "$link")"
  fi
}

for p in "${PACKAGES[@]}"; do
  while IFS= read -r f; do
    case "$f" in
      /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/* | /usr/src/*) continue ;;
      /usr/*) ;;
      *) continue ;;
    esac
    if [[ $f == *.so && -L $f ]]; then
      copy_so "$f"
    elif [[ -f $f && ! -L $f ]]; then
      install -D -m 0644 "$f" "$DEST/${f#/usr/}"
    fi
  done < <(dpkg-query -L "$p")
done

# pkg-config files: every /usr becomes ${prefix}, and prefix is relative to the .pc file (${pcfiledir}).
while IFS= read -r pc; do
  rel=$(realpath --relative-to="$(dirname "$pc")" "$DEST")
  # shellcheck disable=SC2016  # ${prefix} is pkg-config's variable, written literally
  sed -i -e '/^prefix=/d' -e 's|=/usr/|=${prefix}/|' -e 's|-\([IL]\)/usr/|-\1${prefix}/|g' "$pc"
  sed -i "1i prefix=\${pcfiledir}/$rel" "$pc"
done < <(find "$DEST" -name '*.pc')

# The CMake files compute their prefix from their own location. The only /usr they name is the usrmerge
# idiom (take the original prefix when loaded through /lib -> /usr/lib), which never matches in the bundle;
# anything else naming /usr would point the build back at the system copy.
mapfile -t absolute < <(grep -rnE '/usr/(include|lib|share)' --include='*.cmake' --include='*.pc' "$DEST" |
  grep -vE '_realOrig|set\(_IMPORT_PREFIX "/usr/|cross-prefix symbolic link' || true)
if ((${#absolute[@]})); then
  echo "bundle-deps.sh: absolute /usr paths left:" >&2
  printf '  %s\n' "${absolute[@]}" >&2
  exit 1
fi

bytes=$(du -sb "$DEST" | cut -f1)
echo "bundled ${PACKAGES[*]}"
echo "into $DEST: $((bytes / 1024)) KiB, $(find "$DEST" -type f | wc -l) files"
if ((bytes > LIMIT_BYTES)); then
  echo "bundle-deps.sh: over the device tool's 64 MiB carry limit" >&2
  exit 1
fi
