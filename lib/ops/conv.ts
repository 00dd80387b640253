// conv2d with PyTorch's semantics: stride, padding, dilation, groups, optional bias; and
// convBiasAct, the inference form with the bias, a residual and the ReLU fused into its output pass.
import { native, type ConvParams } from '../binding.js';
import { wrap, type Tensor } from '../tensor.js';
import { autocastOp } from '../amp/autocast.js';
import { add, relu as reluOp } from './elementwise.js';
import { needsGrad, record } from './record.js';
import { checkFloat32, checkOptions, checkPair, checkInt, checkRank, checkSameDevice, checkShape } from './validate.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}

export interface ConvBiasActOptions extends Conv2dOptions {
  /** Apply a ReLU to the sum (default false: the identity). */
  relu?: boolean;
}

/** @internal The option names of conv2d (convBiasAct and convBnStats take them too). */
export const CONV2D_OPTIONS = ['stride', 'padding', 'dilation', 'groups'] as const;

/**
 * @internal The checks of a convolution's input (N, C, H, W) and weight (O, C / groups, kH, kW),
 * both float32, of its bias (O) when given, and of its options (read from `o`); returns the native
 * parameters.
 */
export function checkConv2d(op: string, x: Tensor, weight: Tensor, o: Record<string, unknown>,
  bias?: Tensor | null): ConvParams {
  return checkConv(op, x, weight, bias, o).params;
}

/** checkConv2d's checks; also returns the output shape. */
function checkConv(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, o: Record<string, unknown>):
  { params: ConvParams; outShape: [number, number, number, number] } {
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
  if (bias !== undefined && bias !== null) {
    checkFloat32(op, 'bias', bias);
    checkShape(op, 'bias', bias, [outChannels]);
  }
  const ho = Math.floor((h + 2 * padH - dilationH * (kH - 1) - 1) / strideH) + 1;
  const wo = Math.floor((w + 2 * padW - dilationW * (kW - 1) - 1) / strideW) + 1;
  if (ho <= 0 || wo <= 0 || n === 0) {
    throw new RangeError(`${op}: input [${x.shape}] with kernel ${kH}x${kW}, padding ${padH},${padW} and dilation ${dilationH},${dilationW} gives an empty output (${ho}x${wo})`);
  }
  return { params: { stride: [strideH, strideW], padding: [padH, padW], dilation: [dilationH, dilationW], groups }, outShape: [n, outChannels, ho, wo] };
}

/** x: (N, C, H, W), weight: (O, C / groups, kH, kW), bias: (O) -> (N, O, Ho, Wo) */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options?: Conv2dOptions): Tensor {
  const op = 'conv2d';
  const o = checkOptions(op, options, CONV2D_OPTIONS);
  const params = checkConv2d(op, x, weight, o, bias);
  checkSameDevice(op, [x, weight, bias]);
  const b = bias ?? null;
  const convolve = (p: ConvParams) => ([xx, ww, bb]: (Tensor | null)[]) =>
    record(native.conv2d(xx!.handle, ww!.handle, bb ? bb.handle : null, p), {
      op,
      inputs: [xx, ww, bb],
      saved: [xx!, ww!],
      attrs: { params: p, hasBias: bb !== null },
    });
  return autocastOp([x, weight, b], convolve(params), (inputs) => convolve({ ...params, bf16Compute: true })(inputs));
}

/**
 * act(conv2d(x, weight) + bias + z), act = ReLU with { relu: true }, else the identity: the
 * inference form of a convolution whose BatchNorm was folded into it (rn.nn.fuseForInference),
 * followed by the residual add and the ReLU of a residual block. One native op applies the bias,
 * z and the ReLU to each block of the output as the convolution computes it (cuDNN's
 * cudnnConvolutionBiasActivationForward on the GPU), instead of three more passes over memory.
 * x: (N, C, H, W), weight: (O, C / groups, kH, kW), bias: (O) or null, z: (N, O, Ho, Wo) or null.
 *
 * The fused op has no backward: when autograd needs a gradient (an input requires grad outside
 * rn.noGrad), the same value is computed as conv2d, add and relu, which record the graph. Under
 * autocast, z is rounded to the low dtype with the other inputs and the sum is rounded once.
 */
export function convBiasAct(x: Tensor, weight: Tensor, bias?: Tensor | null, z?: Tensor | null,
  options?: ConvBiasActOptions): Tensor {
  const op = 'convBiasAct';
  const o = checkOptions(op, options, [...CONV2D_OPTIONS, 'relu']) as ConvBiasActOptions;
  if (o.relu !== undefined && typeof o.relu !== 'boolean') throw new TypeError(`${op}: relu must be a boolean, got ${String(o.relu)}`);
  const { params, outShape } = checkConv(op, x, weight, bias, o as Record<string, unknown>);
  if (z !== undefined && z !== null) {
    checkFloat32(op, 'z', z);
    checkShape(op, 'z', z, outShape);
  }
  checkSameDevice(op, [x, weight, bias, z]);
  const b = bias ?? null, residual = z ?? null, relu = o.relu ?? false;
  if (needsGrad([x, weight, b, residual])) {
    const { relu: _, ...convOptions } = o;
    const y = conv2d(x, weight, b, convOptions);
    const sum = residual ? add(y, residual) : y;
    if (sum !== y) y.dispose();
    if (!relu) return sum;
    const out = reluOp(sum);
    sum.dispose();
    return out;
  }
  const fused = (p: ConvParams) => ([xx, ww, bb, zz]: (Tensor | null)[]) =>
    wrap(native.convBiasAct(xx!.handle, ww!.handle, bb ? bb.handle : null, zz ? zz.handle : null, relu, p));
  return autocastOp([x, weight, b, residual], fused(params), (inputs) => fused({ ...params, bf16Compute: true })(inputs));
}
