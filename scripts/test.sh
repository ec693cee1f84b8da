#!/usr/bin/env bash
# test.sh: builds qdrift, then runs every test: unit tests, the ONNX node conformance
# suite and the hostile-input corpus (ctest labels unit, conformance, bad_inputs); then the
# robustness checks of docs/robustness.md:
#   - the same tests under ASan+UBSan (build-asan/: core, kernels, cli and tests at -O1;
#     no GUI, no benchmarks), with QDRIFT_TEST_SANITIZE=1;
#   - a short libFuzzer run per fuzz target when clang++-14 is installed (build-fuzz/),
#     with QDRIFT_FUZZ_SECONDS=N per target.
# Both are off by default until their duration on an idle 2-core machine is measured
# against the 20-minute budget of the whole command (docs/robustness.md).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
ctest --test-dir build --output-on-failure -j2

jobs=$(nproc)
if [[ ${QDRIFT_TEST_SANITIZE:-0} != 0 ]]; then
  echo "test: ASan+UBSan build (build-asan/)"
  cmake -S . -B build-asan -DQDRIFT_SANITIZE=ON -DQDRIFT_BUILD_GUI=OFF -DQDRIFT_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" > /dev/null
  cmake --build build-asan -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j2
fi

fuzz_seconds=${QDRIFT_FUZZ_SECONDS:-0}
if [[ $fuzz_seconds != 0 ]] && command -v clang++-14 > /dev/null; then
  echo "test: libFuzzer targets, ${fuzz_seconds}s each (build-fuzz/)"
  cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++-14 -DQDRIFT_FUZZ=ON -DQDRIFT_BUILD_TESTS=OFF \
    -DQDRIFT_BUILD_GUI=OFF -DQDRIFT_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" > /dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzz_npy fuzz_npz fuzz_tensor_pb fuzz_onnx_loader
  bash tests/fuzz/run_fuzz.sh build-fuzz "$fuzz_seconds"
fi
