#!/usr/bin/env bash
# demo.sh: builds qdrift, then runs it on the bundled MobileNetV3-flavoured QDQ model and
# writes out/run.json. This is the one place to change when the demo grows (drift report).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
mkdir -p out
build/cli/qdrift run testdata/mobilenet_tiny_qdq.onnx --input testdata/mobilenet_tiny_input.npy \
  --stats --json out/run.json
echo
echo "== the same model lowered to int8 and run on oneDNN (policy paddle-onednn)"
build/cli/qdrift run testdata/mobilenet_tiny_qdq.onnx --input testdata/mobilenet_tiny_input.npy \
  --executor int8 --policy paddle-onednn --stats --json out/run_int8.json --dump-lowered out/lowered.txt
echo "demo: wrote out/run.json, out/run_int8.json and out/lowered.txt"
