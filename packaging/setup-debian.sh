#!/usr/bin/env bash
# Installs the Debian 12 packages ScMoE Studio needs (packaging/debian-packages.txt), only those missing.
# Usage: packaging/setup-debian.sh build|test
#   build: what building and running needs; test: that plus what the test suite needs (clang, Xvfb tools).
# Idempotent: when nothing is missing it does not touch apt at all (fast, works offline).
set -euo pipefail

group=${1:-build}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
list="$here/debian-packages.txt"

case "$group" in
  build) wanted_groups="build" ;;
  test) wanted_groups="build test" ;;
  *) echo "setup-debian.sh: unknown group '$group' (expected build or test)" >&2; exit 2 ;;
esac

packages=()
while read -r g pkg _; do
  [[ -z "${g:-}" || "$g" == \#* ]] && continue
  for w in $wanted_groups; do
    [[ "$g" == "$w" ]] && packages+=("$pkg")
  done
done < "$list"

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} Debian packages for '$group' are installed"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "setup: missing packages (${missing[*]}) and not root, and sudo is not installed: run as root" >&2
  exit 1
fi

echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
