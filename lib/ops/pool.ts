// Pooling: max (with argmax for the backward pass), average, adaptive average.
import { native, type PoolParams } from '../binding.js';
import type { Tensor } from '../tensor.js';
import { record } from './record.js';
import { checkFloat32, checkOptions, checkPair, checkRank } from './validate.js';

export interface MaxPool2dOptions {
  kernelSize: number | [number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
  ceilMode?: boolean;
}
export interface AvgPool2dOptions extends MaxPool2dOptions {
  countIncludePad?: boolean;
}

function poolArgs(op: string, x: Tensor, options: unknown, known: string[]): PoolParams {
  const o = checkOptions(op, options, known);
  checkFloat32(op, 'input', x);
  checkRank(op, 'input', x, 4);
  if (o.kernelSize === undefined) throw new TypeError(`${op}: options.kernelSize is required`);
  const [kH, kW] = checkPair(op, 'kernelSize', o.kernelSize, 1);
  const [sH, sW] = checkPair(op, 'stride', o.stride ?? [kH, kW], 1);
  const [pH, pW] = checkPair(op, 'padding', o.padding ?? 0, 0);
  if (pH * 2 > kH || pW * 2 > kW) {
    throw new RangeError(`${op}: padding (${pH}, ${pW}) must be at most half the kernel size (${kH}, ${kW})`);
  }
  const ceilMode = o.ceilMode ?? false;
  const countIncludePad = o.countIncludePad ?? true;
  if (typeof ceilMode !== 'boolean') throw new TypeError(`${op}: ceilMode must be a boolean`);
  if (typeof countIncludePad !== 'boolean') throw new TypeError(`${op}: countIncludePad must be a boolean`);
  const params: PoolParams = { kernelSize: [kH, kW], stride: [sH, sW], padding: [pH, pW], ceilMode, countIncludePad };
  return params;
}

/** x: (N, C, H, W); stride defaults to kernelSize. */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor {
  const params = poolArgs('maxPool2d', x, options, ['kernelSize', 'stride', 'padding', 'ceilMode']);
  const [y, argmax] = native.maxPool2d(x.handle, params);
  return record(y, { op: 'maxPool2d', inputs: [x], extras: [argmax], attrs: { inputShape: x.shape } });
}

/** x: (N, C, H, W); countIncludePad (default true) counts padded zeros in the average. */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  const params = poolArgs('avgPool2d', x, options, ['kernelSize', 'stride', 'padding', 'ceilMode', 'countIncludePad']);
  return record(native.avgPool2d(x.handle, params), {
    op: 'avgPool2d',
    inputs: [x],
    attrs: { inputShape: x.shape, params },
  });
}

/** x: (N, C, H, W) -> (N, C, outH, outW), windows as PyTorch's adaptive_avg_pool2d. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | [number, number]): Tensor {
  checkFloat32('adaptiveAvgPool2d', 'input', x);
  checkRank('adaptiveAvgPool2d', 'input', x, 4);
  const [outH, outW] = checkPair('adaptiveAvgPool2d', 'outputSize', outputSize, 1);
  return record(native.adaptiveAvgPool2d(x.handle, outH, outW), {
    op: 'adaptiveAvgPool2d',
    inputs: [x],
    attrs: { inputShape: x.shape },
  });
}
