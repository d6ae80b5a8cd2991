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
seed=${NSAL_FUZZ_SEED:-0}  # 0: a new random seed each run; CI fixes one so its runs repeat

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt-get install clang)"; exit 2; }
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DNSAL_FUZZ=ON -DNSAL_CUDA=OFF \
  -DNSAL_TESTS=OFF -DNSAL_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" $(printf -- '--target fuzz_%s ' "${targets[@]}")

failed=()
hdf5_defects=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  # Targets that hand their input to a library by file name write it to a temporary file; a
  # crash inside that library leaves the file behind, so each target gets its own scratch
  # folder, removed afterwards.
  scratch="$build/tmp/$t"
  rm -rf "$scratch"
  mkdir -p "$corpus" "$artifacts" "$scratch"
  echo "fuzz: $t for ${seconds}s"
  # The working corpus grows in build-fuzz; tests/fuzz_corpus/<t> only seeds it.
  # HDF5 1.10 leaks on many error paths of a corrupt file (data/fuzz/lsan.supp names those seen
  # through libmatio, which needs the full unwinder to see HDF5's frames); for the HDF5 dataset
  # target itself leak checking is off and ASan/UBSan look for crashes and undefined behaviour.
  # Their leaks also add up over a run, so these targets get a larger resident-memory limit; one
  # allocation over 2 GB (what a corrupt size asks for) still counts as a failure everywhere.
  leaks="detect_leaks=1"
  rss=2048
  case "$t" in
    svhn_mat) leaks="detect_leaks=1:fast_unwind_on_malloc=0" rss=6144 ;;
    dataset) leaks="detect_leaks=0" rss=6144 ;;
  esac
  if ! TMPDIR="$scratch" \
      ASAN_OPTIONS="$leaks:allocator_may_return_null=1:suppressions=$PWD/data/fuzz/asan.supp" \
      LSAN_OPTIONS=suppressions="$PWD/data/fuzz/lsan.supp":print_suppressions=0 \
      "$build/data/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb="$rss" -malloc_limit_mb=2048 \
      -max_len=1048576 -print_final_stats=1 -artifact_prefix="$artifacts/" -seed="$seed" \
      "$corpus" "tests/fuzz_corpus/$t" 2>"$build/fuzz_$t.log"; then
    # The first frame of the report that is not libc, the sanitizer or libFuzzer: a crash or hang
    # there inside libhdf5 is a defect of HDF5 1.10's reader (its global heap code trusts
    # corrupt sizes), reported but not counted against nsal; anything else fails the run.
    # (head closes the pipe early: "|| true" keeps pipefail from ending the script.)
    frame=$(grep -E '^ +#[0-9]+ ' "$build/fuzz_$t.log" | grep -vE '__interceptor_|__asan|__sanitizer|fuzzer::|sysdeps/|libc\.so' | head -n 1 || true)
    if [ "$t" = dataset ] && [[ "$frame" == *libhdf5* ]]; then
      where=$(echo "$frame" | grep -oE ' in [A-Za-z0-9_]+' | head -n 1 || true)
      hdf5_defects+=("$t:${where:- in libhdf5}")
      echo "fuzz: $t: a crash inside HDF5 itself ($frame); input in $artifacts"
    else
      failed+=("$t")
      echo "fuzz: $t FAILED; input(s) in $artifacts, log in $build/fuzz_$t.log"
      tail -n 30 "$build/fuzz_$t.log"
    fi
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$build/fuzz_$t.log" |
      sed "s/^/fuzz: $t: /"
  fi
  rm -rf "$scratch"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]}"
  exit 1
fi
[ ${#hdf5_defects[@]} -eq 0 ] || echo "fuzz: crashes inside HDF5, not nsal: ${hdf5_defects[*]}"
echo "fuzz: no crashes in nsal's code: ${#targets[@]} targets x ${seconds}s"
