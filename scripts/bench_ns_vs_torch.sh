#!/usr/bin/env bash
# Noise-stability scoring (`paper` preset) in nsal and in idiomatic PyTorch on the same
# checkpoint, pool and thread count, one after the other; prints both times and the ratio.
#
#   scripts/bench_ns_vs_torch.sh CHECKPOINT DATASET [POOL=5000] [DRAWS=10]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
ckpt="$1"; data="$2"; pool="${3:-5000}"; draws="${4:-10}"
threads="${THREADS:-2}"
python="${NSAL_TORCH_PYTHON:-/usr/bin/python3}"
out="${OUT_DIR:-$(mktemp -d -t nsal-ns-XXXXXX)}"
mkdir -p "$out"
seq 0 $((pool - 1)) > "$out/pool.txt"
start=$("$python" -c 'import time; print(time.time())')
OMP_NUM_THREADS="$threads" "$here/build/nsal" score "$ckpt" --dataset "$data" --indices "$out/pool.txt" \
  -k "$draws" --batch-size 500 --device cpu --threads "$threads" -o "$out/nsal" --force
nsal_s=$("$python" -c "import time; print(f'{time.time() - $start:.2f}')")
torch_line=$(OMP_NUM_THREADS="$threads" "$python" "$here/benchmarks/torch_noise_stability.py" "$ckpt" \
  --dataset "$data" --indices "$out/pool.txt" --draws "$draws" --threads "$threads" \
  --csv "$out/torch.csv")
echo "$torch_line"
torch_s=$(echo "$torch_line" | sed -E 's/.*: ([0-9.]+) s$/\1/')
echo "nsal score (whole command, loading included): ${nsal_s} s"
echo "PyTorch (scoring only):                       ${torch_s} s"
echo "speed-up nsal over PyTorch: $("$python" -c "print(f'{$torch_s / $nsal_s:.2f}')")x"
# Agreement of the two rankings (different noise streams: rank correlation, not equality).
"$python" - "$out/nsal.csv" "$out/torch.csv" <<'PY'
import sys
import numpy as np
a = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
b = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1)
ra = np.argsort(np.argsort(a[:, 1])); rb = np.argsort(np.argsort(b[:, 1]))
n = len(ra)
print(f"Spearman rank correlation of the scores: {1 - 6 * ((ra - rb) ** 2).sum() / (n * (n * n - 1)):.3f}")
PY
echo "(files in $out)"
