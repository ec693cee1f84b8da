#!/usr/bin/env node
// make_ort_op_cases.js: small test cases of ONNX Runtime's contrib ops, with ORT's own outputs
// as the expected values, for tests/unit/ort_ops_test.cpp (which never needs ORT).
//
//   bash bench/ort/install.sh && node testdata/gen/make_ort_op_cases.js
//
// Each case is a one-node model run by onnxruntime-node (CPU, graph optimizations disabled,
// one thread) on inputs from a fixed-seed generator. It writes testdata/ort_ops/<case>/
// model.onnx, input_<i>.pb and output_<i>.pb (ONNX TensorProto, the ONNX test-data format)
// and testdata/ort_ops/index.json (the cases, the op of each, ORT's version and the ISA note).
// Deterministic: rerunning rewrites the same files.
'use strict';

const fs = require('fs');
const path = require('path');
const {loadOrt, encodeModel, tensorProto, TYPED} = require('./ort_util');

const OUT = path.join(__dirname, '..', 'ort_ops');

// mulberry32: a small fixed-seed PRNG.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const numel = (dims) => dims.reduce((a, b) => a * b, 1);
const RANGE = {uint8: [0, 255], int8: [-128, 127], int32: [-2000, 2000]};
function randomInts(r, type, dims, lo, hi) {
  const [tlo, thi] = RANGE[type];
  lo = lo === undefined ? tlo : lo;
  hi = hi === undefined ? thi : hi;
  return TYPED[type].from({length: numel(dims)}, () => lo + Math.floor(r() * (hi - lo + 1)));
}
function randomFloats(r, dims, lo = -1, hi = 1) {
  return Float32Array.from({length: numel(dims)}, () => lo + r() * (hi - lo));
}
const T = (name, type, dims, data) => ({name, type, dims, data: TYPED[type].from(data)});
const scalar = (name, type, v) => T(name, type, [], [v]);
const f = (x) => ({float: x});
const floats = (a) => Object.assign([...a], {floats: true});

const cases = [];
// add(name, op, {domain, attrs, inputs: [tensor|null (omitted)], feed: [indices of inputs that are graph
// inputs; the rest are initializers], outputs: [{type}], opset})
function add(name, op, spec) {
  cases.push({name, op, ...spec});
}

// ---- QLinearConv (com.microsoft), NCHW and channels_last ------------------------------------
function qlinearConvCase(name, seed, o) {
  const r = rng(seed);
  const [n, c, h, w] = o.x;
  const m = o.m;
  const g = o.group || 1;
  const k = o.k || [3, 3];
  const xType = o.xType || 'uint8';
  const xDims = o.channelsLast ? [n, h, w, c] : [n, c, h, w];
  const wDims = [m, c / g, ...k];
  const perChannel = o.perChannel !== false;
  const inputs = [
    T('x', xType, xDims, randomInts(r, xType, xDims)),
    scalar('x_scale', 'float32', 0.02 + r() * 0.02),
    scalar('x_zero_point', xType, xType === 'uint8' ? 120 + Math.floor(r() * 16) : -3),
    T('w', 'int8', wDims, randomInts(r, 'int8', wDims, -127, 127)),
    perChannel ? T('w_scale', 'float32', [m], randomFloats(r, [m], 0.002, 0.01)) : scalar('w_scale', 'float32', 0.005),
    perChannel ? T('w_zero_point', 'int8', [m], new Array(m).fill(0)) : scalar('w_zero_point', 'int8', 0),
    scalar('y_scale', 'float32', o.yScale || 0.05 + r() * 0.05),
    scalar('y_zero_point', o.yType || xType, o.yZp !== undefined ? o.yZp : (xType === 'uint8' ? 128 : 0)),
  ];
  if (o.bias !== false) inputs.push(T('B', 'int32', [m], randomInts(r, 'int32', [m], -3000, 3000)));
  const attrs = {kernel_shape: k, strides: o.strides || [1, 1], pads: o.pads || [1, 1, 1, 1], group: g,
    dilations: o.dilations || [1, 1]};
  if (o.channelsLast) attrs.channels_last = 1;
  add(name, 'QLinearConv', {domain: 'com.microsoft', attrs, inputs, feed: [0]});
}
qlinearConvCase('qlinear_conv_u8_nchw', 1, {x: [1, 3, 7, 5], m: 5, strides: [2, 2]});
qlinearConvCase('qlinear_conv_u8_nhwc', 2, {x: [1, 3, 7, 5], m: 5, channelsLast: true});
qlinearConvCase('qlinear_conv_u8_nhwc_depthwise', 3, {x: [2, 4, 6, 6], m: 4, group: 4, channelsLast: true, strides: [2, 1]});
qlinearConvCase('qlinear_conv_u8_nhwc_dilated_nobias', 4, {x: [1, 6, 9, 9], m: 7, dilations: [2, 2], pads: [2, 2, 2, 2],
  channelsLast: true, bias: false, perChannel: false});
qlinearConvCase('qlinear_conv_s8_nhwc_1x1_saturating', 5, {x: [1, 13, 3, 4], m: 3, k: [1, 1], pads: [0, 0, 0, 0],
  xType: 'int8', channelsLast: true, yScale: 0.004});
qlinearConvCase('qlinear_conv_s8_nchw_grouped', 6, {x: [1, 6, 5, 5], m: 4, group: 2, xType: 'int8', pads: [0, 1, 2, 1]});

// ---- QLinearAdd / QLinearMul ----------------------------------------------------------------
for (const [op, seed] of [['QLinearAdd', 10], ['QLinearMul', 20]]) {
  for (const type of ['uint8', 'int8']) {
    const r = rng(seed + (type === 'int8' ? 1 : 0));
    const zp = (v) => (type === 'uint8' ? v : v - 128);
    const base = op.replace('QLinear', '').toLowerCase();
    const mk = (suffix, aDims, bDims, cScale) => add(`qlinear_${base}_${type === 'uint8' ? 'u8' : 's8'}_${suffix}`, op, {
      domain: 'com.microsoft',
      inputs: [T('A', type, aDims, randomInts(r, type, aDims)), scalar('A_scale', 'float32', 0.03 + r() * 0.01),
        scalar('A_zero_point', type, zp(130)), T('B', type, bDims, randomInts(r, type, bDims)),
        scalar('B_scale', 'float32', 0.02 + r() * 0.02), scalar('B_zero_point', type, zp(100)),
        scalar('C_scale', 'float32', cScale), scalar('C_zero_point', type, zp(127))],
      feed: [0, 3]});
    mk('same_shape', [2, 3, 5], [2, 3, 5], op === 'QLinearAdd' ? 0.05 : 0.2);
    mk('broadcast', [1, 3, 4, 5], [3, 1, 1], op === 'QLinearAdd' ? 0.04 : 0.3);
    mk('saturating', [37], [37], op === 'QLinearAdd' ? 0.01 : 0.02);
  }
}

// ---- pooling ---------------------------------------------------------------------------------
function qavgCase(name, seed, type, dims, attrs) {
  const r = rng(seed);
  add(name, 'QLinearAveragePool', {domain: 'com.microsoft', attrs,
    inputs: [T('X', type, dims, randomInts(r, type, dims)), scalar('x_scale', 'float32', 0.05),
      scalar('x_zero_point', type, type === 'uint8' ? 128 : 3), scalar('y_scale', 'float32', 0.03),
      scalar('y_zero_point', type, type === 'uint8' ? 120 : -5)],
    feed: [0]});
}
qavgCase('qlinear_average_pool_u8_nchw', 30, 'uint8', [1, 3, 7, 6], {kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]});
qavgCase('qlinear_average_pool_u8_nchw_include_pad', 31, 'uint8', [1, 2, 5, 5],
  {kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1});
qavgCase('qlinear_average_pool_s8_nhwc_ceil', 32, 'int8', [2, 6, 7, 5],
  {kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1, channels_last: 1});
qavgCase('qlinear_average_pool_u8_nhwc', 33, 'uint8', [1, 5, 5, 4], {kernel_shape: [3, 2], channels_last: 1});
function qgapCase(name, seed, type, dims, channelsLast) {
  const r = rng(seed);
  add(name, 'QLinearGlobalAveragePool', {domain: 'com.microsoft', attrs: {channels_last: channelsLast},
    inputs: [T('X', type, dims, randomInts(r, type, dims)), scalar('x_scale', 'float32', 0.07),
      scalar('x_zero_point', type, type === 'uint8' ? 100 : -10), scalar('y_scale', 'float32', 0.02),
      scalar('y_zero_point', type, type === 'uint8' ? 130 : 4)],
    feed: [0]});
}
qgapCase('qlinear_global_average_pool_u8_nchw', 40, 'uint8', [2, 3, 5, 7], 0);
qgapCase('qlinear_global_average_pool_s8_nhwc', 41, 'int8', [1, 4, 3, 13], 1);
function nhwcMaxCase(name, seed, type, dims, attrs) {
  const r = rng(seed);
  add(name, 'NhwcMaxPool', {domain: 'com.microsoft', attrs, inputs: [T('x', type, dims, randomInts(r, type, dims))], feed: [0]});
}
nhwcMaxCase('nhwc_max_pool_u8', 50, 'uint8', [1, 7, 6, 3], {kernel_shape: [2, 2], strides: [2, 2]});
nhwcMaxCase('nhwc_max_pool_s8_pads', 51, 'int8', [2, 5, 5, 4], {kernel_shape: [3, 3], strides: [1, 2], pads: [1, 1, 1, 1]});
nhwcMaxCase('nhwc_max_pool_u8_dilated_ceil', 52, 'uint8', [1, 9, 8, 2], {kernel_shape: [2, 3], dilations: [2, 1],
  strides: [2, 2], ceil_mode: 1});

// ---- QLinearConcat ------------------------------------------------------------------------------
function qconcatCase(name, seed, type, dimsList, axis) {
  const r = rng(seed);
  const zp = (v) => (type === 'uint8' ? v : v - 128);
  const inputs = [scalar('Y_scale', 'float32', 0.04), scalar('Y_zero_point', type, zp(128))];
  const feed = [];
  dimsList.forEach((dims, i) => {
    feed.push(inputs.length);
    inputs.push(T(`X${i}`, type, dims, randomInts(r, type, dims)));
    // the second input shares Y's scale and zero point: ORT copies it
    inputs.push(scalar(`X${i}_scale`, 'float32', i === 1 ? 0.04 : 0.013 + 0.05 * i));
    inputs.push(scalar(`X${i}_zero_point`, type, i === 1 ? zp(128) : zp(90 + 20 * i)));
  });
  add(name, 'QLinearConcat', {domain: 'com.microsoft', attrs: {axis}, inputs, feed});
}
qconcatCase('qlinear_concat_u8_axis1', 60, 'uint8', [[1, 2, 3, 3], [1, 3, 3, 3], [1, 1, 3, 3]], 1);
qconcatCase('qlinear_concat_s8_axis_last', 61, 'int8', [[2, 3, 4], [2, 3, 1], [2, 3, 5]], -1);

// ---- lookup-table activations: every code once --------------------------------------------------
function everyCode(type) {
  const [lo, hi] = RANGE[type];
  return Array.from({length: hi - lo + 1}, (_, i) => lo + i);
}
for (const [op, attrs] of [['QLinearSigmoid', {}], ['QLinearLeakyRelu', {alpha: f(0.1)}]]) {
  for (const type of ['uint8', 'int8']) {
    const zp = (v) => (type === 'uint8' ? v : v - 128);
    const outZp = op === 'QLinearSigmoid' ? zp(0) : zp(200);
    const outScale = op === 'QLinearSigmoid' ? 1 / 256 : 0.021;
    add(`${op === 'QLinearSigmoid' ? 'qlinear_sigmoid' : 'qlinear_leaky_relu'}_${type === 'uint8' ? 'u8' : 's8'}`, op, {
      domain: 'com.microsoft', attrs,
      inputs: [T('X', type, [2, 128], everyCode(type)), scalar('X_scale', 'float32', 0.0625),
        scalar('X_zero_point', type, zp(128)), scalar('Y_scale', 'float32', outScale), scalar('Y_zero_point', type, outZp)],
      feed: [0]});
  }
}

// ---- QLinearSoftmax --------------------------------------------------------------------------------
function qsoftmaxCase(name, seed, type, dims, attrs, xScale) {
  const r = rng(seed);
  add(name, 'QLinearSoftmax', {domain: 'com.microsoft', attrs,
    inputs: [T('X', type, dims, randomInts(r, type, dims)), scalar('X_scale', 'float32', xScale),
      scalar('X_zero_point', type, type === 'uint8' ? 128 : 0), scalar('Y_scale', 'float32', 1 / 256),
      scalar('Y_zero_point', type, type === 'uint8' ? 0 : -128)],
    feed: [0]});
}
qsoftmaxCase('qlinear_softmax_u8_opset13_last', 70, 'uint8', [3, 10], {opset: 13, axis: -1}, 0.05);
qsoftmaxCase('qlinear_softmax_s8_opset13_axis1', 71, 'int8', [2, 5, 3], {opset: 13, axis: 1}, 0.1);
qsoftmaxCase('qlinear_softmax_u8_opset12_axis1', 72, 'uint8', [2, 3, 4], {opset: 12, axis: 1}, 0.08);
qsoftmaxCase('qlinear_softmax_s8_opset13_default_axis', 73, 'int8', [4, 7], {opset: 13}, 0.02);

// ---- QGemm -------------------------------------------------------------------------------------
function qgemmCase(name, seed, o) {
  const r = rng(seed);
  const [m, k, n] = o.mkn;
  const aDims = o.transA ? [k, m] : [m, k];
  const bDims = o.transB ? [n, k] : [k, n];
  const inputs = [T('A', 'uint8', aDims, randomInts(r, 'uint8', aDims)), scalar('a_scale', 'float32', 0.03),
    scalar('a_zero_point', 'uint8', 125), T('B', 'int8', bDims, randomInts(r, 'int8', bDims, -127, 127)),
    o.perColumn ? T('b_scale', 'float32', [n], randomFloats(r, [n], 0.002, 0.01)) : scalar('b_scale', 'float32', 0.004),
    o.perColumn ? T('b_zero_point', 'int8', [n], new Array(n).fill(0)) : scalar('b_zero_point', 'int8', 0),
    o.c ? T('C', 'int32', o.c, randomInts(r, 'int32', o.c, -5000, 5000)) : null];
  if (o.yScale) inputs.push(scalar('y_scale', 'float32', o.yScale), scalar('y_zero_point', 'uint8', 128));
  add(name, 'QGemm', {domain: 'com.microsoft', attrs: {transA: o.transA ? 1 : 0, transB: o.transB ? 1 : 0, alpha: f(o.alpha || 1)},
    inputs, feed: [0]});
}
qgemmCase('qgemm_u8s8_per_column_transB', 80, {mkn: [3, 17, 5], transB: true, perColumn: true, c: [5], yScale: 0.08});
qgemmCase('qgemm_u8s8_f32_out_transA', 81, {mkn: [4, 9, 6], transA: true, c: [4, 6], alpha: 0.5});

// ---- FusedConv / FusedGemm -----------------------------------------------------------------------
const activations = [['Relu', []], ['LeakyRelu', [0.2]], ['Clip', [-0.5, 0.7]], ['HardSigmoid', [0.3, 0.4]],
  ['Sigmoid', []], ['Tanh', []]];
activations.forEach(([act, params], i) => {
  const r = rng(90 + i);
  const xDims = [1, 3, 6, 5];
  const wDims = [4, 3, 3, 3];
  const withZ = act === 'Relu' || act === 'Sigmoid';
  const attrs = {kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1], activation: act};
  if (params.length) attrs.activation_params = floats(params);
  const inputs = [T('X', 'float32', xDims, randomFloats(r, xDims)), T('W', 'float32', wDims, randomFloats(r, wDims, -0.5, 0.5)),
    T('B', 'float32', [4], randomFloats(r, [4], -0.2, 0.2))];
  if (withZ) inputs.push(T('Z', 'float32', [1, 4, 6, 5], randomFloats(r, [1, 4, 6, 5])));
  add(`fused_conv_${act.toLowerCase()}${withZ ? '_sum' : ''}`, 'FusedConv', {domain: 'com.microsoft', attrs, inputs,
    feed: withZ ? [0, 3] : [0]});
});
[['Relu', {}], ['LeakyRelu', {activation_alpha: f(0.3)}], ['HardSigmoid', {activation_alpha: f(0.25), activation_beta: f(0.45)}]]
    .forEach(([act, extra], i) => {
      const r = rng(100 + i);
      const transB = i !== 1;
      const aDims = [3, 7];
      const bDims = transB ? [5, 7] : [7, 5];
      add(`fused_gemm_${act.toLowerCase()}`, 'FusedGemm', {domain: 'com.microsoft',
        attrs: {activation: act, transB: transB ? 1 : 0, alpha: f(1), beta: f(1), ...extra},
        inputs: [T('A', 'float32', aDims, randomFloats(r, aDims)), T('B', 'float32', bDims, randomFloats(r, bDims)),
          T('C', 'float32', [5], randomFloats(r, [5]))],
        feed: [0]});
    });

// ---- dynamic quantization -------------------------------------------------------------------------
function dqlCase(name, seed, data) {
  add(name, 'DynamicQuantizeLinear', {domain: '', opset: 13, inputs: [T('x', 'float32', [data.length], data)], feed: [0],
    outputs: ['y', 'y_scale', 'y_zero_point'], outputTypes: {y: 'uint8', y_scale: 'float32', y_zero_point: 'uint8'}});
}
{
  const r = rng(110);
  dqlCase('dynamic_quantize_linear_mixed', 110, Array.from(randomFloats(r, [29], -2.5, 4)));
  dqlCase('dynamic_quantize_linear_positive', 111, Array.from(randomFloats(r, [17], 0.5, 3)));
  dqlCase('dynamic_quantize_linear_negative', 112, Array.from(randomFloats(r, [9], -6, -0.1)));
  dqlCase('dynamic_quantize_linear_ties', 113, [0, 0.5, 1, 1.5, 2, 2.5, -1, 127.5, 255 - 127.5]);
}
function mmitfCase(name, seed, o) {
  const r = rng(seed);
  const n = o.b[o.b.length - 1];
  const inputs = [T('A', o.aType, o.a, randomInts(r, o.aType, o.a)), T('B', 'int8', o.b, randomInts(r, 'int8', o.b, -127, 127)),
    scalar('a_scale', 'float32', 0.02),
    o.perColumn ? T('b_scale', 'float32', [n], randomFloats(r, [n], 0.002, 0.01)) : scalar('b_scale', 'float32', 0.006),
    scalar('a_zero_point', o.aType, o.aType === 'uint8' ? 131 : -7),
    o.perColumn ? T('b_zero_point', 'int8', [n], new Array(n).fill(0)) : null];
  if (o.bias) inputs.push(T('bias', 'float32', [n], randomFloats(r, [n])));
  add(name, 'MatMulIntegerToFloat', {domain: 'com.microsoft', inputs, feed: [0]});
}
mmitfCase('matmul_integer_to_float_u8_batched_bias', 120, {aType: 'uint8', a: [2, 3, 11], b: [11, 4], perColumn: true, bias: true});
mmitfCase('matmul_integer_to_float_s8', 121, {aType: 'int8', a: [5, 6], b: [6, 3]});

// ---- com.microsoft.nchwc: float graphs as ORT's optimizer saves them -----------------------------
// The nchwc ops take filters ORT itself reorders into its blocked formats, so these cases are
// whole float models saved at level "all" (SessionOptions.optimizedModelFilePath); the
// committed model is ORT's saved graph and the outputs are ORT's run of it.
const optimizedCases = [];
function convNode(x, w, b, y, attrs) { return {op: 'Conv', inputs: b ? [x, w, b] : [x, w], outputs: [y], attrs}; }
function weights(r, name, dims, scale = 0.5) { return T(name, 'float32', dims, randomFloats(r, dims, -scale, scale)); }
{
  const r = rng(130);
  optimizedCases.push({name: 'nchwc_graph_cnn', inputs: [T('x', 'float32', [1, 3, 17, 15], randomFloats(r, [1, 3, 17, 15]))],
    initializers: [weights(r, 'w1', [32, 3, 3, 3]), weights(r, 'b1', [32], 0.1), weights(r, 'w2', [32, 32, 3, 3], 0.1),
      weights(r, 'b2', [32], 0.1), weights(r, 'w3', [32, 1, 3, 3]), weights(r, 'b3', [32], 0.1),
      weights(r, 'w4', [32, 32, 1, 1], 0.3), weights(r, 'b4', [32], 0.1)],
    nodes: [convNode('x', 'w1', 'b1', 'c1', {kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2]}),
      {op: 'Relu', inputs: ['c1'], outputs: ['r1']},
      convNode('r1', 'w2', 'b2', 'c2', {kernel_shape: [3, 3], pads: [1, 1, 1, 1]}),
      {op: 'Add', inputs: ['c2', 'r1'], outputs: ['s2']},
      {op: 'Relu', inputs: ['s2'], outputs: ['r2']},
      convNode('r2', 'w3', 'b3', 'c3', {kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 32}),
      {op: 'Clip', inputs: ['c3', 'lo', 'hi'], outputs: ['k3']},
      {op: 'MaxPool', inputs: ['k3'], outputs: ['p'], attrs: {kernel_shape: [2, 2], strides: [2, 2]}},
      convNode('p', 'w4', 'b4', 'c4', {kernel_shape: [1, 1]}),
      {op: 'GlobalAveragePool', inputs: ['c4'], outputs: ['y']}],
    extra: [T('lo', 'float32', [], [0]), T('hi', 'float32', [], [6])]});
}
{
  const r = rng(131);
  optimizedCases.push({name: 'nchwc_graph_padded_channels', inputs: [T('x', 'float32', [1, 20, 7, 9], randomFloats(r, [1, 20, 7, 9]))],
    initializers: [weights(r, 'w1', [40, 20, 3, 3], 0.2), weights(r, 'b1', [40], 0.1), weights(r, 'w2', [16, 40, 1, 1], 0.3)],
    nodes: [convNode('x', 'w1', 'b1', 'c1', {kernel_shape: [3, 3], pads: [0, 1, 1, 0], strides: [1, 2]}),
      {op: 'Sigmoid', inputs: ['c1'], outputs: ['s1']},
      {op: 'AveragePool', inputs: ['s1'], outputs: ['a'], attrs: {kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1}},
      convNode('a', 'w2', null, 'c2', {kernel_shape: [1, 1]}),
      {op: 'AveragePool', inputs: ['c2'], outputs: ['a2'], attrs: {kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1}},
      {op: 'GlobalMaxPool', inputs: ['a2'], outputs: ['y']}]});
}
{
  const r = rng(132);
  optimizedCases.push({name: 'nchwc_graph_channels_last', inputs: [T('x', 'float32', [2, 6, 5, 32], randomFloats(r, [2, 6, 5, 32]))],
    initializers: [weights(r, 'w1', [48, 32, 3, 3], 0.1), weights(r, 'b1', [48], 0.1)],
    nodes: [{op: 'Transpose', inputs: ['x'], outputs: ['xt'], attrs: {perm: [0, 3, 1, 2]}},
      convNode('xt', 'w1', 'b1', 'c1', {kernel_shape: [3, 3], pads: [1, 1, 1, 1]}),
      {op: 'LeakyRelu', inputs: ['c1'], outputs: ['l1'], attrs: {alpha: f(0.2)}},
      {op: 'MaxPool', inputs: ['l1'], outputs: ['p'], attrs: {kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]}},
      {op: 'Transpose', inputs: ['p'], outputs: ['y'], attrs: {perm: [0, 2, 3, 1]}}]});
}

// ---- writing and running -------------------------------------------------------------------------
async function main() {
  const ort = loadOrt();
  ort.env.logLevel = 'error';
  fs.rmSync(OUT, {recursive: true, force: true});
  fs.mkdirSync(OUT, {recursive: true});
  const index = {ort_version: ort.env.versions.node, generator: 'testdata/gen/make_ort_op_cases.js',
    note: 'one node per model, ORT CPU, graph optimizations disabled, 1 thread; made on AVX-512 VNNI', cases: []};
  for (const c of cases) {
    const dir = path.join(OUT, c.name);
    fs.mkdirSync(dir);
    const nodeInputs = c.inputs.map((t) => (t ? t.name : ''));
    const graphInputs = c.feed.map((i) => c.inputs[i]);
    const initializers = c.inputs.filter((t, i) => t && !c.feed.includes(i));
    const outNames = c.outputs || ['Y'];
    const model = {
      opsets: c.domain ? {'': c.opset || 13, [c.domain]: 1} : {'': c.opset || 13},
      nodes: [{op: c.op, domain: c.domain, inputs: nodeInputs, outputs: outNames, name: c.name, attrs: c.attrs}],
      initializers,
      inputs: graphInputs.map((t) => ({name: t.name, type: t.type, dims: t.dims})),
      outputs: outNames.map((n) => ({name: n, type: 'float32'})),
    };
    // The output's element type is what ORT infers; declare it after a first run.
    let session;
    const feeds = {};
    graphInputs.forEach((t) => { feeds[t.name] = new ort.Tensor(t.type, t.data, t.dims); });
    const options = {executionProviders: ['cpu'], graphOptimizationLevel: 'disabled', intraOpNumThreads: 1,
      interOpNumThreads: 1, executionMode: 'sequential'};
    const outTypes = c.outputTypes || {};
    for (let attempt = 0; attempt < 2; ++attempt) {
      model.outputs = outNames.map((n) => ({name: n, type: outTypes[n] || 'float32'}));
      const bytes = encodeModel(model);
      try {
        session = await ort.InferenceSession.create(bytes, options);
        const out = await session.run(feeds);
        let retry = false;
        for (const n of outNames) if (out[n].type !== model.outputs.find((o) => o.name === n).type) {
          outTypes[n] = out[n].type;
          retry = true;
        }
        if (retry && attempt === 0) continue;
        // The committed model declares its outputs' shapes (the ONNX checker requires a shape).
        model.outputs = outNames.map((n) => ({name: n, type: out[n].type, dims: out[n].dims}));
        fs.writeFileSync(path.join(dir, 'model.onnx'), encodeModel(model));
        graphInputs.forEach((t, i) => fs.writeFileSync(path.join(dir, `input_${i}.pb`), tensorProto(t)));
        outNames.forEach((n, i) => fs.writeFileSync(path.join(dir, `output_${i}.pb`),
            tensorProto({name: n, type: out[n].type, dims: out[n].dims, data: out[n].data})));
        break;
      } catch (e) {
        if (attempt === 0 && /type|Type/.test(String(e.message))) {
          // ORT rejects a declared output type that differs from the op's: take the input's.
          for (const n of outNames) outTypes[n] = outTypes[n] || (graphInputs[0] ? graphInputs[0].type : 'float32');
          continue;
        }
        throw new Error(`${c.name}: ${e.message}`);
      }
    }
    index.cases.push({name: c.name, op: `${c.domain ? c.domain + '.' : ''}${c.op}`});
    console.log(c.name);
  }
  for (const c of optimizedCases) {
    const dir = path.join(OUT, c.name);
    fs.mkdirSync(dir);
    const model = {opsets: {'': 13}, nodes: c.nodes, initializers: [...c.initializers, ...(c.extra || [])],
      inputs: c.inputs.map((t) => ({name: t.name, type: t.type, dims: t.dims})), outputs: [{name: 'y', type: 'float32'}]};
    const source = path.join(dir, 'source.onnx');
    fs.writeFileSync(source, encodeModel(model));
    const optimized = path.join(dir, 'model.onnx');
    const saver = await ort.InferenceSession.create(source, {executionProviders: ['cpu'], graphOptimizationLevel: 'all',
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', optimizedModelFilePath: optimized});
    await saver.release();
    fs.rmSync(source);
    // ORT's outputs: its run of the saved graph as it is (no further optimization).
    const session = await ort.InferenceSession.create(optimized, {executionProviders: ['cpu'],
      graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential'});
    const feeds = {};
    c.inputs.forEach((t) => { feeds[t.name] = new ort.Tensor(t.type, t.data, t.dims); });
    const out = await session.run(feeds);
    c.inputs.forEach((t, i) => fs.writeFileSync(path.join(dir, `input_${i}.pb`), tensorProto(t)));
    fs.writeFileSync(path.join(dir, 'output_0.pb'), tensorProto({name: 'y', type: out.y.type, dims: out.y.dims, data: out.y.data}));
    const ops = Object.keys(require('./ort_util').opCounts(optimized)).sort();
    index.cases.push({name: c.name, op: 'nchwc graph', ops});
    console.log(c.name, ops.join(' '));
  }
  fs.writeFileSync(path.join(OUT, 'index.json'), JSON.stringify(index, null, 1) + '\n');
}

main().catch((e) => {
  process.stderr.write(`make_ort_op_cases.js: ${e.stack || e}\n`);
  process.exit(1);
});
