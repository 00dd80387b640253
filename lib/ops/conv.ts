// conv2d with PyTorch's semantics: stride, padding, dilation, groups, optional bias.
import { native, type ConvParams } from '../binding.js';
import type { Tensor } from '../tensor.js';
import { autocastOp } from '../amp/autocast.js';
import { record } from './record.js';
import { checkFloat32, checkOptions, checkPair, checkInt, checkRank, checkSameDevice, checkShape } from './validate.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}

/** @internal The option names of conv2d (convBnStats takes them too). */
export const CONV2D_OPTIONS = ['stride', 'padding', 'dilation', 'groups'] as const;

/** x: (N, C, H, W), weight: (O, C / groups, kH, kW), bias: (O) -> (N, O, Ho, Wo) */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options?: Conv2dOptions): Tensor {
  const op = 'conv2d';
  const o = checkOptions(op, options, CONV2D_OPTIONS);
  const params = checkConv2d(op, x, weight, o);
  if (bias !== undefined && bias !== null) {
    checkFloat32(op, 'bias', bias);
    checkShape(op, 'bias', bias, [weight.shape[0]!]);
  }
  checkSameDevice(op, [x, weight, bias]);
  const b = bias ?? null;
  return autocastOp([x, weight, b], ([xx, ww, bb]) => record(native.conv2d(xx!.handle, ww!.handle, bb ? bb.handle : null, params), {
    op,
    inputs: [xx, ww, bb],
    saved: [xx!, ww!],
    attrs: { params, hasBias: bb !== null },
  }));
}

/**
 * @internal The checks of a convolution's input (N, C, H, W) and weight (O, C / groups, kH, kW),
 * both float32, and of its options (read from `o`); returns the native parameters.
 */
export function checkConv2d(op: string, x: Tensor, weight: Tensor, o: Record<string, unknown>): ConvParams {
  checkFloat32(op, 'input', x);
  checkFloat32(op, 'weight', weight);
  checkRank(op, 'input', x, 4);
  checkRank(op, 'weight', weight, 4);
  const [strideH, strideW] = checkPair(op, 'stride', o.stride ?? 1, 1);
  const [padH, padW] = checkPair(op, 'padding', o.padding ?? 0, 0);
  const [dilationH, dilationW] = checkPair(op, 'dilation', o.dilation ?? 1, 1);
  const groups = checkInt(op, 'groups', o.groups ?? 1, 1);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [outChannels, perGroup, kH, kW] = weight.shape as [number, number, number, number];
  if (c % groups !== 0 || outChannels % groups !== 0) {
    throw new RangeError(`${op}: input channels (${c}) and output channels (${outChannels}) must both be divisible by groups (${groups})`);
  }
  if (perGroup * groups !== c) {
    throw new RangeError(`${op}: weight [${weight.shape}] expects ${perGroup * groups} input channels (${perGroup} per group × ${groups}), input [${x.shape}] has ${c}`);
  }
  const ho = Math.floor((h + 2 * padH - dilationH * (kH - 1) - 1) / strideH) + 1;
  const wo = Math.floor((w + 2 * padW - dilationW * (kW - 1) - 1) / strideW) + 1;
  if (ho <= 0 || wo <= 0 || n === 0) {
    throw new RangeError(`${op}: input [${x.shape}] with kernel ${kH}x${kW}, padding ${padH},${padW} and dilation ${dilationH},${dilationW} gives an empty output (${ho}x${wo})`);
  }
  return [strideH, strideW, padH, padW, dilationH, dilationW, groups];
}
