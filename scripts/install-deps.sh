#!/usr/bin/env bash
# Installs everything nsal needs from Debian's packages. Idempotent: does nothing when all is there.
# The CUDA toolkit (nvcc, cuBLAS, cuRAND, cuDNN) is taken from /usr/local/cuda when present;
# without it the CPU backend still builds and the CUDA backend is skipped.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libopenblas-openmp-dev libhdf5-dev zlib1g-dev libpng-dev libjpeg-dev libmatio-dev libcairo2-dev
  libgtest-dev googletest libbenchmark-dev
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  clang-format clang libclang-rt-dev
  dataset-fashion-mnist
  python3 python3-numpy python3-h5py
)
# PyTorch on the CPU: the peer for layer checks and benchmarks. Large; skip with NSAL_NO_TORCH=1.
[ "${NSAL_NO_TORCH:-0}" = 1 ] || packages+=(python3-torch)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi

if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "install-deps: CUDA toolkit found ($( (command -v nvcc || echo /usr/local/cuda/bin/nvcc) ))"
else
  echo "install-deps: no CUDA toolkit (nvcc) found; the CUDA backend will not be compiled"
fi
