// Batch normalisation with statistics over the whole data-parallel group (PyTorch's
// SyncBatchNorm, training mode). Forward: each rank's per-channel count, mean and centred sum of
// squares are combined over the ranks (float64, on the host), and the input is normalised with
// the group's mean and biased variance. Backward: the per-channel sums of dy and dy * xhat are
// summed over the ranks, so dx is the gradient of the group's loss; dweight and dbias stay local
// (DistributedDataParallel averages them). Per-channel values cross the host (C numbers per
// layer and pass); the activations stay on their device.
import { BINARY, native, type NativeTensor } from '../binding.js';
import type { GradNode } from '../autograd.js';
import { group } from '../distributed/group.js';
import { wrap, type Tensor } from '../tensor.js';
import { record } from './record.js';
import { checkFloat32, checkNumber, checkRank, checkSameDevice, checkShape } from './validate.js';

const DIMS = [0, 2, 3];

/** Element-wise sums of per-channel values over the ranks. */
function sumOverRanks(values: Float64Array): Float64Array {
  const { distributed } = native;
  return distributed.wait(distributed.allReduceValues(values, 'sum')).values!;
}

function hostValues(t: NativeTensor): Float32Array {
  return native.toArray(t) as Float32Array;
}

/** A (1, C, 1, 1) float32 tensor on `device` holding `values`, for broadcasting over (N, C, H, W). */
function perChannel(values: ArrayLike<number>, device: Tensor['device'], shape: number[] = [1, values.length, 1, 1]): NativeTensor {
  return native.fromArray(Float32Array.from(values), shape, 'float32', 'contiguous', device);
}

/**
 * x (N, C, H, W) float32 in training mode; runningMean / runningVar (C) updated in place with the
 * group's mean and unbiased variance (when given); weight / bias (C) optional.
 */
export function syncBatchNorm2d(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null,
  bias: Tensor | null, options: { momentum: number; eps: number }): Tensor {
  const op = 'syncBatchNorm2d';
  checkFloat32(op, 'input', x);
  checkRank(op, 'input', x, [4]);
  const channels = x.shape[1]!;
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]] as const) {
    if (!t) continue;
    checkFloat32(op, name, t);
    checkShape(op, name, t, [channels]);
  }
  checkSameDevice(op, [x, runningMean, runningVar, weight, bias]);
  const momentum = checkNumber(op, 'momentum', options.momentum), eps = checkNumber(op, 'eps', options.eps);
  group();

  // This rank's count, mean and centred sum of squares per channel.
  const count = x.numel / channels;
  const sum = native.sum(x.handle, DIMS, true);  // (1, C, 1, 1)
  const localMean = native.affine(sum, 1 / count, 0);
  const centred = native.binary(BINARY.sub, x.handle, localMean);
  const squares = native.binary(BINARY.mul, centred, centred);
  const sumSquares = native.sum(squares, DIMS, false);  // (C)
  const mean = hostValues(localMean), m2 = hostValues(sumSquares);
  for (const h of [sum, localMean, centred, squares, sumSquares]) h.dispose();

  // Over the ranks: [count * mean (C), m2 + count * mean^2 (C), count].
  const packed = new Float64Array(2 * channels + 1);
  for (let c = 0; c < channels; c++) {
    packed[c] = count * mean[c]!;
    packed[channels + c] = m2[c]! + count * mean[c]! * mean[c]!;
  }
  packed[2 * channels] = count;
  const totals = sumOverRanks(packed);
  const total = totals[2 * channels]!;
  if (total <= 1) throw new RangeError(`${op}: expected more than 1 value per channel over the group when training, got ${total}`);
  const groupMean = new Float64Array(channels), groupVar = new Float64Array(channels), invStd = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    groupMean[c] = totals[c]! / total;
    groupVar[c] = Math.max(0, totals[channels + c]! / total - groupMean[c]! * groupMean[c]!);
    invStd[c] = 1 / Math.sqrt(groupVar[c]! + eps);
  }

  if (runningMean && runningVar) {
    const rm = hostValues(runningMean.handle), rv = hostValues(runningVar.handle);
    const unbiased = total / (total - 1);
    const nextMean = rm.map((v, c) => (1 - momentum) * v + momentum * groupMean[c]!);
    const nextVar = rv.map((v, c) => (1 - momentum) * v + momentum * groupVar[c]! * unbiased);
    for (const [t, values] of [[runningMean, nextMean], [runningVar, nextVar]] as const) {
      const h = perChannel(values, x.device, [channels]);
      native.copyInto(t.handle, h);
      h.dispose();
    }
  }

  // y: the evaluation-mode kernel with the group's statistics.
  const meanT = perChannel(groupMean, x.device, [channels]), varT = perChannel(groupVar, x.device, [channels]);
  const [y, evalMean, evalInvStd] = native.batchNorm2d(x.handle, weight?.handle ?? null, bias?.handle ?? null, meanT, varT, false, 0, eps);
  evalMean.dispose();
  evalInvStd.dispose();
  varT.dispose();
  return record(y, {
    op,
    inputs: [x, weight, bias],
    saved: [x],
    extras: [meanT, perChannel(invStd, x.device, [channels]), weight ? weight.handle.alias() : perChannel(new Float32Array(channels).fill(1), x.device, [channels])],
    attrs: { total, groupMean, invStd },
  });
}

/** The backward rule of syncBatchNorm2d (ops/grad.ts): [dx, dweight, dbias]. */
export function syncBatchNorm2dBackward(node: GradNode, g: Tensor): (Tensor | null)[] {
  const [x, meanT, invStdT, weight] = node.saved.map((t) => t.handle) as [NativeTensor, NativeTensor, NativeTensor, NativeTensor];
  const total = node.attrs.total as number;
  const groupMean = node.attrs.groupMean as Float64Array, invStd = node.attrs.invStd as Float64Array;
  const channels = groupMean.length;
  const wanted = (i: number) => node.parents[i] !== null && node.parents[i] !== undefined;

  // The local sums of dy * xhat and dy (the evaluation-mode backward's dweight and dbias).
  const [, sumDyXhat, sumDy] = native.batchNorm2dBackward(g.handle, x, weight, meanT, invStdT, false, [false, true, true]);
  const packed = new Float64Array(2 * channels);
  packed.set(hostValues(sumDy!), 0);
  packed.set(hostValues(sumDyXhat!), channels);
  const totals = sumOverRanks(packed);

  let dx: NativeTensor | null = null;
  if (wanted(0)) {
    // dx = weight * invStd * (dy - SDY / M - xhat * SDYX / M) = the evaluation-mode dx of
    // dy' = dy - x * b + (mean * b - a), with a = SDY / M and b = invStd * SDYX / M per channel.
    const b = Float64Array.from({ length: channels }, (_, c) => (invStd[c]! * totals[channels + c]!) / total);
    const shift = Float64Array.from({ length: channels }, (_, c) => groupMean[c]! * b[c]! - totals[c]! / total);
    const bT = perChannel(b, g.device), shiftT = perChannel(shift, g.device);
    const xb = native.binary(BINARY.mul, x, bT);
    const partial = native.binary(BINARY.sub, g.handle, xb);
    const adjusted = native.binary(BINARY.add, partial, shiftT);
    [dx] = native.batchNorm2dBackward(adjusted, x, weight, meanT, invStdT, false, [true, false, false]);
    for (const h of [bT, shiftT, xb, partial, adjusted]) h.dispose();
  }
  const dweight = wanted(1) ? sumDyXhat : (sumDyXhat?.dispose(), null);
  const dbias = wanted(2) ? sumDy : (sumDy?.dispose(), null);
  return [dx, dweight, dbias].map((h) => (h ? wrap(h) : null));
}
