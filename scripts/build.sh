#!/usr/bin/env bash
# Configures and builds nsal into build/ (Release). Extra arguments go to cmake's configure step,
# e.g. scripts/build.sh -DNSAL_CUDA=OFF for a quick CPU-only build.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja "$@"
cmake --build build -j "$(nproc)"
