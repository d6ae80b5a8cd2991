#!/usr/bin/env bash
# How noise-stability acquisition time grows with the pool size and with K (it should be linear)
# and with the number of samples selected (it should be flat), from `nsal score` / `nsal query`'s
# own timing lines. Prints one table.
#
#   scripts/bench_acquisition_scaling.sh CHECKPOINT DATASET [PRESET=paper]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
ckpt="$1"; data="$2"; preset="${3:-paper}"
nsal="$here/build/nsal"
out="$(mktemp -d -t nsal-scaling-XXXXXX)"
threads="${THREADS:-2}"

seconds_of() {  # total of the timing line: clean + perturb+restore + perturbed + selection
  sed -nE 's/^time: clean pass ([0-9.]+)s.*perturb\+restore ([0-9.]+)s.*perturbed passes ([0-9.]+)s.*selection ([0-9.]+)s.*/\1 \2 \3 \4/p' |
    awk '{printf "%.3f %.3f\n", $1 + $2 + $3 + $4, $2}'
}
score() {  # pool draws
  seq 0 $(($1 - 1)) > "$out/pool.txt"
  "$nsal" score "$ckpt" --dataset "$data" --indices "$out/pool.txt" -k "$2" --preset "$preset" \
    --device cpu --threads "$threads" -o "$out/s" --force 2>/dev/null | seconds_of
}

echo "preset $preset, checkpoint $ckpt, $threads threads"
printf "%-28s %12s %18s\n" "case" "seconds" "perturb+restore s"
for pool in 1000 2000 4000 8000; do
  read -r total pert < <(score "$pool" 10)
  printf "%-28s %12s %18s\n" "pool $pool, K 10" "$total" "$pert"
done
for k in 5 10 20; do
  read -r total pert < <(score 2000 "$k")
  printf "%-28s %12s %18s\n" "pool 2000, K $k" "$total" "$pert"
done
seq 0 3999 > "$out/pool.txt"
for n in 10 100 1000; do
  start=$(date +%s%N)
  "$nsal" query "$ckpt" --dataset "$data" --indices "$out/pool.txt" -k 10 --preset "$preset" \
    -n "$n" --device cpu --threads "$threads" -o "$out/q.txt" > /dev/null 2>&1
  end=$(date +%s%N)
  printf "%-28s %12s %18s\n" "query N $n, pool 4000, K 10" \
    "$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", (b - a) / 1e9}')" "-"
done
