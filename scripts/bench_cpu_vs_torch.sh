#!/usr/bin/env bash
# Runs bench_models_cpu (nsal) and benchmarks/torch_models_cpu.py (PyTorch) on the same cases and
# thread count, one after the other, and prints both figures and their ratio per case. nsal runs
# a second time with its 3x3 convolutions as im2col + GEMM instead of Winograd (--no-winograd),
# so the table also shows what Winograd brings.
#
#   scripts/bench_cpu_vs_torch.sh [BUILD_DIR] [-- extra options for both, e.g. --repeats 5]
#
# Defaults: build dir "build", 2 threads, 3 timed repeats. Writes the two JSON files and the
# table into $OUT_DIR (default: a temporary folder that is printed).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
python="${NSAL_TORCH_PYTHON:-/usr/bin/python3}"
threads="${THREADS:-2}"
out="${OUT_DIR:-$(mktemp -d -t nsal-bench-XXXXXX)}"
mkdir -p "$out"
bench="$build/benchmarks/bench_models_cpu"
[[ -x "$bench" ]] || { echo "missing $bench: build the benchmarks first" >&2; exit 1; }

echo "== machine"
if [[ -x "$build/nsal" ]]; then "$build/nsal" info; fi
echo "== nsal"
OMP_NUM_THREADS="$threads" "$bench" --threads "$threads" --json "$out/nsal.json" "$@"
echo "== nsal, im2col + GEMM for every convolution"
OMP_NUM_THREADS="$threads" "$bench" --threads "$threads" --json "$out/nsal_im2col.json" --no-winograd \
  "$@"
echo "== torch"
OMP_NUM_THREADS="$threads" "$python" "$here/benchmarks/torch_models_cpu.py" --threads "$threads" \
  --json "$out/torch.json" "$@"
echo "== nsal / torch"
"$python" - "$out/nsal.json" "$out/torch.json" "$out/nsal_im2col.json" <<'PY' | tee "$out/table.txt"
import json, sys
a, b, c = (json.load(open(p)) for p in sys.argv[1:4])
key = lambda r: (r["case"], r["batch"])
tb = {key(r): r for r in b["results"]}
tc = {key(r): r for r in c["results"]}
print(f"{a['framework']} vs {b['framework']}, {a['threads']} threads, cpu: {a['cpu']}")
print(f"{'case':<28} {'nsal img/s':>11} {'torch img/s':>12} {'ratio':>6} {'im2col img/s':>13}   "
      f"{'nsal peak MiB':>13} {'torch peak MiB':>14}   {'params MiB':>10}")
for r in a["results"]:
    t = tb.get(key(r))
    if t is None:
        continue
    i = tc.get(key(r), {}).get("images_per_s", float("nan"))
    print(f"{r['case'] + ' b' + str(r['batch']):<28} {r['images_per_s']:11.1f} "
          f"{t['images_per_s']:12.1f} {r['images_per_s'] / t['images_per_s']:6.2f} {i:13.1f}   "
          f"{r['peak_over_base_kb'] / 1024:13.1f} {t['peak_over_base_kb'] / 1024:14.1f}   "
          f"{r['param_bytes'] / 1048576:10.1f}")
print("peak: resident memory above the process before the model (VmHWM); ratio > 1: nsal faster;")
print("im2col: nsal with Winograd switched off (--no-winograd)")
PY
echo "(files in $out)"
