#!/usr/bin/env bash
# Copies the header-only dependencies (and GoogleTest's sources) from this Debian machine into
# shared-deps/ (git-ignored), to be carried along to a bare GPU machine that lacks them.
# CMake uses a carried package only when find_package() does not find an installed one
# (cmake/Dependencies.cmake), in header-only mode. Libraries with compiled parts (matio, cairo,
# libpng, libjpeg) are not carried: without them the GPU machine builds the core only
# (-DNSAL_ALLOW_PARTIAL=ON), which is all scripts/gpu_check.sh needs.
#
# It also builds (in build-carry/: any x86-64 CPU, the CUDA backend for sm_80 and sm_90) this
# tree's GPU test binaries and GPU benchmarks and copies them into shared-deps/prebuilt/, with the
# libraries they name directly that a GPU machine may lack (not CUDA's, not OpenBLAS): gpu_check.sh
# runs them when its own build fails there (NSAL_CARRY_PREBUILT=0 skips this part;
# NSAL_PREBUILT_DIR names another build folder).
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

# Prebuilt GPU binaries: a fallback for a GPU machine whose own build fails. Built in their own
# folder for any x86-64 CPU (NSAL_NATIVE=OFF: the GPU machine's host may lack this one's
# instructions) and for sm_80 and sm_90, with the CUDA backend required.
if [ "${NSAL_CARRY_PREBUILT:-1}" = 1 ]; then
  bdir="${NSAL_PREBUILT_DIR:-build-carry}"
  bins=(nsal_cuda_tests nsal_cuda_al_tests bench_layers_gpu bench_models_gpu bench_perturb bench_ns_gpu)
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  cmake -S . -B "$bdir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DNSAL_NATIVE=OFF \
    -DNSAL_REQUIRE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="80;90" -DNSAL_ALLOW_PARTIAL=ON \
    -DNSAL_TESTS=ON -DNSAL_BENCHMARKS=ON >/dev/null
  # Only the targets this build knows (the acquisition tests and bench_ns_gpu need the full build).
  targets="$(cmake --build "$bdir" --target help 2>/dev/null)"
  known=()
  for b in "${bins[@]}"; do
    grep -qE "^($b: |\.\.\. $b\$)" <<<"$targets" && known+=("$b")
  done
  cmake --build "$bdir" -j "$(nproc)" --target "${known[@]}"
  rm -rf "$dest/prebuilt"
  mkdir -p "$dest/prebuilt/bin" "$dest/prebuilt/lib"
  for b in "${known[@]}"; do
    for d in tests benchmarks; do
      if [ -x "$bdir/$d/$b" ]; then cp "$bdir/$d/$b" "$dest/prebuilt/bin/"; fi
    done
  done
  # The libraries the binaries name directly, except the C/C++ runtime, CUDA's (the GPU machine
  # has its own) and OpenBLAS (36 MB; the GPU machine has it): gpu_check.sh uses a carried one
  # only where the machine lacks it.
  for b in "$dest"/prebuilt/bin/*; do
    for lib in $(readelf -d "$b" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
      case "$lib" in
        libc.so* | libm.so* | libstdc++* | libgcc_s* | ld-linux* | libdl.so* | libpthread* | \
          librt.so* | libcuda* | libcublas* | libcudnn* | libcurand* | libopenblas*) continue ;;
      esac
      path="$(ldd "$b" | awk -v l="$lib" '$1 == l {print $3}')"
      if [ -n "$path" ] && [ ! -e "$dest/prebuilt/lib/$lib" ]; then cp -L "$path" "$dest/prebuilt/lib/$lib"; fi
    done
  done
  {
    echo "commit $(git rev-parse HEAD)$([ -n "$(git status --porcelain -uno)" ] && echo ' (with uncommitted changes)')"
    echo "built on $(. /etc/os-release && echo "$PRETTY_NAME"), $(g++ --version | head -1), NSAL_NATIVE=OFF"
    echo "nvcc $(nvcc --version | grep -oE 'release [0-9.]+'), cuDNN headers $(grep -hE '#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ' \
      /usr/include/cudnn_version.h /usr/local/cuda/include/cudnn_version.h 2>/dev/null | head -3 | awk '{print $3}' | paste -sd.)"
    echo "architectures $(grep -rhoE 'sm_[0-9]+a?' "$bdir/build.ninja" "$bdir"/CMakeFiles/*.dir/flags.make 2>/dev/null | sort -u | paste -sd' ')"
    echo "binaries ${known[*]}"
    echo "libraries $(ls "$dest/prebuilt/lib" | paste -sd' ')"
  } >"$dest/prebuilt/MANIFEST"
  echo "prebuilt: $(tr '\n' ';' <"$dest/prebuilt/MANIFEST")" >>"$manifest"
fi

du -sh "$dest" | awk '{print "gpu_carry: " $2 " holds " $1}'
cat "$manifest"
