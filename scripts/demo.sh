#!/usr/bin/env bash
# demo.sh: builds qdrift, then shows it finding a bug: the bundled QAT MobileNetV3-style model
# (testdata/qat/mbv3.onnx: HardSwish, squeeze-and-excitation, PACT clipping before every
# activation fake-quant) deployed the way Paddle's Intel CPU int8 pass deploys it
# (--policy paddle-onednn) leaves its fake-quant reference. qdrift shows where (the drift
# table and the first divergent layer), why (the named cause with its evidence) and which
# policy knob is responsible (qdrift explain), then the same model under --policy onnx
# (the model's exact semantics): clean. Reports land in out/ (open one in the GUI:
# qdrift-gui out/report.json).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh qdrift qdrift-gui
mkdir -p out
qdrift=build/cli/qdrift
model=testdata/qat/mbv3.onnx
input=testdata/qat/mbv3_sample.npy      # the first of the 300 held-out inputs
inputs=testdata/qat/mbv3_inputs.npy     # all 300, batch on the first axis
labels=testdata/qat/mbv3_labels.npy

echo "== 1. qdrift diff: fake-quant reference vs int8 on oneDNN under Paddle's policy (paddle-onednn)"
"$qdrift" diff "$model" --input "$input" --policy paddle-onednn --rows 12 --json out/report.json
echo
echo "== 2. qdrift explain: which knob of paddle-onednn is responsible (each set back to onnx in turn)"
"$qdrift" explain "$model" --input "$input" --policy paddle-onednn --json out/explain.json
echo
echo "== 3. fake-quant vs int8 top-1 agreement on the 300 bundled inputs, paddle-onednn"
"$qdrift" eval "$model" --inputs "$inputs" --labels "$labels" --policy paddle-onednn --rows 5 --json out/eval_paddle_onednn.json
echo
echo "== 4. the same model under the onnx policy (the model's exact semantics): clean"
"$qdrift" diff "$model" --input "$input" --policy onnx --rows 6 --json out/report_onnx.json
echo
"$qdrift" eval "$model" --inputs "$inputs" --labels "$labels" --policy onnx --rows 5 --json out/eval_onnx.json
echo
echo "demo: wrote out/report.json (paddle-onednn), out/explain.json, out/report_onnx.json and out/eval_*.json"
echo "(docs/report.md, docs/explain.md, docs/causes.md, docs/eval.md); open a report in the GUI with:"
echo "  build/gui/qdrift-gui out/report.json"
