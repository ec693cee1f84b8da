#!/usr/bin/env bash
# make_bad_dumps.sh DIR: hostile dump directories for `qdrift diff --other-dump` (manifest.txt
# names them %name). Made at test time: 10,000 files or a name with a newline do not belong
# in git.
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
# 10,000 tensor files: over the 8192 a dump may hold.
mkdir -p "$out/many_files"
(cd "$out/many_files" && seq 1 10000 | sed 's/^/t/;s/$/.npy/' | xargs touch)
# A file name with a control character (a newline).
mkdir -p "$out/control_name"
cp "$here/x_2x3.npy" "$out/control_name/$(printf 'a\nb.npy')"
# An unreadable file: a symlink to nowhere (root reads files whatever their mode).
mkdir -p "$out/unreadable"
ln -s "$out/nowhere.npy" "$out/unreadable/a.npy"
# index.json says one shape, the file holds another.
mkdir -p "$out/shape_mismatch"
cp "$here/x_2x3.npy" "$out/shape_mismatch/a.npy"
printf '{"schema": "qdrift.dump/1", "tensors": {"a.npy": {"tensor": "a", "shape": [3, 2]}}}' > "$out/shape_mismatch/index.json"
# A tensor name with a control character inside index.json.
mkdir -p "$out/control_tensor"
cp "$here/x_2x3.npy" "$out/control_tensor/a.npy"
printf '{"schema": "qdrift.dump/1", "tensors": {"a.npy": {"tensor": "a\\u0007b"}}}' > "$out/control_tensor/index.json"
# A scale on a float tensor.
mkdir -p "$out/scale_on_float"
cp "$here/x_2x3.npy" "$out/scale_on_float/a.npy"
printf '{"schema": "qdrift.dump/1", "tensors": {"a.npy": {"tensor": "a", "scale": 0.5}}}' > "$out/scale_on_float/index.json"
