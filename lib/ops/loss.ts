// Softmax cross-entropy over integer labels, mean over the batch.
import { native, type TransportArray } from '../binding.js';
import type { Tensor } from '../tensor.js';
import { record } from './record.js';
import { checkFloat32, checkNumber, checkOptions, checkRank, checkSameDevice, checkTensor } from './validate.js';

export interface CrossEntropyOptions {
  /** Mixes the one-hot target with the uniform distribution (0 = none, default). */
  labelSmoothing?: number;
  /**
   * Check that labels on the GPU are in [0, K) (default true). The check reads a flag back, so
   * the host waits for the GPU; false skips it (for labels already checked on the host), and a
   * label out of range then gives a NaN loss. Labels on the CPU are always checked.
   */
  checkLabels?: boolean;
}

/** logits: (N, K) float32, labels: (N) int32 or int64 in [0, K) -> scalar loss. */
export function crossEntropy(logits: Tensor, labels: Tensor, options?: CrossEntropyOptions): Tensor {
  const op = 'crossEntropy';
  const o = checkOptions(op, options, ['labelSmoothing', 'checkLabels']);
  checkFloat32(op, 'logits', logits);
  checkRank(op, 'logits', logits, 2);
  checkTensor(op, 'labels', labels);
  if (labels.dtype !== 'int32' && labels.dtype !== 'int64') {
    throw new TypeError(`${op}: labels must be int32 or int64 class indices, got ${labels.dtype}`);
  }
  checkRank(op, 'labels', labels, 1);
  if (labels.shape[0] !== logits.shape[0]) {
    throw new RangeError(`${op}: ${logits.shape[0]} rows of logits but ${labels.shape[0]} labels`);
  }
  const smoothing = checkNumber(op, 'labelSmoothing', o.labelSmoothing ?? 0);
  if (smoothing < 0 || smoothing > 1) throw new RangeError(`${op}: labelSmoothing must be in [0, 1], got ${smoothing}`);
  checkSameDevice(op, [logits, labels]);
  const checkOnDevice = o.checkLabels ?? true;
  if (typeof checkOnDevice !== 'boolean') throw new TypeError(`${op}: checkLabels must be a boolean, got ${typeof checkOnDevice}`);
  // Labels in host memory are checked here; on the GPU the native op checks them (a read-back,
  // also skipped inside a CUDA graph capture, whose caller checks its labels on the host).
  if (labels.device === 'cpu') checkLabelValues(labels.toArray(), logits.shape[1]!);
  const [loss, probs] = native.crossEntropy(logits.handle, labels.handle, smoothing, checkOnDevice);
  return record(loss, { op, inputs: [logits], saved: [labels], extras: [probs], attrs: { smoothing } });
}

/** RangeError unless every label is a class index in [0, classes). */
export function checkLabelValues(labels: TransportArray, classes: number): void {
  for (let i = 0; i < labels.length; i++) {
    const label = Number(labels[i]);
    if (label < 0 || label >= classes) throw new RangeError(`crossEntropy: label ${label} at index ${i} is outside [0, ${classes})`);
  }
}
