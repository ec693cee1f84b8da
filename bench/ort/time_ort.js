#!/usr/bin/env node
// time_ort.js: times ONNX Runtime (onnxruntime-node, CPU, all graph optimizations) on one
// model; called by bench_latency as a subprocess. Prints one JSON line on stdout.
//
//   node bench/ort/time_ort.js --model m.onnx --input x.f32 --shape 1,3,224,224 \
//        --threads 2 --runs 20 [--output y.f32] [--profile /tmp/dir/prefix] [--opt all|disabled]
//
// --input is raw little-endian float32 for the model's only input; --output receives the
// first output of the last run, raw float32. Session creation and one warm-up run are
// excluded; then --runs timed runs (wall clock around session.run, and the process's CPU
// time, which bench_latency reports for busy machines). With --profile, a
// second session with ORT's profiler runs the same number of times and the JSON gains
// "profile_ms": kernel time per op type per run. "optimized_ops" counts the op types of
// the graph ORT actually executes (its optimized model, read back from disk).
// --opt disabled turns every graph optimization off: ORT then runs the QDQ graph as written,
// in fp32 between QuantizeLinear/DequantizeLinear (the same fake-quant simulation as
// qdrift's reference), which is the baseline of the reference's speed.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

function parseArgs(argv) {
  const a = {threads: 1, runs: 20, opt: 'all'};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (i + 1 >= argv.length) throw new Error(`missing value for ${argv[i]}`);
    a[key] = argv[i + 1];
  }
  for (const k of ['model', 'input', 'shape']) {
    if (!a[k]) throw new Error(`--${k} is required`);
  }
  a.threads = parseInt(a.threads, 10);
  a.runs = parseInt(a.runs, 10);
  if (a.opt !== 'all' && a.opt !== 'disabled') throw new Error(`--opt must be all or disabled, not ${a.opt}`);
  a.shape = a.shape.split(',').map((d) => parseInt(d, 10));
  return a;
}

// Op types of an ONNX model's main graph: a minimal protobuf walk (ModelProto.graph = 7,
// GraphProto.node = 1, NodeProto.op_type = 4), so no extra npm package is needed.
function readVarint(buf, pos) {
  let v = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 128;
  }
}
function fields(buf, fn) {
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      [, pos] = readVarint(buf, pos);
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      fn(field, buf.subarray(pos, pos + len));
      pos += len;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
}
function opCounts(modelPath) {
  const counts = {};
  fields(fs.readFileSync(modelPath), (f, graph) => {
    if (f !== 7) return;
    fields(graph, (g, node) => {
      if (g !== 1) return;
      let domain = '';
      let op = '';
      fields(node, (n, v) => {
        if (n === 4) op = v.toString('utf8');
        if (n === 7) domain = v.toString('utf8');
      });
      const name = domain && domain !== 'ai.onnx' ? `${domain}.${op}` : op;
      counts[name] = (counts[name] || 0) + 1;
    });
  });
  return Object.entries(counts)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = require('onnxruntime-node');
  ort.env.logLevel = 'error';  // not the warning that the saved optimized model is machine-specific
  const raw = fs.readFileSync(a.input);
  const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qdrift_ort_'));
  const optimizedPath = path.join(tmp, 'optimized.onnx');
  const options = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: a.opt,
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    optimizedModelFilePath: optimizedPath,
  };
  const session = await ort.InferenceSession.create(a.model, options);
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, a.shape)};
  let t0 = process.hrtime.bigint();
  let out = await session.run(feeds);
  const firstMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const runsMs = [];
  const cpuMs = [];  // process CPU time (user + system, all threads) per run
  for (let i = 0; i < a.runs; ++i) {
    const c0 = process.cpuUsage();
    t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    runsMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
  }
  const result = {
    ort_version: ort.env.versions.node,
    threads: a.threads,
    opt: a.opt,
    first_ms: firstMs,
    runs_ms: runsMs,
    cpu_ms: cpuMs,
  };
  try {
    result.optimized_ops = opCounts(optimizedPath);
  } catch (e) {
    result.optimized_ops = `(cannot read ORT's optimized model: ${e.message})`;
  }
  if (a.output) {
    const y = out[session.outputNames[0]].data;
    fs.writeFileSync(a.output, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  }
  await session.release();

  if (a.profile) {
    const profOptions = {...options, enableProfiling: true, profileFilePrefix: a.profile};
    delete profOptions.optimizedModelFilePath;
    const prof = await ort.InferenceSession.create(a.model, profOptions);
    await prof.run(feeds);  // warm-up, profiled too: subtracted below by counting runs
    for (let i = 0; i < a.runs; ++i) await prof.run(feeds);
    prof.endProfiling();
    await prof.release();
    const dir = path.dirname(a.profile);
    const base = path.basename(a.profile);
    const file = fs.readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith('.json')).sort().pop();
    const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    // Per op type: kernel time of the timed runs only (the first run of each node is the warm-up).
    const perNode = {};
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const op = e.args && e.args.op_name ? e.args.op_name : '?';
      (perNode[e.name] = perNode[e.name] || {op, durs: []}).durs.push(e.dur / 1000);
    }
    const profileMs = {};
    for (const {op, durs} of Object.values(perNode)) {
      const timed = durs.slice(1);
      const sum = timed.reduce((s, d) => s + d, 0);
      profileMs[op] = (profileMs[op] || 0) + sum / Math.max(timed.length, 1);
    }
    result.profile_ms = profileMs;
  }
  fs.rmSync(tmp, {recursive: true, force: true});
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  process.stderr.write(`time_ort.js: ${e.stack || e}\n`);
  process.exit(1);
});
