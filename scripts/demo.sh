#!/usr/bin/env bash
# demo.sh: builds qdrift, then runs its main job on the bundled MobileNetV3-flavoured QDQ
# model: the drift report between the fake-quant reference and the model's real int8
# execution on oneDNN, on screen and as JSON (out/report.json, schema qdrift.report/1).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
mkdir -p out
model=testdata/mobilenet_tiny_qdq.onnx
input=testdata/mobilenet_tiny_input.npy

echo "== qdrift diff: fake-quant reference vs the int8 runtime (oneDNN), policy onnx"
build/cli/qdrift diff "$model" --input "$input" --json out/report.json
echo
echo "== the same model under Paddle's Intel CPU int8 policy (paddle-onednn), 12 rows"
build/cli/qdrift diff "$model" --input "$input" --policy paddle-onednn --rows 12 --json out/report_paddle_onednn.json
echo
echo "== the quantization error itself: fake-quant reference vs the fp32 model (QDQ removed), 12 rows"
build/cli/qdrift diff "$model" --input "$input" --against fp32 --rows 12 --json out/report_fp32.json
echo
echo "demo: wrote out/report.json, out/report_paddle_onednn.json and out/report_fp32.json (docs/report.md)"
