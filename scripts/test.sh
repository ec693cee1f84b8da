#!/usr/bin/env bash
# test.sh: builds qdrift and runs every test, in three stages (docs/robustness.md):
#   1. build/ (Release, via setup.sh): unit tests, the ONNX node conformance suite and the
#      hostile-input corpus (ctest labels unit, conformance, bad_inputs); on an AVX-512
#      machine the unit and int8 tests run a second time with oneDNN capped at AVX2;
#   2. build-asan/: the same tests under ASan+UBSan (libraries -O1, test code -O0, line
#      tables only; no GUI, no benchmarks);
#   3. build-fuzz/, when clang++-14 is installed: a short libFuzzer run of every target,
#      seeded from testdata/ and ONNX's node tests (tests/fuzz/run_fuzz.sh).
# The whole command must stay well inside 20 minutes on a 2-core CI machine from a fresh
# clone, apt installs included; each stage prints how long it took.
#
#   QDRIFT_TEST_SANITIZE=0   skip stage 2
#   QDRIFT_FUZZ_SECONDS=N    seconds per fuzz target in stage 3 (default 20; 0 skips it)
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
summary=()
stage_start=$SECONDS
stage_done() {  # stage_done LABEL: records the time since the previous stage ended
  local line
  line=$(printf '%-36s %4d s  (load average %s)' "$1" $((SECONDS - stage_start)) "$(cut -d' ' -f1-3 /proc/loadavg)")
  echo "test: $line"
  summary+=("$line")
  stage_start=$SECONDS
}
print_summary() {
  ((${#summary[@]})) || return 0
  echo "test: stages"
  printf 'test:   %s\n' "${summary[@]}"
}
trap print_summary EXIT

bash scripts/setup.sh qdrift_tests
stage_done "setup + build (build/)"
ctest --test-dir build --output-on-failure -j2
stage_done "tests (build/)"

# oneDNN picks its kernels by ISA (docs/int8_runtime.md): on a machine with AVX-512, run
# the unit tests and the int8 conformance again with oneDNN capped at AVX2, so every run
# checks both the AVX2 (non-VNNI) kernels and the native ones.
if grep -q avx512 /proc/cpuinfo; then
  echo "test: unit and int8 tests again with ONEDNN_MAX_CPU_ISA=AVX2"
  ONEDNN_MAX_CPU_ISA=AVX2 ctest --test-dir build --output-on-failure -j2 -L unit
  ONEDNN_MAX_CPU_ISA=AVX2 ctest --test-dir build --output-on-failure -j2 -R '^conformance_(int8|oracle)$'
  stage_done "tests, oneDNN capped at AVX2"
fi

if [[ ${QDRIFT_TEST_SANITIZE:-1} != 0 ]]; then
  echo "test: ASan+UBSan build (build-asan/)"
  cmake -S . -B build-asan -DQDRIFT_SANITIZE=ON -DQDRIFT_BUILD_GUI=OFF -DQDRIFT_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DQDRIFT_TEST_COMPILE_OPTIONS=-O0 > /dev/null
  cmake --build build-asan -j"$jobs" --target qdrift_tests
  stage_done "ASan+UBSan build (build-asan/)"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j2
  stage_done "ASan+UBSan tests (build-asan/)"
fi

fuzz_seconds=${QDRIFT_FUZZ_SECONDS:-20}
if [[ $fuzz_seconds == 0 ]]; then
  echo "test: fuzzing skipped (QDRIFT_FUZZ_SECONDS=0)"
elif ! command -v clang++-14 > /dev/null; then
  echo "test: fuzzing skipped: clang++-14 is not installed (apt-get install clang-14)"
else
  echo "test: libFuzzer targets, ${fuzz_seconds} s each (build-fuzz/)"
  cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++-14 -DQDRIFT_FUZZ=ON -DQDRIFT_BUILD_TESTS=OFF \
    -DQDRIFT_BUILD_GUI=OFF -DQDRIFT_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" > /dev/null
  cmake --build build-fuzz -j"$jobs" --target qdrift_fuzzers
  stage_done "fuzz build (build-fuzz/)"
  bash tests/fuzz/run_fuzz.sh build-fuzz "$fuzz_seconds"
  stage_done "fuzz runs ($(ls tests/fuzz/fuzz_*.cpp | wc -l) targets x ${fuzz_seconds} s)"
fi
