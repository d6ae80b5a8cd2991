#!/usr/bin/env bash
# Builds the parsers' libFuzzer targets (clang, AddressSanitizer + UBSan) and runs each for a
# bounded time, starting from tests/fuzz_corpus/<target>/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#
# A crash leaves its input in build-fuzz/artifacts/<target>/ and makes the script exit 1. Once
# the bug is fixed, copy the input into tests/fuzz_corpus/<target>/: the test suite replays that
# folder on every run (DataFuzzCorpus), so it stays fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx cifar csv png jpeg svhn_mat dataset)
build=${NSAL_FUZZ_BUILD:-build-fuzz}

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt-get install clang)"; exit 2; }
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DNSAL_FUZZ=ON -DNSAL_CUDA=OFF \
  -DNSAL_TESTS=OFF -DNSAL_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" $(printf -- '--target fuzz_%s ' "${targets[@]}")

failed=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  echo "fuzz: $t for ${seconds}s"
  # The working corpus grows in build-fuzz; tests/fuzz_corpus/<t> only seeds it.
  if ! ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
      "$build/data/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
      -max_len=1048576 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$corpus" "tests/fuzz_corpus/$t" 2>"$build/fuzz_$t.log"; then
    failed+=("$t")
    echo "fuzz: $t FAILED; input(s) in $artifacts, log in $build/fuzz_$t.log"
    tail -n 30 "$build/fuzz_$t.log"
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$build/fuzz_$t.log" |
      sed "s/^/fuzz: $t: /"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]}"
  exit 1
fi
echo "fuzz: no crashes in ${#targets[@]} targets x ${seconds}s"
