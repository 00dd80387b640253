// The ONNX nodes of each module, written as its forward() computes in eval mode: one emitter
// per layer or block class, on values whose shapes are followed through the graph. A batch norm
// that fuseForInference() folded is the identity here too (its convolution carries the bias).
import type { Tensor } from '../tensor.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Identity, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { CifarBlock, CifarNet } from '../models/cifar.js';
import { DenseBlock, DenseLayer, DenseNet, NamedSequential, Transition } from '../models/densenet.js';
import { HighwayBlock } from '../models/highway.js';
import { PreActBlock, PreActResNet } from '../models/preact.js';
import { BasicBlock, Bottleneck, ResNet } from '../models/resnet.js';
import type { GraphBuilder, Value } from './graph.js';

/** The modules exportModel knows, for its error message. */
export const EXPORTABLE = ['ResNet', 'BasicBlock', 'Bottleneck', 'CifarResNet', 'HighwayNet', 'CifarBlock', 'HighwayBlock',
  'DenseNet', 'DenseBlock', 'DenseLayer', 'Transition', 'PreActResNet', 'PreActBlock', 'Sequential', 'Conv2d', 'BatchNorm2d',
  'Linear', 'ReLU', 'Identity', 'MaxPool2d', 'AdaptiveAvgPool2d(1)', 'Flatten(1)'];

type Pair = number | [number, number] | undefined;
const pair = (v: Pair, fallback: number): [number, number] => (v === undefined ? [fallback, fallback] : Array.isArray(v) ? v : [v, v]);

function weights(t: Tensor): Float32Array {
  return t.toArray('float32');
}

/** The output size along one axis of a sliding window (convolution or pooling), as PyTorch computes it. */
function windows(size: number, kernel: number, stride: number, pad: number, dilation: number, ceil: boolean): number {
  const span = size + 2 * pad - dilation * (kernel - 1) - 1;
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  if (ceil && (out - 1) * stride >= size + pad) out--;  // the last window may not start in the padding (PyTorch's rule)
  if (!(out >= 1)) throw new RangeError(`onnx.exportModel: inputShape is too small for this model (a map of ${size} pixels has none left after a window of ${kernel})`);
  return out;
}

function unsupported(what: string): never {
  throw new RangeError(`onnx.exportModel: ${what} has no ONNX export (supported: ${EXPORTABLE.join(', ')})`);
}

function conv(g: GraphBuilder, m: Conv2d, x: Value, path: string): Value {
  const [sH, sW] = pair(m.options.stride, 1);
  const [pH, pW] = pair(m.options.padding, 0);
  const [dH, dW] = pair(m.options.dilation, 1);
  const [kH, kW] = m.kernelSize;
  const groups = m.options.groups ?? 1;
  const inputs = [x.name, g.float32(`${path}.weight`, weights(m.weight), m.weight.shape)];
  if (m.bias) inputs.push(g.float32(`${path}.bias`, weights(m.bias), m.bias.shape));
  const name = g.node('Conv', inputs, path, {
    kernel_shape: [kH, kW], strides: [sH, sW], pads: [pH, pW, pH, pW], dilations: [dH, dW], group: groups,
  });
  const [n, , h, w] = x.shape as [number, number, number, number];
  return { name, shape: [n, m.outChannels, windows(h, kH, sH, pH, dH, false), windows(w, kW, sW, pW, dW, false)] };
}

function batchNorm(g: GraphBuilder, m: BatchNorm2d, x: Value, path: string): Value {
  if (m.folded) return x;
  if (!m.runningMean || !m.runningVar) unsupported(`${path} (a BatchNorm2d without running statistics normalises with batch statistics, even in eval mode: it)`);
  const c = m.numFeatures;
  const scale = m.weight ? weights(m.weight) : new Float32Array(c).fill(1);
  const shift = m.bias ? weights(m.bias) : new Float32Array(c);
  const name = g.node('BatchNormalization', [
    x.name,
    g.float32(`${path}.weight`, scale, [c]),
    g.float32(`${path}.bias`, shift, [c]),
    g.float32(`${path}.running_mean`, weights(m.runningMean), [c]),
    g.float32(`${path}.running_var`, weights(m.runningVar), [c]),
  ], path, { epsilon: { float: m.eps } });
  return { name, shape: x.shape };
}

function unary(g: GraphBuilder, opType: string, x: Value, path: string): Value {
  return { name: g.node(opType, [x.name], path), shape: x.shape };
}

function binary(g: GraphBuilder, opType: string, a: Value, b: Value, path: string): Value {
  return { name: g.node(opType, [a.name, b.name], path), shape: a.shape };
}

function pool(g: GraphBuilder, opType: 'MaxPool' | 'AveragePool', x: Value, path: string,
  o: { kernelSize: Pair; stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean }): Value {
  const [kH, kW] = pair(o.kernelSize, 1);
  const [sH, sW] = pair(o.stride, 0).map((s, i) => (s === 0 ? [kH, kW][i]! : s)) as [number, number];
  const [pH, pW] = pair(o.padding, 0);
  const ceil = o.ceilMode ?? false;
  const attributes: Record<string, number | number[]> = { kernel_shape: [kH, kW], strides: [sH, sW], pads: [pH, pW, pH, pW], ceil_mode: ceil ? 1 : 0 };
  if (opType === 'AveragePool') attributes.count_include_pad = o.countIncludePad ?? true ? 1 : 0;
  const name = g.node(opType, [x.name], path, attributes);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  return { name, shape: [n, c, windows(h, kH, sH, pH, 1, ceil), windows(w, kW, sW, pW, 1, ceil)] };
}

function globalAveragePool(g: GraphBuilder, m: AdaptiveAvgPool2d, x: Value, path: string): Value {
  const [oH, oW] = pair(m.outputSize, 1);
  if (oH !== 1 || oW !== 1) unsupported(`${path} (AdaptiveAvgPool2d to ${oH}x${oW}; only 1x1)`);
  return { name: g.node('GlobalAveragePool', [x.name], path), shape: [x.shape[0]!, x.shape[1]!, 1, 1] };
}

function flatten(g: GraphBuilder, x: Value, path: string): Value {
  const features = x.shape.slice(1).reduce((a, b) => a * b, 1);
  return { name: g.node('Flatten', [x.name], path, { axis: 1 }), shape: [x.shape[0]!, features] };
}

function linear(g: GraphBuilder, m: Linear, x: Value, path: string): Value {
  if (x.shape.length !== 2) unsupported(`${path} (Linear on a ${x.shape.length}-D input; only 2-D)`);
  const inputs = [x.name, g.float32(`${path}.weight`, weights(m.weight), m.weight.shape)];
  if (m.bias) inputs.push(g.float32(`${path}.bias`, weights(m.bias), m.bias.shape));
  return { name: g.node('Gemm', inputs, path, { transB: 1 }), shape: [x.shape[0]!, m.outFeatures] };
}

function concat(g: GraphBuilder, values: Value[], path: string): Value {
  if (values.length === 1) return values[0]!;
  const channels = values.reduce((sum, v) => sum + v.shape[1]!, 0);
  const [n, , h, w] = values[0]!.shape as [number, number, number, number];
  return { name: g.node('Concat', values.map((v) => v.name), path, { axis: 1 }), shape: [n, channels, h, w] };
}

/** The children in order, each child's path under `path`. */
function chain(g: GraphBuilder, m: Module, x: Value, path: string): Value {
  let current = x;
  for (const [name, child] of m.namedChildren()) current = emitModule(g, child, current, join(path, name));
  return current;
}

const join = (path: string, name: string): string => (path ? `${path}.${name}` : name);

/** The option-A shortcut: x[:, :, ::s, ::s] with zero channels around it ((out - C) / 2 before, the rest after). */
function shortcutA(g: GraphBuilder, x: Value, outChannels: number, stride: number, path: string): Value {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const sliced = g.node('Slice', [
    x.name, g.int64(`${path}.starts`, [0, 0]), g.int64(`${path}.ends`, [h, w]), g.int64(`${path}.axes`, [2, 3]),
    g.int64(`${path}.steps`, [stride, stride]),
  ], `${path}.subsampled`);
  const before = Math.floor((outChannels - c) / 2);
  const after = outChannels - c - before;
  const padded = g.node('Pad', [sliced, g.int64(`${path}.pads`, [0, before, 0, 0, 0, after, 0, 0])], path, { mode: 'constant' });
  return { name: padded, shape: [n, outChannels, Math.ceil(h / stride), Math.ceil(w / stride)] };
}

/** relu(bn(conv(x))) */
function convBnRelu(g: GraphBuilder, c: Conv2d, bn: BatchNorm2d, x: Value, path: string, convName: string, bnName: string): Value {
  const y = batchNorm(g, bn, conv(g, c, x, join(path, convName)), join(path, bnName));
  return unary(g, 'Relu', y, join(path, `${bnName}.relu`));
}

/** relu(bn(conv(h)) + shortcut), or relu(bn(conv(h))) without a shortcut. */
function residualTail(g: GraphBuilder, c: Conv2d, bn: BatchNorm2d, h: Value, shortcut: Value | null, path: string,
  convName: string, bnName: string): Value {
  if (!shortcut) return convBnRelu(g, c, bn, h, path, convName, bnName);
  const y = batchNorm(g, bn, conv(g, c, h, join(path, convName)), join(path, bnName));
  return unary(g, 'Relu', binary(g, 'Add', y, shortcut, join(path, 'add')), join(path, 'relu'));
}

function downsampled(g: GraphBuilder, downsample: Module | null, x: Value, path: string): Value {
  return downsample ? emitModule(g, downsample, x, join(path, 'downsample')) : x;
}

function basicBlock(g: GraphBuilder, m: BasicBlock | Bottleneck, x: Value, path: string): Value {
  let h = convBnRelu(g, m.conv1, m.bn1, x, path, 'conv1', 'bn1');
  if (m instanceof Bottleneck) h = convBnRelu(g, m.conv2, m.bn2, h, path, 'conv2', 'bn2');
  const shortcut = m.plain ? null : downsampled(g, m.downsample, x, path);
  return m instanceof Bottleneck
    ? residualTail(g, m.conv3, m.bn3, h, shortcut, path, 'conv3', 'bn3')
    : residualTail(g, m.conv2, m.bn2, h, shortcut, path, 'conv2', 'bn2');
}

function cifarBlock(g: GraphBuilder, m: CifarBlock, x: Value, path: string): Value {
  const h = convBnRelu(g, m.conv1, m.bn1, x, path, 'conv1', 'bn1');
  if (m.plain) return residualTail(g, m.conv2, m.bn2, h, null, path, 'conv2', 'bn2');
  const stride = pair(m.conv1.options.stride, 1)[0];
  const changes = stride !== 1 || m.conv1.inChannels !== m.conv2.outChannels;
  const shortcut = m.downsample ? downsampled(g, m.downsample, x, path)
    : changes ? shortcutA(g, x, m.conv2.outChannels, stride, join(path, 'shortcut')) : x;
  return residualTail(g, m.conv2, m.bn2, h, shortcut, path, 'conv2', 'bn2');
}

/** carried + T · (F(x) − carried), T = sigmoid(gate(x)): HighwayBlock.forward. */
function highwayBlock(g: GraphBuilder, m: HighwayBlock, x: Value, path: string): Value {
  const h = convBnRelu(g, m.conv1, m.bn1, x, path, 'conv1', 'bn1');
  const transformed = convBnRelu(g, m.conv2, m.bn2, h, path, 'conv2', 'bn2');
  const gate = unary(g, 'Sigmoid', conv(g, m.gate, x, join(path, 'gate')), join(path, 'gate.sigmoid'));
  const carried = downsampled(g, m.downsample, x, path);
  const difference = binary(g, 'Sub', transformed, carried, join(path, 'difference'));
  return binary(g, 'Add', carried, binary(g, 'Mul', gate, difference, join(path, 'gated')), join(path, 'out'));
}

function preActBlock(g: GraphBuilder, m: PreActBlock, x: Value, path: string): Value {
  const activated = unary(g, 'Relu', batchNorm(g, m.bn1, x, join(path, 'bn1')), join(path, 'bn1.relu'));
  let h = conv(g, m.conv1, activated, join(path, 'conv1'));
  h = conv(g, m.conv2, unary(g, 'Relu', batchNorm(g, m.bn2, h, join(path, 'bn2')), join(path, 'bn2.relu')), join(path, 'conv2'));
  if (m.bn3 && m.conv3) {
    h = conv(g, m.conv3, unary(g, 'Relu', batchNorm(g, m.bn3, h, join(path, 'bn3')), join(path, 'bn3.relu')), join(path, 'conv3'));
  }
  const shortcut = m.downsample ? conv(g, m.downsample, activated, join(path, 'downsample')) : x;
  return binary(g, 'Add', h, shortcut, join(path, 'add'));
}

function denseBlock(g: GraphBuilder, m: DenseBlock, x: Value, path: string): Value {
  const features = [x];
  for (const [name, layer] of m.namedChildren()) {
    features.push(chain(g, layer, concat(g, features, join(path, `${name}.input`)), join(path, name)));
  }
  return concat(g, features, join(path, 'out'));
}

/** The stem, stages and head of the ResNet-like nets, as their forward() lists them. */
function headed(g: GraphBuilder, path: string, body: Value, fc: Linear): Value {
  const pooled = { name: g.node('GlobalAveragePool', [body.name], join(path, 'avgpool')), shape: [body.shape[0]!, body.shape[1]!, 1, 1] };
  return linear(g, fc, flatten(g, pooled, join(path, 'flatten')), join(path, 'fc'));
}

/** The ONNX nodes of `m` applied to `x`; `path` names them (the module's path in the model). */
export function emitModule(g: GraphBuilder, m: Module, x: Value, path: string): Value {
  if (m instanceof ResNet) {
    let h = pool(g, 'MaxPool', convBnRelu(g, m.conv1, m.bn1, x, path, 'conv1', 'bn1'), join(path, 'maxpool'), m.maxpool.options);
    for (const name of ['layer1', 'layer2', 'layer3', 'layer4'] as const) h = emitModule(g, m[name], h, join(path, name));
    return headed(g, path, h, m.fc);
  }
  if (m instanceof CifarNet) {
    let h = convBnRelu(g, m.conv1, m.bn1, x, path, 'conv1', 'bn1');
    for (const name of ['layer1', 'layer2', 'layer3'] as const) h = emitModule(g, m[name], h, join(path, name));
    return headed(g, path, h, m.fc);
  }
  if (m instanceof PreActResNet) {
    let h = conv(g, m.conv1, x, join(path, 'conv1'));
    for (const name of ['layer1', 'layer2', 'layer3'] as const) h = emitModule(g, m[name], h, join(path, name));
    h = unary(g, 'Relu', batchNorm(g, m.bn, h, join(path, 'bn')), join(path, 'bn.relu'));
    return headed(g, path, h, m.fc);
  }
  if (m instanceof DenseNet) {
    const features = unary(g, 'Relu', chain(g, m.features, x, join(path, 'features')), join(path, 'features.relu'));
    return headed(g, path, features, m.classifier);
  }
  if (m instanceof CifarBlock) return cifarBlock(g, m, x, path);  // before BasicBlock, which it extends
  if (m instanceof BasicBlock || m instanceof Bottleneck) return basicBlock(g, m, x, path);
  if (m instanceof HighwayBlock) return highwayBlock(g, m, x, path);
  if (m instanceof PreActBlock) return preActBlock(g, m, x, path);
  if (m instanceof DenseBlock) return denseBlock(g, m, x, path);
  if (m instanceof Transition) return pool(g, 'AveragePool', chain(g, m, x, path), join(path, 'pool'), { kernelSize: 2, stride: 2 });
  if (m instanceof DenseLayer || m instanceof NamedSequential || m instanceof Sequential) return chain(g, m, x, path);
  if (m instanceof Conv2d) return conv(g, m, x, path);
  if (m instanceof BatchNorm2d) return batchNorm(g, m, x, path);
  if (m instanceof Linear) return linear(g, m, x, path);
  if (m instanceof ReLU) return unary(g, 'Relu', x, path);
  if (m instanceof Identity) return x;
  if (m instanceof MaxPool2d) return pool(g, 'MaxPool', x, path, m.options);
  if (m instanceof AdaptiveAvgPool2d) return globalAveragePool(g, m, x, path);
  if (m instanceof Flatten) {
    if (m.startDim !== 1 || (m.endDim !== -1 && m.endDim !== x.shape.length - 1)) unsupported(`${path} (Flatten from dim ${m.startDim} to ${m.endDim}; only from 1 to the end)`);
    return flatten(g, x, path);
  }
  return unsupported(`${path || 'the model'} (a ${m.constructor.name})`);
}
