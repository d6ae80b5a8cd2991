#!/usr/bin/env bash
# One-call GPU check for a bare GPU machine (no network): checks what the build relies on,
# builds the CUDA backend for the GPU's architecture, runs every GPU test, runs them again
# under compute-sanitizer (memcheck on all, racecheck on the kernels that use shared memory),
# runs the GPU benchmarks and the PyTorch peer of the model benchmark (when torch imports), and
# writes one report: $OUT/gpu-report.md (or build-gpu/gpu-report.md when OUT is not set), beside
# the test XML, the benchmark CSVs and the logs packed in gpu-logs.tar.gz (at most eight files
# in $OUT, all written early enough to come back from a run that is cut short). The report's
# summary is printed last.
#
# Budget: about 8 minutes in all (NSAL_GPU_CHECK_BUDGET seconds, default 480; under a 600 s
# command limit NSAL_GPU_CHECK_BUDGET=560 leaves room for packing the logs); every step runs
# under a timeout cut to what is left, and a step that runs out is reported as such (a
# sanitizer run or the tuned PyTorch rows dropped for lack of time as a warning). Order:
# build, GPU tests, benchmarks (nsal, then PyTorch), and the compute-sanitizer runs last, so
# that a slow sanitizer cannot take the benchmarks' time. NSAL_COMMIT names the commit in the
# report when the tree travelled without .git.
# Missing header-only dependencies can be carried in shared-deps/ (scripts/gpu_carry.sh);
# without matio/cairo/libpng/libjpeg only the core is built (-DNSAL_ALLOW_PARTIAL=ON), which is
# all this check needs. When the build here fails (or NSAL_GPU_SKIP_BUILD=1), the GPU binaries
# that gpu_carry.sh built on a CPU machine (shared-deps/prebuilt/) run instead, and the report
# says so and names their commit; a failed build stays a failure.
#
#   scripts/gpu_check.sh            (from anywhere; it works in the repository root)
#
# On a machine that lacks the header-only packages, run scripts/gpu_carry.sh here first and
# carry the (git-ignored) shared-deps/ folder along with the working tree.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT="$PWD"
T0=$(date +%s)
BUDGET="${NSAL_GPU_CHECK_BUDGET:-480}"
BUILD="${NSAL_GPU_BUILD_DIR:-build-gpu}"
RESULTS="${OUT:-$BUILD}"
LOGS="$BUILD/logs"
mkdir -p "$RESULTS" "$LOGS"
REPORT="$RESULTS/gpu-report.md"
export PATH="/usr/local/cuda/bin:$PATH"
JOBS="$(nproc 2>/dev/null || echo 4)"
FAILURES=()
WARNINGS=()
TARGETS=()
BENCH_TARGETS=""
TORCH_CSV=""
BUILD_OK=0

elapsed() { echo $(($(date +%s) - T0)); }
left() { echo $((BUDGET - $(elapsed))); }
say() { echo "[gpu_check $(elapsed)s] $*"; }
# run_step NAME CAP_SECONDS CMD...: runs CMD under timeout min(CAP, what is left - 10), logging
# to $LOGS/NAME.log; prints the exit status (124 = timed out, 125 = skipped for lack of time).
run_step() {
  local name="$1" cap="$2"
  shift 2
  local avail=$(($(left) - 10))
  local t=$((cap < avail ? cap : avail))
  if [ "$t" -lt 15 ]; then
    say "$name: skipped, ${avail}s left"
    echo "skipped: no time left" >"$LOGS/$name.log"
    STEP_RC=125
    return
  fi
  say "$name (timeout ${t}s)"
  local s
  s=$(date +%s)
  timeout --signal=TERM --kill-after=10 "$t" "$@" >"$LOGS/$name.log" 2>&1
  STEP_RC=$?
  STEP_SECONDS=$(($(date +%s) - s))
  say "$name: exit $STEP_RC after ${STEP_SECONDS}s"
}

# ---- 1. What the build relies on -------------------------------------------------------------
declare -A HAVE
check() {  # name, description, then a command that succeeds when present
  local name="$1" what="$2"
  shift 2
  if "$@" >/dev/null 2>&1; then HAVE[$name]="yes"; else HAVE[$name]="MISSING"; fi
  printf '| %s | %s | %s |\n' "$name" "${HAVE[$name]}" "$what" >>"$LOGS/prereq.md"
}
: >"$LOGS/prereq.md"
header_in() { for d in /usr/include /usr/local/cuda/include /usr/include/x86_64-linux-gnu \
  /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/x86_64-linux-gnu/openblas-pthread \
  /usr/include/openblas /usr/include/hdf5/serial "$ROOT/shared-deps/include"; do
  [ -e "$d/$1" ] && return 0
done; return 1; }
lib_present() { ldconfig -p 2>/dev/null | grep -q "$1" || ls /usr/local/cuda/lib64/"$1"* >/dev/null 2>&1; }
check nvidia-smi "driver query tool" command -v nvidia-smi
check g++ "host C++ compiler" command -v g++
check nvcc "CUDA compiler" command -v nvcc
check cmake "CMake >= 3.25" command -v cmake
check ninja "Ninja (else Unix Makefiles)" command -v ninja
check cudnn "cudnn.h + libcudnn" bash -c "$(declare -f header_in lib_present); ROOT=$ROOT; header_in cudnn.h && lib_present libcudnn.so"
CUDNN_ARGS=()
if [ "${HAVE[cudnn]}" = yes ]; then
  # Hand CMake the files found here (its own search can miss a runtime-only cuDNN).
  lib="$(ldconfig -p 2>/dev/null | awk '/libcudnn\.so/ {print $NF; exit}')"
  [ -n "$lib" ] || lib="$(ls /usr/local/cuda/lib64/libcudnn.so* 2>/dev/null | head -1)"
  for d in /usr/include /usr/local/cuda/include /usr/include/x86_64-linux-gnu; do
    if [ -f "$d/cudnn.h" ] && [ -n "$lib" ]; then
      CUDNN_ARGS=(-DNSAL_CUDNN_INCLUDE="$d" -DNSAL_CUDNN_LIB="$lib")
      break
    fi
  done
else
  # Last resort: the cuDNN that PyTorch's wheels bring (python package nvidia-cudnn-cu*).
  d="$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null)"
  lib="$(ls "$d"/lib/libcudnn.so* 2>/dev/null | head -1)"
  if [ -n "$d" ] && [ -f "$d/include/cudnn.h" ] && [ -n "$lib" ]; then
    CUDNN_ARGS=(-DNSAL_CUDNN_INCLUDE="$d/include" -DNSAL_CUDNN_LIB="$lib")
    export LD_LIBRARY_PATH="$d/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    HAVE[cudnn]=yes
    printf '| cudnn | yes (from the PyTorch wheel, %s) | cudnn.h + libcudnn |\n' "$d" >>"$LOGS/prereq.md"
  fi
fi
check openblas "OpenBLAS + cblas.h" bash -c "$(declare -f header_in lib_present); ROOT=$ROOT; header_in cblas.h && lib_present libopenblas"
check hdf5 "HDF5 C (serial)" bash -c "$(declare -f header_in); ROOT=$ROOT; header_in hdf5.h"
check fmt "fmt (installed or carried)" bash -c "$(declare -f header_in); ROOT=$ROOT; header_in fmt/format.h"
check gtest "GoogleTest (installed, sources or carried)" bash -c \
  "ls /usr/lib/x86_64-linux-gnu/cmake/GTest >/dev/null 2>&1 || [ -f /usr/src/googletest/CMakeLists.txt ] || [ -f $ROOT/shared-deps/googletest/CMakeLists.txt ]"
check compute-sanitizer "CUDA compute-sanitizer" command -v compute-sanitizer
for opt in spdlog/spdlog.h nlohmann/json.hpp CLI/CLI.hpp toml++/toml.h matio.h cairo/cairo.h png.h jpeglib.h; do
  check "$opt" "optional (data/, al/, app)" bash -c "$(declare -f header_in); ROOT=$ROOT; header_in $opt"
done
check torch "PyTorch (optional peer)" timeout 60 python3 -c "import torch"
say "prerequisites:"
cat "$LOGS/prereq.md"
for c in nvcc cmake g++ cudnn openblas hdf5 fmt gtest; do
  # CMake's own search is wider than these checks: configure runs anyway and decides.
  [ "${HAVE[$c]}" = yes ] || WARNINGS+=("prerequisite check did not find $c (configure decides)")
done

GPU_NAME="$(timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>/dev/null | head -1)"
CC="$(timeout 30 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
[ -n "$CC" ] || CC=90
say "GPU: ${GPU_NAME:-none answers} (building for sm_$CC)"

# ---- 2. Configure and build ------------------------------------------------------------------
GEN=(-G Ninja)
[ "${HAVE[ninja]}" = yes ] || GEN=(-G "Unix Makefiles")
BUILD_OK=0
configure_and_build() {
  run_step configure 90 cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_ARCHITECTURES="$CC" -DNSAL_REQUIRE_CUDA=ON -DNSAL_ALLOW_PARTIAL=ON \
    -DNSAL_TESTS=ON -DNSAL_BENCHMARKS=ON "${CUDNN_ARGS[@]}"
  if [ "$STEP_RC" != 0 ]; then
    FAILURES+=("configure failed (exit $STEP_RC): logs/configure.log")
    return
  fi
  TARGETS=(nsal_cuda_tests)
  # The acquisition GPU tests (al/, data/) exist where the full build is possible.
  cmake --build "$BUILD" --target help 2>/dev/null | grep -qE '^nsal_cuda_al_tests: |\.\.\. nsal_cuda_al_tests$' &&
    TARGETS+=(nsal_cuda_al_tests)
  BENCH_TARGETS=$(cmake --build "$BUILD" --target help 2>/dev/null |
    grep -oE 'bench_[a-z0-9_]*gpu[a-z0-9_]*|bench_perturb' | sort -u)
  for b in $BENCH_TARGETS; do TARGETS+=("$b"); done
  run_step build 240 cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}"
  BUILD_SECONDS=$STEP_SECONDS
  [ "$STEP_RC" = 0 ] && BUILD_OK=1 || FAILURES+=("build failed (exit $STEP_RC): logs/build.log")
}
if [ "${NSAL_GPU_SKIP_BUILD:-0}" = 1 ]; then
  WARNINGS+=("build skipped (NSAL_GPU_SKIP_BUILD=1)")
  [ -x shared-deps/prebuilt/bin/nsal_cuda_tests ] ||
    FAILURES+=("build skipped and no prebuilt binaries in shared-deps/prebuilt: nothing ran")
else
  configure_and_build
fi

# ---- 2b. Fallback: the binaries built on a CPU machine (scripts/gpu_carry.sh) ------------------
TESTS="$BUILD/tests/nsal_cuda_tests"
AL_TESTS="$BUILD/tests/nsal_cuda_al_tests"
BENCH_DIR="$BUILD/benchmarks"
BIN_ENV=()  # what nsal's binaries run under (the fallback's library path; nothing else's)
RUN_OK=$BUILD_OK
PREBUILT="$ROOT/shared-deps/prebuilt"
PREBUILT_NOTE=""
if [ "$BUILD_OK" != 1 ] && [ -x "$PREBUILT/bin/nsal_cuda_tests" ]; then
  # The CUDA libraries may sit in the toolkit's own folders; a library this machine lacks comes
  # from the carried ones, and only such a library (a carried copy never shadows the machine's).
  cuda_libs="/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib"
  libdir="$BUILD/prebuilt-libs"
  rm -rf "$libdir"
  mkdir -p "$libdir"
  for exe in "$PREBUILT"/bin/*; do
    for lib in $(LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$cuda_libs" ldd "$exe" 2>/dev/null |
      awk '/not found/ {print $1}'); do
      if [ -e "$PREBUILT/lib/$lib" ]; then ln -sf "$PREBUILT/lib/$lib" "$libdir/$lib"; fi
    done
  done
  BIN_ENV=(env "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$cuda_libs:$libdir")
  missing_libs() { "${BIN_ENV[@]}" ldd "$1" 2>/dev/null | awk '/not found/ {print $1}' | paste -sd' '; }
  TESTS="$PREBUILT/bin/nsal_cuda_tests"
  AL_TESTS="$PREBUILT/bin/nsal_cuda_al_tests"
  if [ -x "$AL_TESTS" ] && [ -n "$(missing_libs "$AL_TESTS")" ]; then
    AL_TESTS_SUMMARY="not run: the prebuilt binary lacks $(missing_libs "$AL_TESTS")"
    WARNINGS+=("prebuilt nsal_cuda_al_tests $AL_TESTS_SUMMARY")
    AL_TESTS=""
  fi
  BENCH_DIR="$PREBUILT/bin"
  BENCH_TARGETS=""
  for exe in "$PREBUILT"/bin/bench_*; do
    [ -x "$exe" ] || continue
    missing="$(missing_libs "$exe")"
    if [ -n "$missing" ]; then
      WARNINGS+=("prebuilt $(basename "$exe") not run: missing $missing")
    else
      BENCH_TARGETS+="$(basename "$exe") "
    fi
  done
  PREBUILT_NOTE="ran the prebuilt binaries instead: $(grep -m1 '^commit' "$PREBUILT/MANIFEST" 2>/dev/null); $(grep -m1 '^built on' "$PREBUILT/MANIFEST" 2>/dev/null)"
  pre_commit="$(awk '/^commit/ {print $2; exit}' "$PREBUILT/MANIFEST" 2>/dev/null)"
  here="${NSAL_COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}"
  if [ -n "$here" ] && [[ "$pre_commit" != "$here"* && "$here" != "$pre_commit"* ]]; then
    WARNINGS+=("the prebuilt binaries are of commit ${pre_commit:-?}, this tree is $here: they test that commit's code")
  fi
  missing="$(missing_libs "$TESTS")"
  if [ -n "$missing" ]; then
    FAILURES+=("prebuilt nsal_cuda_tests cannot load: missing $missing")
  else
    RUN_OK=1
    WARNINGS+=("$PREBUILT_NOTE")
    say "$PREBUILT_NOTE"
  fi
fi

# ---- Report helpers ---------------------------------------------------------------------------
# nsal vs PyTorch images/s per (what, batch, math, path), from the two CSVs (columns 2-7 hold no
# commas: what, batch, math, path, median_ms, images_per_s).
model_table() {
  local nsal="$1" torch="$2"
  awk -F, -v torch_file="$torch" '
    BEGIN {
      if (torch_file != "") {
        while ((getline line < torch_file) > 0) {
          n = split(line, f, ",")
          if (f[2] == "what") continue
          t[f[2] "|" f[3] "|" f[4] "|" f[5]] = f[7]
        }
      }
      print "| what | batch | math | path | nsal images/s | PyTorch images/s | nsal / PyTorch |"
      print "|---|---|---|---|---|---|---|"
    }
    FNR > 1 {
      k = $2 "|" $3 "|" $4 "|" $5
      tv = (k in t) ? t[k] : ""
      ok = ($7 + 0 > 0)  # a failed configuration has 0 images/s and says why in its check
      ratio = (ok && tv != "" && tv + 0 > 0) ? sprintf("%.2f", $7 / tv) : "n/a"
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, (ok ? sprintf("%.0f", $7) : "failed"), (tv != "" ? sprintf("%.0f", tv) : "not run"), ratio
    }' "$nsal"
}

# The head of the report, also printed last (the run's output keeps only its tail).
summary_block() {
  echo "# nsal GPU check"
  echo
  echo "- GPU: ${GPU_NAME:-none answered}"
  echo "- nvcc: $(nvcc --version 2>/dev/null | grep -oE 'release [0-9.]+' | head -1)"
  echo "- cmake: $(cmake --version 2>/dev/null | head -1)"
  echo "- commit: ${NSAL_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo '?')}"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); total wall time $(elapsed) s of a ${BUDGET} s budget"
  echo
  if [ ${#FAILURES[@]} -eq 0 ]; then echo "**Result: all checks passed.**"; else
    echo "**Result: ${#FAILURES[@]} problem(s):**"
    for f in "${FAILURES[@]}"; do echo "- $f"; done
  fi
  for w in "${WARNINGS[@]}"; do echo "- note: $w"; done
  echo
  echo "- GPU tests: ${TESTS_SUMMARY:-not run} (exit ${TESTS_RC:-n/a})"
  echo "- acquisition GPU tests: ${AL_TESTS_SUMMARY:-not run (core-only build)} (exit ${AL_TESTS_RC:-n/a})"
  echo "- memcheck: exit ${MEMCHECK_RC:-not run}; $(grep -m1 'ERROR SUMMARY' "$LOGS/memcheck.log" 2>/dev/null)"
  echo "- racecheck: exit ${RACECHECK_RC:-not run}; $(grep -m1 'RACECHECK SUMMARY\|ERROR SUMMARY' "$LOGS/racecheck.log" 2>/dev/null)"
  if [ "$BUILD_OK" != 1 ] && [ "${NSAL_GPU_SKIP_BUILD:-0}" != 1 ]; then
    echo
    echo "Configure and build errors:"
    echo '```'
    cat "$LOGS/configure.log" "$LOGS/build.log" 2>/dev/null | grep -m20 -E -A3 'CMake Error|error:|Error [0-9]'
    echo '```'
  fi
  for t in tests tests_al; do
    [ -f "$LOGS/$t.log" ] || continue
    echo
    echo '```'
    grep -E '^\[  (FAILED|SKIPPED) \]|Failure|error:|Expected|Which is|Value of|^\[  PASSED|rel_l2=' "$LOGS/$t.log" | head -60
    echo '```'
  done
  if [ -s "$RESULTS/bench_models_gpu.csv" ]; then
    echo
    echo "## resnet18-cifar: nsal vs PyTorch (images/s, same GPU, same run)"
    echo
    [ -n "$TORCH_CSV" ] || echo "PyTorch peer not run (${HAVE[torch]:-?} torch; see logs/torch_models_gpu.log)."
    [ -n "$TORCH_CSV" ] && echo "PyTorch: $(grep -m1 '^torch_models_gpu:' "$LOGS/torch_models_gpu.log" 2>/dev/null)"
    echo
    model_table "$RESULTS/bench_models_gpu.csv" "$TORCH_CSV"
    echo
    echo "Like for like: fp32 rows (strict fp32 on both), bf16 fused rows (bf16 channels-last on"
    echo "both). The bf16 unfused and bf16 train rows differ: nsal keeps float32 activations there"
    echo "(TF32 convolutions, bf16 GEMM inputs), PyTorch runs bf16 autocast channels-last. nsal's"
    echo "training uses deterministic cuDNN algorithms only, PyTorch its defaults. Failed rows:"
    echo "logs/bench_models_gpu.log and the CSV's check column."
  fi
}

# Writes the whole report (after the tests and again at the end, so that a run cut short still
# brings one back).
write_report() {
{
  summary_block
  echo
  echo "## Prerequisites"
  echo
  echo "| what | present | role |"
  echo "|---|---|---|"
  cat "$LOGS/prereq.md"
  echo
  echo "## Build"
  echo
  echo "Targets: ${TARGETS[*]:-none}; build $( [ "$BUILD_OK" = 1 ] && echo "ok in ${BUILD_SECONDS:-?} s" || echo "failed or skipped")."
  [ -n "$PREBUILT_NOTE" ] && echo "Fallback: $PREBUILT_NOTE."
  grep -E 'nsal: (missing|using the carried|CUDA backend|building GoogleTest)' "$LOGS/configure.log" 2>/dev/null | sed 's/^/    /'
  echo
  if [ -f "$RESULTS/gpu-tests.xml" ]; then
    echo
    echo "## Recorded by the tests (algorithms, fused path, reduced-precision errors)"
    echo
    echo '```'
    # gtest writes RecordProperty either as testcase attributes or as <property> elements.
    grep -oE '(algorithms|autotuned_[a-z_0-9]+|fused_[a-z_0-9]+|tf32_rel_l2|bf16_[a-z_0-9]+)="[^"]*"|name="(algorithms|autotuned_[a-z_0-9]+|fused_[a-z_0-9]+|tf32_rel_l2|bf16_[a-z_0-9]+)" value="[^"]*"' \
      "$RESULTS/gpu-tests.xml" | sort | uniq -c | head -60
    echo '```'
  fi
  for b in $BENCH_TARGETS; do
    echo
    echo "## $b"
    echo
    echo '```'
    cat "$LOGS/$b.log" 2>/dev/null | head -200
    echo '```'
  done
  for m in fp32 bf16; do
    if [ -f "$LOGS/torch_ns_gpu_$m.log" ]; then
      echo
      echo "## torch_noise_stability.py --device cuda --math $m (peer of bench_ns_gpu)"
      echo
      echo '```'
      tail -5 "$LOGS/torch_ns_gpu_$m.log"
      echo '```'
    fi
  done
  if [ -f "$LOGS/torch_models_gpu.log" ]; then
    echo
    echo "## torch_models_gpu"
    echo
    echo '```'
    head -60 "$LOGS/torch_models_gpu.log"
    echo '```'
  fi
} >"$REPORT"
# The logs travel packed (a device run brings back at most eight files from $OUT), packed again
# with each report so that a run cut short still brings back the logs its report points to.
if [ "$RESULTS" != "$BUILD" ]; then
  tar -czf "$RESULTS/gpu-logs.tar.gz" -C "$BUILD" logs 2>/dev/null || say "could not pack the logs"
fi
}

# ---- 3. GPU tests ----------------------------------------------------------------------------
summary() {  # gtest log -> "P passed, F failed, S skipped"
  local log="$1"
  local p f s
  p=$(grep -c '^\[       OK \]' "$log" 2>/dev/null)
  f=$(grep -c '^\[  FAILED  \] [A-Za-z].*(' "$log" 2>/dev/null)
  s=$(grep -c '^\[  SKIPPED \] [A-Za-z].*(' "$log" 2>/dev/null)
  echo "${p:-0} passed, ${f:-0} failed, ${s:-0} skipped"
}
if [ "$RUN_OK" = 1 ]; then
  run_step tests 180 "${BIN_ENV[@]}" "$TESTS" --gtest_output="xml:$RESULTS/gpu-tests.xml"
  TESTS_RC=$STEP_RC
  TESTS_SUMMARY="$(summary "$LOGS/tests.log")"
  [ "$TESTS_RC" = 0 ] || FAILURES+=("GPU tests: exit $TESTS_RC ($TESTS_SUMMARY)")
  # NSAL_REQUIRE_GPU's message (tests/gpu_skip.h); the two tests written for machines without a
  # device skip here on purpose with other words.
  grep -q 'GPU test skipped' "$LOGS/tests.log" &&
    FAILURES+=("GPU tests were SKIPPED on the GPU machine: $(grep -m1 'GPU test skipped' "$LOGS/tests.log")")
  # Acquisition on the GPU against the CPU (full builds only).
  if [ -n "$AL_TESTS" ] && [ -x "$AL_TESTS" ]; then
    run_step tests_al 120 "${BIN_ENV[@]}" "$AL_TESTS"
    AL_TESTS_RC=$STEP_RC
    AL_TESTS_SUMMARY="$(summary "$LOGS/tests_al.log")"
    [ "$AL_TESTS_RC" = 0 ] || FAILURES+=("acquisition GPU tests: exit $AL_TESTS_RC ($AL_TESTS_SUMMARY)")
    grep -q 'GPU test skipped' "$LOGS/tests_al.log" &&
      FAILURES+=("acquisition GPU tests were SKIPPED on the GPU machine: $(grep -m1 'GPU test skipped' "$LOGS/tests_al.log")")
  fi
  write_report

fi

# ---- 4. GPU benchmarks -----------------------------------------------------------------------
if [ "$RUN_OK" = 1 ]; then
  for b in $BENCH_TARGETS; do
    exe="$BENCH_DIR/$b"
    [ -x "$exe" ] || continue
    if [ "$b" = bench_perturb ]; then
      run_step "$b" 120 "${BIN_ENV[@]}" "$exe" --out "$RESULTS/$b.json"
    elif [ "$b" = bench_ns_gpu ]; then  # (full builds only: it runs acquisition's scoring code)
      run_step "$b" 150 "${BIN_ENV[@]}" "$exe" --out "$BUILD/ns"
    else
      run_step "$b" 150 "${BIN_ENV[@]}" "$exe" "$RESULTS/$b.csv"
    fi
    [ "$STEP_RC" = 0 ] || FAILURES+=("$b: exit $STEP_RC (logs/$b.log)")
  done
fi

# The PyTorch peer of bench_models_gpu (optional: only where torch imports and sees the GPU).
if [ "$RUN_OK" = 1 ] && [ "${HAVE[torch]}" = yes ]; then
  run_step torch_models_gpu 150 python3 -u benchmarks/torch_models_gpu.py "$RESULTS/torch_models_gpu.csv"
  if [ "$STEP_RC" = 0 ] && [ -s "$RESULTS/torch_models_gpu.csv" ]; then
    TORCH_CSV="$RESULTS/torch_models_gpu.csv"
  elif [ "$STEP_RC" != 0 ]; then
    FAILURES+=("torch_models_gpu: exit $STEP_RC (logs/torch_models_gpu.log)")
  fi
fi

# The PyTorch peer of bench_ns_gpu: the same weights and pool (its .npy export, which needs no
# h5py), fp32 and bf16.
if [ "$RUN_OK" = 1 ] && [ "${HAVE[torch]}" = yes ] && [ -s "$BUILD/ns/ns_export/meta.json" ]; then
  seq 0 9999 >"$BUILD/ns/pool.txt"
  for math in fp32 bf16; do
    run_step "torch_ns_gpu_$math" 120 python3 -u benchmarks/torch_noise_stability.py \
      --export "$BUILD/ns/ns_export" --indices "$BUILD/ns/pool.txt" \
      --batch-size 1000 --device cuda --math "$math"
    [ "$STEP_RC" = 0 ] || FAILURES+=("torch_ns_gpu_$math: exit $STEP_RC (logs/torch_ns_gpu_$math.log)")
  done
fi

# ---- 5. The GPU tests again under compute-sanitizer (last: they are the slowest step) ------------
if [ "$RUN_OK" = 1 ]; then
  if [ "${HAVE[compute-sanitizer]}" = yes ]; then
    # memcheck: every GPU test (out-of-bounds and misaligned accesses, API errors), except the
    # whole-model comparisons, whose many large cuDNN kernels run too slowly instrumented; their
    # ops are all exercised by the op and layer tests.
    # The autotuning test (every forward algorithm through cudnnFindConvolutionForwardAlgorithmEx)
    # and the bf16 unit shapes are left out for time as well.
    run_step memcheck 180 "${BIN_ENV[@]}" compute-sanitizer --tool memcheck --error-exitcode 99 \
      --print-limit 20 "$TESTS" \
      --gtest_filter='-CudaModels.ResNet18*:CudaModels.MnistCnn*:CudaModels.Sgd*:CudaModels.Fused*:CudaModels.TrainingStep*:CudaModels.Infer*:CudaModels.TrainingPlan*:CudaBf16.ResNets*:CudaBf16.ConvBnUnit*:CudaConv.Autotuned*'
    MEMCHECK_RC=$STEP_RC
    # racecheck: nsal's kernels that share data through shared memory (block reductions, the
    # perturber's block scan, selection and deviation reductions, the eval BatchNorm backward).
    # Only hazards racecheck calls
    # errors fail the run, and where this compute-sanitizer can, the libraries' kernels (CUB's
    # sorts and scans, cuDNN) are not instrumented: racecheck has reported hazards inside CUB
    # that are not races.
    RACE_OPTS=()
    CS_HELP="$(compute-sanitizer --help 2>&1)"
    grep -q -- '--racecheck-detect-level' <<<"$CS_HELP" && RACE_OPTS+=(--racecheck-detect-level error)
    if grep -q -- '--kernel-name-exclude' <<<"$CS_HELP"; then
      RACE_OPTS+=(--kernel-name-exclude kns=cub --kernel-name-exclude kns=thrust
        --kernel-name-exclude kns=cudnn)
    fi
    run_step racecheck 90 "${BIN_ENV[@]}" compute-sanitizer --tool racecheck --error-exitcode 99 \
      ${RACE_OPTS[@]+"${RACE_OPTS[@]}"} --print-limit 20 "$TESTS" \
      --gtest_filter='CudaElementwise.Reductions*:CudaElementwise.BiasAdd*:CudaSoftmaxLoss.*:CudaNormPool.GlobalAvg*:CudaLayers.BatchNorm*:NoiseCuda.*:SelectCuda.*:DeviationCuda.*'
    RACECHECK_RC=$STEP_RC
    for t in memcheck racecheck; do
      rc_var="${t^^}_RC"
      if [ "${!rc_var}" = 125 ]; then  # no time left for it: say so, it found nothing wrong
        WARNINGS+=("$t skipped: no time left in the ${BUDGET} s budget")
      elif [ "${!rc_var}" != 0 ]; then
        FAILURES+=("$t: exit ${!rc_var}: $(grep -m1 -E 'ERROR SUMMARY|Device not supported|error' "$LOGS/$t.log")")
      fi
    done
  else
    FAILURES+=("compute-sanitizer not found: the memcheck and racecheck runs were skipped")
  fi
fi

# The cudnn.benchmark rows of the PyTorch peer (peers of nsal's fused-tuned and sgd-tuned rows), in a process
# of their own: PyTorch keeps the first algorithm it ran for a shape, tuned or not. Last, so
# that a short budget drops them before the noise-stability peer or the sanitizer runs.
if [ "$RUN_OK" = 1 ] && [ -n "$TORCH_CSV" ]; then
  run_step torch_models_gpu_tuned 120 python3 -u benchmarks/torch_models_gpu.py --tuned \
    "$RESULTS/torch_models_gpu_tuned.csv"
  if [ "$STEP_RC" = 0 ] && [ -s "$RESULTS/torch_models_gpu_tuned.csv" ]; then
    tail -n +2 "$RESULTS/torch_models_gpu_tuned.csv" >>"$TORCH_CSV"
  elif [ "$STEP_RC" = 125 ]; then
    WARNINGS+=("torch_models_gpu --tuned skipped: no time left")
  elif [ "$STEP_RC" != 0 ]; then
    FAILURES+=("torch_models_gpu --tuned: exit $STEP_RC (logs/torch_models_gpu_tuned.log)")
  fi
fi

# ---- 6. Report --------------------------------------------------------------------------------
write_report
say "report: $REPORT (logs in $LOGS)"
echo
summary_block
[ ${#FAILURES[@]} -eq 0 ]
