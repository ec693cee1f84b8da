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
