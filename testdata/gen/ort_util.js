// ort_util.js: what the ONNX Runtime test-data generators share: loading onnxruntime-node
// from bench/ort (bash bench/ort/install.sh), .npy read/write, and the op types of an ONNX
// file (a minimal protobuf walk, so no extra npm package is needed).
'use strict';

const fs = require('fs');
const path = require('path');

function loadOrt() {
  const where = path.join(__dirname, '..', '..', 'bench', 'ort', 'node_modules', 'onnxruntime-node');
  try {
    return require(where);
  } catch (e) {
    throw new Error(`onnxruntime-node not found in bench/ort (run: bash bench/ort/install.sh): ${e.message}`);
  }
}

// numpy dtype string <-> ORT tensor type <-> typed array.
const NPY_TYPES = {
  '<f4': ['float32', Float32Array],
  '|u1': ['uint8', Uint8Array],
  '|i1': ['int8', Int8Array],
  '<i4': ['int32', Int32Array],
  '<i8': ['int64', BigInt64Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not an .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12);
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim())
      .filter((s) => s.length).map((s) => parseInt(s, 10));
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: fortran order`);
  const [type, Ctor] = NPY_TYPES[descr] || [];
  if (!type) throw new Error(`${file}: dtype ${descr} not handled`);
  const body = buf.subarray(start + headerLen);
  const copy = new Uint8Array(body.length);
  copy.set(body);
  return {type, shape, data: new Ctor(copy.buffer)};
}

function writeNpy(file, type, shape, data) {
  const descr = Object.keys(NPY_TYPES).find((k) => NPY_TYPES[k][0] === type);
  if (!descr) throw new Error(`${file}: type ${type} not handled`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), bytes]));
}

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
// {"domain.op": count} of an ONNX model's main graph (ModelProto.graph = 7, GraphProto.node = 1,
// NodeProto.op_type = 4, NodeProto.domain = 7).
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
  return counts;
}

module.exports = {loadOrt, readNpy, writeNpy, opCounts};

// ---- a minimal ONNX protobuf writer (ModelProto with one graph), enough for op tests ----
const ONNX_TYPES = {float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7};
const TYPED = {float32: Float32Array, uint8: Uint8Array, int8: Int8Array, int32: Int32Array, int64: BigInt64Array};

function varint(n) {
  const out = [];
  let v = BigInt.asUintN(64, BigInt(n));
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}
function key(field, wire) { return varint(field * 8 + wire); }
function lenField(field, bytes) { return Buffer.concat([key(field, 2), varint(bytes.length), bytes]); }
function strField(field, s) { return lenField(field, Buffer.from(s, 'utf8')); }
function intField(field, n) { return Buffer.concat([key(field, 0), varint(n)]); }
function floatField(field, f) {
  const b = Buffer.alloc(4);
  b.writeFloatLE(f);
  return Buffer.concat([key(field, 5), b]);
}

// TensorProto: {name, type: 'uint8'|..., dims: [..], data: typed array}
function tensorProto(t) {
  const parts = t.dims.map((d) => intField(1, d));
  parts.push(intField(2, ONNX_TYPES[t.type]));
  if (t.name) parts.push(strField(8, t.name));
  const data = t.data instanceof TYPED[t.type] ? t.data : TYPED[t.type].from(t.data);
  parts.push(lenField(9, Buffer.from(data.buffer, data.byteOffset, data.byteLength)));
  return Buffer.concat(parts);
}
function attribute(name, value) {
  const parts = [strField(1, name)];
  if (typeof value === 'string') {
    parts.push(lenField(4, Buffer.from(value)), intField(20, 3));
  } else if (typeof value === 'number' && Number.isInteger(value) && !value.float) {
    parts.push(intField(3, value), intField(20, 2));
  } else if (typeof value === 'object' && value.float !== undefined) {
    parts.push(floatField(2, value.float), intField(20, 1));
  } else if (Array.isArray(value) && value.floats) {
    const b = Buffer.alloc(4 * value.length);
    value.forEach((f, i) => b.writeFloatLE(f, 4 * i));
    parts.push(lenField(7, b), intField(20, 6));
  } else if (Array.isArray(value)) {
    parts.push(lenField(8, Buffer.concat(value.map((v) => varint(v)))), intField(20, 7));
  } else {
    throw new Error(`attribute ${name}: unsupported value ${value}`);
  }
  return Buffer.concat(parts);
}
function valueInfo(v) {
  const dims = (v.dims || []).map((d) => lenField(1, typeof d === 'string' ? strField(2, d) : intField(1, d)));
  const shape = lenField(2, Buffer.concat(dims));
  const tensorType = Buffer.concat([intField(1, ONNX_TYPES[v.type]), v.dims ? shape : Buffer.alloc(0)]);
  return Buffer.concat([strField(1, v.name), lenField(2, lenField(1, tensorType))]);
}
// model: {opsets: {'': 13, 'com.microsoft': 1}, nodes: [{op, domain, inputs, outputs, name, attrs: {}}],
//         initializers: [tensor], inputs: [valueInfo], outputs: [valueInfo]}
function encodeModel(model) {
  const graph = [];
  model.nodes.forEach((n, i) => {
    const parts = [];
    n.inputs.forEach((s) => parts.push(strField(1, s)));
    n.outputs.forEach((s) => parts.push(strField(2, s)));
    parts.push(strField(3, n.name || `${n.op}_${i}`), strField(4, n.op));
    for (const [k, v] of Object.entries(n.attrs || {})) parts.push(lenField(5, attribute(k, v)));
    if (n.domain) parts.push(strField(7, n.domain));
    graph.push(lenField(1, Buffer.concat(parts)));
  });
  graph.push(strField(2, model.name || 'case'));
  (model.initializers || []).forEach((t) => graph.push(lenField(5, tensorProto(t))));
  model.inputs.forEach((v) => graph.push(lenField(11, valueInfo(v))));
  model.outputs.forEach((v) => graph.push(lenField(12, valueInfo(v))));
  const parts = [intField(1, 8), strField(2, 'qdrift testdata/gen/make_ort_op_cases.js')];
  for (const [domain, version] of Object.entries(model.opsets)) {
    parts.push(lenField(8, Buffer.concat([domain ? strField(1, domain) : Buffer.alloc(0), intField(2, version)])));
  }
  parts.push(lenField(7, Buffer.concat(graph)));
  return Buffer.concat(parts);
}

module.exports.encodeModel = encodeModel;
module.exports.tensorProto = tensorProto;
module.exports.TYPED = TYPED;
