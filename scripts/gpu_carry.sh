#!/usr/bin/env bash
# Copies the header-only dependencies (and GoogleTest's sources) from this Debian machine into
# shared-deps/ (git-ignored), to be carried along to a bare GPU machine that lacks them.
# CMake uses a carried package only when find_package() does not find an installed one
# (cmake/Dependencies.cmake), in header-only mode. Libraries with compiled parts (matio, cairo,
# libpng, libjpeg) are not carried: without them the GPU machine builds the core only
# (-DNSAL_ALLOW_PARTIAL=ON), which is all scripts/gpu_check.sh needs.
#
#   scripts/gpu_carry.sh [dest]      (default: shared-deps next to this script's repository)
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-shared-deps}"
mkdir -p "$dest/include"

manifest="$dest/MANIFEST"
echo "# carried from $(hostname) on $(date -u +%Y-%m-%dT%H:%M:%SZ) by scripts/gpu_carry.sh" >"$manifest"

carry_headers() {  # package, then folders/files under /usr/include
  local pkg="$1"
  shift
  local version
  version="$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)"
  if [ -z "$version" ]; then
    echo "gpu_carry: $pkg is not installed here; not carried" >&2
    echo "missing $pkg" >>"$manifest"
    return
  fi
  for p in "$@"; do
    rm -rf "$dest/include/$p"
    cp -r "/usr/include/$p" "$dest/include/$p"
  done
  echo "$pkg $version: $*" >>"$manifest"
}

# Header-only use: fmt (FMT_HEADER_ONLY), spdlog (over the external fmt), nlohmann-json,
# CLI11, toml++ (TOML_HEADER_ONLY).
carry_headers libfmt-dev fmt
carry_headers libspdlog-dev spdlog
carry_headers nlohmann-json3-dev nlohmann
carry_headers libcli11-dev CLI
carry_headers libtomlplusplus-dev toml++

# GoogleTest sources (tests/CMakeLists.txt builds them when no installed GTest is found).
if [ -f /usr/src/googletest/CMakeLists.txt ]; then
  rm -rf "$dest/googletest"
  cp -r /usr/src/googletest "$dest/googletest"
  echo "googletest $(dpkg-query -W -f='${Version}' googletest 2>/dev/null || echo '?'): sources" >>"$manifest"
else
  echo "missing googletest sources" >>"$manifest"
fi

du -sh "$dest" | awk '{print "gpu_carry: " $2 " holds " $1}'
cat "$manifest"
