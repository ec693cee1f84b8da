#!/usr/bin/env bash
# Installs ONNX Runtime's node.js binding into bench/ort/node_modules (git-ignored) for
# bench_latency's comparison (bench/ort/time_ort.js). Optional: bench_latency skips ONNX
# Runtime when it is absent. Needs node >= 18 and npm, and the npm registry.
#
#   bash bench/ort/install.sh
#
# onnxruntime-node ships its linux x64 CPU library (libonnxruntime.so) inside the npm
# tarball; ONNXRUNTIME_NODE_INSTALL=skip stops its postinstall script from fetching the
# optional CUDA/TensorRT libraries from elsewhere. Pinned so numbers stay comparable.
set -euo pipefail
ORT_VERSION="${ORT_VERSION:-1.30.0}"
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "install.sh: node not found (apt-get install nodejs npm)" >&2; exit 2; }
command -v npm >/dev/null || { echo "install.sh: npm not found (apt-get install npm)" >&2; exit 2; }
ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --no-save "onnxruntime-node@${ORT_VERSION}"
node -e "console.log('onnxruntime-node', require('onnxruntime-node').env.versions.node, 'installed in', process.cwd() + '/node_modules')"
