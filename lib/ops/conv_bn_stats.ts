// convBnStats: a convolution that applies the previous batch norm (and ReLU) to its input while it
// reads it, and gathers the next batch norm's statistics of its output while it writes it: the
// ResNet training pattern that cuDNN runs as one kernel ("ConvBNfprop").
//   z = x * scale + bias per input channel (each optional), then max(0, z) when relu
//   y = conv2d(z, weight, no bias, { stride, padding, dilation, groups })
//   sum[o] = Σ y[:, o], sqSum[o] = Σ y[:, o]²   over (N, Ho, Wo), float32
// A batch norm of y then needs no pass of its own over y for its statistics:
// mean = sum / count, var = sqSum / count − mean².
// Where it runs: the CPU op composes it; on the GPU it is one cuDNN graph for float16 / bfloat16
// channels-last data (inside rn.autocast, with channelsLast inputs) where an engine supports the
// configuration, and otherwise the same composition of existing ops (lib/ops/prologue.ts).
// Gradients: y, sum and sqSum are all differentiable. sum and sqSum are recorded as reductions of
// y, so backward() adds their gradients to y's (dy + dsum + 2·y·dsqSum); the rule of y (ops/grad.ts)
// recomputes z, runs conv2d's backward, then goes through the ReLU and the per-channel affine to x,
// scale and bias.
import { native, type NativeTensor } from '../binding.js';
import type { Tensor } from '../tensor.js';
import { autocastDtype, lowerForAutocast, raiseFromAutocast } from '../amp/autocast.js';
import { CONV2D_OPTIONS, checkConv2d, type Conv2dOptions } from './conv.js';
import { composeConvBnStats, type Prologue } from './prologue.js';
import { record } from './record.js';
import { checkFloat32, checkOptions, checkSameDevice, checkShape } from './validate.js';

export interface ConvBnStatsOptions extends Conv2dOptions {
  /** (C) float32, multiplies x per input channel (a batch norm's weight · invStd). */
  scale?: Tensor | null;
  /** (C) float32, added per input channel after the scale (a batch norm's bias − mean · weight · invStd). */
  bias?: Tensor | null;
  /** max(0, ·) after the scale and bias (default false). */
  relu?: boolean;
}

export interface ConvBnStatsResult {
  /** (N, O, Ho, Wo), in x's memory format */
  y: Tensor;
  /** (O) float32: Σ y over (N, Ho, Wo) */
  sum: Tensor;
  /** (O) float32: Σ y² over (N, Ho, Wo) */
  sqSum: Tensor;
}

/** x: (N, C, H, W), weight: (O, C / groups, kH, kW) -> { y: (N, O, Ho, Wo), sum: (O), sqSum: (O) } */
export function convBnStats(x: Tensor, weight: Tensor, options?: ConvBnStatsOptions): ConvBnStatsResult {
  const op = 'convBnStats';
  const o = checkOptions(op, options, [...CONV2D_OPTIONS, 'scale', 'bias', 'relu']);
  const params = checkConv2d(op, x, weight, o);
  const channels = x.shape[1]!;
  const perChannel = (name: 'scale' | 'bias'): Tensor | null => {
    const t = o[name];
    if (t === undefined || t === null) return null;
    checkFloat32(op, name, t);
    checkShape(op, name, t as Tensor, [channels]);
    return t as Tensor;
  };
  const scale = perChannel('scale'), bias = perChannel('bias');
  const relu = o.relu ?? false;
  if (typeof relu !== 'boolean') throw new TypeError(`${op}: relu must be a boolean, got ${String(relu)}`);
  checkSameDevice(op, [x, weight, scale, bias]);

  const dtype = autocastDtype();
  const xIn = dtype ? lowerForAutocast(x, dtype) : x;
  const wIn = dtype ? lowerForAutocast(weight, dtype) : weight;
  let y: Tensor, sumHandle: NativeTensor, sqSumHandle: NativeTensor;
  try {
    const prologue: Prologue = { scale: scale?.handle ?? null, bias: bias?.handle ?? null, relu };
    const fused = native.convBnStats(xIn.handle, wIn.handle, prologue.scale, prologue.bias, relu, params);
    let yHandle: NativeTensor;
    [yHandle, sumHandle, sqSumHandle] =
      typeof fused === 'string' ? composeConvBnStats(xIn.handle, wIn.handle, prologue, params) : fused;
    y = record(yHandle, {
      op,
      inputs: [xIn, wIn, scale, bias],
      saved: [xIn, wIn, ...(scale ? [scale] : []), ...(bias ? [bias] : [])],
      attrs: { params, relu, hasScale: scale !== null, hasBias: bias !== null },
    });
  } finally {
    if (xIn !== x) xIn.dispose();
    if (wIn !== weight) wIn.dispose();
  }
  if (dtype) {
    const low = y;
    y = raiseFromAutocast(low, dtype);
    low.dispose();
  }
  const keptShape = [1, y.shape[1]!, 1, 1];
  const sum = record(sumHandle, { op: 'sum', inputs: [y], attrs: { inputShape: y.shape, keptShape } });
  const sqSum = record(sqSumHandle, { op: 'sumOfSquares', inputs: [y], saved: [y], attrs: { keptShape } });
  return { y, sum, sqSum };
}
