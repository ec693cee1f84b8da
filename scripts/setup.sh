#!/usr/bin/env bash
# setup.sh: installs the Debian 12 packages qdrift needs (only those missing), then
# configures and builds everything into build/ (Release).
#
#   bash scripts/setup.sh          # as root on a fresh Debian 12; idempotent
#   bash scripts/setup.sh TARGET.. # build only these targets (test.sh: qdrift_tests)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config
  libdnnl-dev ocl-icd-opencl-dev opencl-c-headers  # oneDNN (Debian built it with OpenCL)
  libonnx-dev libprotobuf-dev protobuf-compiler     # ONNX protobuf classes, checker, shape inference
  libfmt-dev nlohmann-json3-dev libcli11-dev libxxhash-dev libzip-dev libre2-dev
  libgtest-dev libonnx-testdata                     # unit tests, ONNX node tests (conformance)
  libxml2-utils                                     # xmllint: the gate's JUnit output is checked with it
  libimgui-dev libstb-dev libglfw3-dev libgl-dev xvfb  # GUI and its headless test display
  xauth libgl1-mesa-dri                             # xvfb-run needs xauth (only Recommended by xvfb); Mesa's software GL
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: missing packages and not root: ${missing[*]}" >&2; exit 1; }
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q "${missing[@]}"
else
  echo "setup: all ${#PACKAGES[@]} Debian packages present"
fi

# Test code is compiled at -O0 (QDRIFT_TEST_COMPILE_OPTIONS): optimizing it roughly doubles
# its compile time and buys nothing, while the libraries it tests stay at -O3.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DQDRIFT_TEST_COMPILE_OPTIONS=-O0
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build -j"$(nproc)" "${targets[@]}"
