#!/usr/bin/env bash
# The quick start: installs what nsal needs (Debian packages), builds it, converts Fashion-MNIST
# from Debian's dataset-fashion-mnist package, and runs the main job: noise stability (both
# presets) against random and entropy sampling with mnist-cnn, a few active-learning cycles.
# It ends by printing the comparison table and where the learning-curve plot is.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh

mkdir -p datasets runs
if [ ! -f datasets/fashion-mnist.h5 ]; then
  build/nsal data convert /usr/share/datasets/fashion-mnist --format idx \
    --class-names fashion-mnist -o datasets/fashion-mnist.h5
fi

out="runs/quick-fashion-mnist-$(date +%Y%m%d-%H%M%S)"
build/nsal run configs/quick-fashion-mnist.toml --dataset datasets/fashion-mnist.h5 -o "$out"
if build/nsal report --help >/dev/null 2>&1; then
  build/nsal report "$out"
fi
echo "run directory: $out"
