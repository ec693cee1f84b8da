#!/usr/bin/env bash
# ci_drift.sh: the CI job of docs/ci.md in one script: diff -> gate -> artifacts.
#
#   bash scripts/ci_drift.sh MODEL.onnx INPUT.npy BUDGET.json OUT_DIR [BASELINE_REPORT.json] [-- DIFF_ARGS...]
#
# Writes OUT_DIR/report.json (the drift report: `qdrift gate`, the GUI and the next run's
# baseline read it), OUT_DIR/report.txt (the table), OUT_DIR/gate.json (the verdict) and
# OUT_DIR/gate.xml (JUnit, for the CI's test report). Exit: the gate's (0 pass, 1 failed,
# 2 bad input). QDRIFT: the qdrift binary (default build/cli/qdrift).
set -euo pipefail
[[ $# -ge 4 ]] || { echo "usage: $0 MODEL INPUT BUDGET OUT_DIR [BASELINE] [-- DIFF_ARGS...]" >&2; exit 2; }
model=$1 input=$2 budget=$3 out=$4
shift 4
baseline=()
if [[ $# -gt 0 && $1 != "--" ]]; then
  [[ -f $1 ]] && baseline=(--baseline "$1")  # the first run has no baseline
  shift
fi
[[ ${1:-} == "--" ]] && shift
qdrift=${QDRIFT:-build/cli/qdrift}
mkdir -p "$out"
"$qdrift" diff "$model" --input "$input" --json "$out/report.json" "$@" > "$out/report.txt"
"$qdrift" gate "$out/report.json" --budget "$budget" "${baseline[@]}" --json "$out/gate.json" --junit "$out/gate.xml"
