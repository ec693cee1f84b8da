#!/usr/bin/env bash
# run_fuzz.sh: seeds the corpora and runs each libFuzzer target for a while.
#
#   bash tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS [TARGET...]        # SECONDS per target
#   bash tests/fuzz/run_fuzz.sh BUILD_DIR runs=N [TARGET...]         # N executions per target
#   nice -n 19 bash tests/fuzz/run_fuzz.sh build-fuzz runs=100000    # a long run, in the background
#
# BUILD_DIR was configured with -DQDRIFT_FUZZ=ON (clang). Seeds are generated into
# BUILD_DIR/fuzz-corpus/<target>/ from testdata/ and a fixed sample of ONNX's node tests
# (/usr/share/libonnx-testdata), so the repository holds no corpus. Findings (crash-*,
# leak-*, timeout-*, oom-*) are written to BUILD_DIR/fuzz-artifacts/. Exit 1 on a finding.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1
limit=$2
shift 2
case $limit in
  runs=[0-9]*) limit_args=(-runs="${limit#runs=}") label="${limit#runs=} executions" ;;
  [0-9]*) limit_args=(-max_total_time="$limit") label="${limit} s" ;;
  *) echo "run_fuzz.sh: the limit is SECONDS or runs=N, not '$limit'" >&2; exit 2 ;;
esac
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(ls tests/fuzz/fuzz_*.cpp | xargs -n1 basename | sed 's/\.cpp$//')
node_tests=/usr/share/libonnx-testdata/data/node
corpus=$build/fuzz-corpus
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"

seed() {  # seed TARGET FILE...
  mkdir -p "$corpus/$1"
  local t=$1
  shift
  for f in "$@"; do [[ -f $f ]] && cp -n "$f" "$corpus/$t/$(echo "$f" | tr '/' '_')" || true; done
}
# A fixed sample: every 15th node test (sorted), its model and first input.
sample=()
if [[ -d $node_tests ]]; then
  mapfile -t all < <(find "$node_tests" -mindepth 1 -maxdepth 1 -type d | sort)
  for ((i = 0; i < ${#all[@]}; i += 15)); do sample+=("${all[$i]}"); done
fi
seed fuzz_npy testdata/*.npy testdata/qdq/*.npy
seed fuzz_tensor_pb $(for d in "${sample[@]}"; do echo "$d/test_data_set_0/input_0.pb"; done)
seed fuzz_onnx_loader testdata/*.onnx testdata/qdq/*.onnx $(for d in "${sample[@]}"; do echo "$d/model.onnx"; done)
mkdir -p "$corpus/fuzz_mapping_rules"
cat > "$corpus/fuzz_mapping_rules/seed_rules.json" <<'JSON'
{"schema": "qdrift.rules/1",
 "pairs": [{"ref": "relu_0.tmp_0.quantized", "other": "dequantize/in/1"},
           {"ref": "concat_out", "other": ["branch_a", "branch_b"]}],
 "patterns": [{"ref": "^(.*)\\.quantized$", "other": "$1"}, {"ref": "^conv(\\d{1,3})_out$", "other": "conv$1/int8"}]}
JSON
mkdir -p "$corpus/fuzz_dump_index"
cat > "$corpus/fuzz_dump_index/seed_index.json" <<'JSON'
{"schema": "qdrift.dump/1", "model": "m.onnx", "executor": "int8",
 "tensors": {"quantize_out_0.npy": {"tensor": "quantize/out/0", "node": "q0", "op": "Quantize", "output_index": 0, "dtype": "u8", "shape": [1, 32, 32, 3], "scale": 0.0187, "zero_point": 114},
             "conv2d_0.tmp_1.npy": {"tensor": "conv2d_0.tmp_1", "dtype": "s8", "shape": [1, 16, 4, 4], "scale": [0.1, 0.2], "zero_point": [0, 0], "axis": 1}}}
JSON
mkdir -p "$corpus/fuzz_budget_json"
cat > "$corpus/fuzz_budget_json/seed_budget.json" <<'JSON'
{"schema": "qdrift.budget/1",
 "global": {"min_sqnr_db": 25, "max_steps": 2, "max_abs": 0.5, "min_cosine": 0.999},
 "layers": [{"match": "^conv1", "max_steps": 4}, {"match": "(relu|fc)_\\w+$", "min_sqnr_db": 18.5}],
 "outputs": {"min_top1_agreement": 1.0},
 "baseline": {"max_sqnr_drop_db": 1.0, "max_steps_increase": 1},
 "allow_nonfinite": false}
JSON
# .npz seeds: stored and deflated archives of the bundled .npy files (python3's zipfile).
mkdir -p "$corpus/fuzz_npz"
python3 - "$corpus/fuzz_npz" testdata/qdq/*.npy <<'PY'
import os, sys, zipfile
out, files = sys.argv[1], sys.argv[2:]
for method, tag in ((zipfile.ZIP_STORED, "stored"), (zipfile.ZIP_DEFLATED, "deflated")):
    with zipfile.ZipFile(os.path.join(out, f"seed_{tag}.npz"), "w", method) as z:
        for i, f in enumerate(files[:3]):
            z.write(f, f"x{i}.npy")
PY
# A small qdrift.report/1 (docs/report.md): two pairs, per-axis scales, NaN/Inf, unmatched, causes.
mkdir -p "$corpus/fuzz_report_json"
cat > "$corpus/fuzz_report_json/seed_report.json" <<'JSON'
{
  "schema": "qdrift.report/1",
  "tool_version": "0.3.0",
  "ref_model": {"path":"net.onnx","xxh64":"0123456789abcdef","opset":13,"nodes":4},
  "other_model": {"path":"net.onnx","xxh64":"0123456789abcdef","opset":13,"nodes":4},
  "ref_executor": "ref",
  "other_executor": "int8",
  "policy": "onnx",
  "notes": ["conv1: Relu fused"],
  "inputs": [
    {"name":"x","file":"x.npz","member":"x","dtype":"f32","shape":[1,3,2,2],"stats":{"count":12,"avg":"nan","min":"-inf","max":"inf","argmax":5,"std":0.5,"nan_count":1,"inf_count":2}}
  ],
  "thresholds": {"max_steps":1.0,"min_sqnr_db":30.0},
  "first_divergence": 0,
  "top1_agreement": -1,
  "pairs": [
    {"method":"provenance","match_detail":"fuse_conv","ref":{"tensor":"c1","node":"conv1","op":"Conv","dtype":"s8","shape":[1,3,2,2],"quantized":true,"scale":[0.1,0.25,1e-3],"zero_point":[0,-1,3],"axis":1,"stats":{"count":12,"avg":1.5,"min":-128,"max":127,"argmax":4,"std":30.25,"nan_count":0,"inf_count":0},"count_at_qmin":1,"count_at_qmax":2},"other":{"tensor":"c1_q","node":"conv1","op":"QConv","dtype":"u8","shape":[1,3,2,2],"quantized":true,"scale":[0.1],"zero_point":[128],"axis":1,"stats":{"count":12,"avg":130,"min":0,"max":255,"argmax":0,"std":40,"nan_count":0,"inf_count":0},"count_at_qmin":3,"count_at_qmax":0},"drift":{"count":12,"max_abs":0.2,"max_abs_index":7,"mean_abs":0.05,"rmse":0.07,"rel_l2":0.01,"sqnr_db":"inf","cosine":0.999,"argmax_agree":true,"frac_differ":0.25,"has_steps":true,"max_abs_steps":2.0,"steps_histogram":[9,2,1,0,0,0,0,0],"nan_ref":0,"inf_ref":0,"nan_other":0,"inf_other":0,"nonfinite_mismatch":0},"divergent":true,"graph_output":false,"has_kernel_check":true,"kernel_differ":3,"kernel_max_abs":0.1,"kernel_max_steps":1},
    {"method":"name","match_detail":"","ref":{"tensor":"y","node":"fc","op":"Gemm","dtype":"f32","shape":[1,10],"quantized":false,"scale":[],"zero_point":[],"axis":1,"stats":{"count":10,"avg":0,"min":-1,"max":1,"argmax":2,"std":0.5,"nan_count":1,"inf_count":0},"count_at_qmin":0,"count_at_qmax":0},"other":{"tensor":"y","node":"fc","op":"QGemm","dtype":"f32","shape":[1,10],"quantized":false,"scale":[],"zero_point":[],"axis":1,"stats":{"count":10,"avg":0,"min":-1,"max":1,"argmax":2,"std":0.5,"nan_count":0,"inf_count":1},"count_at_qmin":0,"count_at_qmax":0},"drift":{"count":8,"max_abs":"nan","max_abs_index":-1,"mean_abs":0,"rmse":0,"rel_l2":"inf","sqnr_db":12.5,"cosine":-1,"argmax_agree":false,"frac_differ":1,"has_steps":false,"max_abs_steps":0,"steps_histogram":[],"nan_ref":1,"inf_ref":0,"nan_other":0,"inf_other":1,"nonfinite_mismatch":2},"divergent":true,"graph_output":true,"has_kernel_check":false,"kernel_differ":0,"kernel_max_abs":0,"kernel_max_steps":-1}
  ],
  "unmatched": [
    {"side":"ref","tensor":"relu1","node":"relu","op":"Relu","reason":"fused into QConv 'conv1'"}
  ],
  "causes": [
    {"cause":"unsigned_grid","pair":0,"message":"u8 where the reference is s8"}
  ],
  "timings": {"load_ms":1.5,"ref_ms":0.25,"other_ms":0.125,"measure_ms":0.0625,"total_ms":2}
}
JSON

status=0
for t in "${targets[@]}"; do
  echo "fuzz: $t, $label"
  # -rss_limit_mb: the targets cap tensors at 4 MiB, so 2 GB means unbounded allocation.
  if ! "$build/tests/fuzz/$t" "$corpus/$t" "${limit_args[@]}" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" 2> "$build/fuzz-$t.log"; then
    echo "fuzz: $t found a problem: see $build/fuzz-$t.log and $artifacts/" >&2
    tail -40 "$build/fuzz-$t.log" >&2
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb" "$build/fuzz-$t.log" |
    sed "s/^/fuzz: $t: /"
done
exit $status
