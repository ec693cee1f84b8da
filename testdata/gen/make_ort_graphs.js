#!/usr/bin/env node
// make_ort_graphs.js: ONNX Runtime's own optimized graphs of the bundled QDQ models, and
// their outputs, for qdrift's tests (the tests read the committed files; they never need ORT).
//
//   bash bench/ort/install.sh && node testdata/gen/make_ort_graphs.js
//
// For each bundled model it writes testdata/ort/<name>_ort_all.onnx (the graph ORT executes
// at graph optimization level "all", SessionOptions.optimizedModelFilePath) and
// testdata/ort/<name>_ort_all_<output>.npy (ORT's outputs on the model's bundled input).
// The saved graph is specific to the machine that made it: ORT picks fusions and layouts by
// ISA (these were made on AVX-512 VNNI). One thread, sequential, so outputs are reproducible.
'use strict';

const fs = require('fs');
const path = require('path');
const {loadOrt, readNpy, writeNpy, opCounts} = require('./ort_util');

const TESTDATA = path.join(__dirname, '..');
const OUT = path.join(TESTDATA, 'ort');

// [model file under testdata/, input .npy under testdata/]
function bundledModels() {
  const list = [['mobilenet_tiny_qdq.onnx', 'mobilenet_tiny_input.npy']];
  for (const f of fs.readdirSync(path.join(TESTDATA, 'qdq')).sort()) {
    if (!f.endsWith('.onnx')) continue;
    const stem = f.replace(/\.onnx$/, '');
    const input = fs.existsSync(path.join(TESTDATA, 'qdq', `${stem}_input.npy`)) ?
        `${stem}_input.npy` : `${stem.replace(/_qop$/, '')}_input.npy`;
    list.push([`qdq/${f}`, `qdq/${input}`]);
  }
  return list;
}

async function main() {
  const ort = loadOrt();
  ort.env.logLevel = 'error';  // not the warning that the saved optimized model is machine-specific
  fs.mkdirSync(OUT, {recursive: true});
  const summary = {ort_version: ort.env.versions.node, models: {}};
  for (const [model, input] of bundledModels()) {
    const stem = path.basename(model, '.onnx');
    const optimized = path.join(OUT, `${stem}_ort_all.onnx`);
    const session = await ort.InferenceSession.create(path.join(TESTDATA, model), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      optimizedModelFilePath: optimized,
    });
    const x = readNpy(path.join(TESTDATA, input));
    const feeds = {[session.inputNames[0]]: new ort.Tensor(x.type, x.data, x.shape)};
    const out = await session.run(feeds);
    const outputs = [];
    for (const name of session.outputNames) {
      const t = out[name];
      const file = `${stem}_ort_all_${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`;
      writeNpy(path.join(OUT, file), t.type, t.dims, t.data);
      outputs.push(file);
    }
    await session.release();
    summary.models[stem] = {source: model, input, optimized: path.basename(optimized), outputs,
      ops: opCounts(optimized)};
    console.log(stem, JSON.stringify(opCounts(optimized)));
  }
  fs.writeFileSync(path.join(OUT, 'index.json'), JSON.stringify(summary, null, 1) + '\n');
}

main().catch((e) => {
  process.stderr.write(`make_ort_graphs.js: ${e.stack || e}\n`);
  process.exit(1);
});
