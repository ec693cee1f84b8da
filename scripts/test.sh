#!/usr/bin/env bash
# test.sh: builds qdrift, then runs every test: unit tests and the ONNX node conformance
# suite (ctest labels unit, conformance).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
ctest --test-dir build --output-on-failure -j2
