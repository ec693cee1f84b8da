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
((${#targets[@]})) || targets=(fuzz_npy fuzz_npz fuzz_tensor_pb fuzz_onnx_loader)
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
