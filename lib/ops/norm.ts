// Batch normalisation, the fused relu(batchNorm(x)), and the fused residual op relu(batchNorm(x) + residual).
import { native } from '../binding.js';
import type { Tensor } from '../tensor.js';
import { record } from './record.js';
import { checkFloat32, checkNumber, checkOptions, checkRank, checkSameDevice, checkShape, checkTensor } from './validate.js';

export interface BatchNormOptions {
  /** Use batch statistics and update the running ones (default false: use the running ones). */
  training?: boolean;
  /** Weight of the new batch statistic in the running average (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

function checkBatchNormArgs(op: string, x: Tensor, perChannel: [string, Tensor | null | undefined][], options: unknown) {
  const o = checkOptions(op, options, ['training', 'momentum', 'eps']);
  checkFloat32(op, 'input', x);
  checkRank(op, 'input', x, [2, 4]);
  const channels = x.shape[1]!;
  for (const [name, t] of perChannel) {
    if (t === undefined || t === null) continue;
    checkFloat32(op, name, t);
    checkShape(op, name, t, [channels]);
  }
  const training = o.training ?? false;
  if (typeof training !== 'boolean') throw new TypeError(`${op}: training must be a boolean, got ${String(training)}`);
  const momentum = checkNumber(op, 'momentum', o.momentum ?? 0.1);
  const eps = checkNumber(op, 'eps', o.eps ?? 1e-5);
  if (momentum < 0 || momentum > 1) throw new RangeError(`${op}: momentum must be in [0, 1], got ${momentum}`);
  if (!(eps > 0)) throw new RangeError(`${op}: eps must be positive, got ${eps}`);
  if (!training && (!perChannel[0]![1] || !perChannel[1]![1])) {
    throw new TypeError(`${op}: evaluation mode (training: false) needs runningMean and runningVar`);
  }
  if (training) {
    const perChannelCount = x.numel / channels;
    if (perChannelCount <= 1) throw new RangeError(`${op}: expected more than 1 value per channel when training, got input [${x.shape}]`);
  }
  checkSameDevice(op, [x, ...perChannel.map(([, t]) => t)]);
  return { training, momentum, eps };
}

/** batchNorm2d and bnRelu: one set of checks and one recording; bnRelu's backward also needs y. */
function normalise(op: 'batchNorm2d' | 'bnRelu', ...[x, runningMean, runningVar, weight, bias, options]: Parameters<typeof batchNorm2d>): Tensor {
  const { training, momentum, eps } = checkBatchNormArgs(
    op, x, [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]], options);
  const forward = op === 'bnRelu' ? native.bnRelu : native.batchNorm2d;
  const [y, saveMean, saveInvStd] = forward(
    x.handle, weight?.handle ?? null, bias?.handle ?? null, runningMean?.handle ?? null, runningVar?.handle ?? null,
    training, momentum, eps);
  return record(y, {
    op,
    inputs: [x, weight, bias],
    saved: weight ? [x, weight] : [x],
    extras: op === 'bnRelu' ? [saveMean, saveInvStd, y.alias()] : [saveMean, saveInvStd],
    attrs: { training, hasWeight: !!weight },
  });
}

/**
 * x: (N, C, H, W) or (N, C). In training mode the running statistics (when given) are updated
 * in place with the unbiased batch variance, as PyTorch does.
 */
export function batchNorm2d(
  x: Tensor,
  runningMean: Tensor | null | undefined,
  runningVar: Tensor | null | undefined,
  weight?: Tensor | null,
  bias?: Tensor | null,
  options?: BatchNormOptions,
): Tensor {
  return normalise('batchNorm2d', x, runningMean, runningVar, weight, bias, options);
}

/**
 * relu(batchNorm2d(x)) in one op: the same arguments, checks and running-statistics update as
 * batchNorm2d, with one pass fewer over the activations forward and backward.
 */
export function bnRelu(...args: Parameters<typeof batchNorm2d>): Tensor {
  return normalise('bnRelu', ...args);
}

/** relu(batchNorm2d(x) + residual) in one op; residual has x's shape. */
export function bnAddRelu(
  x: Tensor,
  residual: Tensor,
  runningMean: Tensor | null | undefined,
  runningVar: Tensor | null | undefined,
  weight?: Tensor | null,
  bias?: Tensor | null,
  options?: BatchNormOptions,
): Tensor {
  const op = 'bnAddRelu';
  checkTensor(op, 'residual', residual);
  const { training, momentum, eps } = checkBatchNormArgs(
    op, x, [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]], options);
  checkFloat32(op, 'residual', residual);
  checkShape(op, 'residual', residual, x.shape);
  checkSameDevice(op, [x, residual]);
  const [y, saveMean, saveInvStd] = native.bnAddRelu(
    x.handle, residual.handle, weight?.handle ?? null, bias?.handle ?? null, runningMean?.handle ?? null,
    runningVar?.handle ?? null, training, momentum, eps);
  const keepOutput = y.alias();
  return record(y, {
    op,
    inputs: [x, residual, weight, bias],
    saved: weight ? [x, weight] : [x],
    extras: [saveMean, saveInvStd, keepOutput],
    attrs: { training, hasWeight: !!weight },
  });
}
