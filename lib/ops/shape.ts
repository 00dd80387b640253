// Ops that rearrange elements: reshape, flatten, concat, narrow, and the option-A shortcut
// (strided subsample + zero-padded channels) of the CIFAR ResNets.
import { native } from '../binding.js';
import type { Tensor } from '../tensor.js';
import { record } from './record.js';
import { checkFloat32, checkInt, checkRank, checkSameDevice, checkTensor } from './validate.js';

/** Same elements, new shape (one entry may be -1). A view when the tensor is contiguous. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', 'x', x);
  if (!Array.isArray(shape)) throw new TypeError('reshape: shape must be an array of integers');
  const inferred = shape.filter((s) => s === -1).length;
  if (inferred > 1) throw new RangeError('reshape: only one dimension can be -1');
  shape.forEach((s) => checkInt('reshape', 'shape entry', s, -1));
  const known = shape.reduce((n, s) => (s === -1 ? n : n * s), 1);
  const full = shape.map((s) => (s === -1 ? (known === 0 ? 0 : x.numel / known) : s));
  if (full.some((s) => !Number.isInteger(s)) || full.reduce((a, b) => a * b, 1) !== x.numel) {
    throw new RangeError(`reshape: cannot reshape a tensor of shape [${x.shape}] (${x.numel} elements) into [${shape}]`);
  }
  return record(native.view(x.handle, full), { op: 'reshape', inputs: [x], attrs: { inputShape: x.shape } });
}

/** Flattens dimensions startDim..endDim into one. */
export function flatten(x: Tensor, startDim = 1, endDim = -1): Tensor {
  checkTensor('flatten', 'x', x);
  const rank = Math.max(x.ndim, 1);
  const start = checkInt('flatten', 'startDim', startDim) < 0 ? startDim + rank : startDim;
  const end = checkInt('flatten', 'endDim', endDim) < 0 ? endDim + rank : endDim;
  if (start < 0 || end >= rank || start > end) {
    throw new RangeError(`flatten: startDim ${startDim} and endDim ${endDim} do not fit a ${x.ndim}-D tensor`);
  }
  const middle = x.shape.slice(start, end + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...x.shape.slice(0, start), middle, ...x.shape.slice(end + 1)]);
}

/** Concatenates tensors along dim (all other sizes equal); Dense blocks concatenate channels. */
export function concat(tensors: readonly Tensor[], dim = 1): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new TypeError('concat: tensors must be a non-empty array of Tensors');
  tensors.forEach((t, i) => checkFloat32('concat', `tensors[${i}]`, t));
  checkSameDevice('concat', [...tensors]);
  checkInt('concat', 'dim', dim);
  const rank = tensors[0]!.ndim;
  const d = dim < 0 ? dim + rank : dim;
  if (d < 0 || d >= rank) throw new RangeError(`concat: dim ${dim} is out of range for ${rank}-D tensors`);
  tensors.forEach((t, i) => {
    if (t.ndim !== rank || t.shape.some((s: number, j: number) => j !== d && s !== tensors[0]!.shape[j])) {
      throw new RangeError(`concat: tensors[${i}] has shape [${t.shape}], which differs from [${tensors[0]!.shape}] outside dim ${d}`);
    }
  });
  const sizes = tensors.map((t) => t.shape[d]!);
  return record(native.concat(tensors.map((t) => t.handle), d), { op: 'concat', inputs: [...tensors], attrs: { dim: d, sizes } });
}

/** The slice [start, start + length) of dim, as a copy. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  checkFloat32('narrow', 'x', x);
  checkInt('narrow', 'dim', dim);
  const d = dim < 0 ? dim + x.ndim : dim;
  if (d < 0 || d >= x.ndim) throw new RangeError(`narrow: dim ${dim} is out of range for a ${x.ndim}-D tensor`);
  checkInt('narrow', 'start', start, 0);
  checkInt('narrow', 'length', length, 0);
  if (start + length > x.shape[d]!) {
    throw new RangeError(`narrow: [${start}, ${start + length}) is outside dim ${d} of size ${x.shape[d]}`);
  }
  return record(native.narrow(x.handle, d, start, length), {
    op: 'narrow',
    inputs: [x],
    attrs: { dim: d, start, inputShape: x.shape },
  });
}

/**
 * The parameter-free shortcut of the ResNet paper's option A: x[:, :, ::stride, ::stride] with
 * zero channels added (half before, half after) up to outChannels.
 */
export function shortcutA(x: Tensor, outChannels: number, stride: number): Tensor {
  checkFloat32('shortcutA', 'x', x);
  checkRank('shortcutA', 'x', x, 4);
  checkInt('shortcutA', 'outChannels', outChannels, x.shape[1]!);
  checkInt('shortcutA', 'stride', stride, 1);
  return record(native.shortcutA(x.handle, outChannels, stride), {
    op: 'shortcutA',
    inputs: [x],
    attrs: { inputShape: x.shape, stride },
  });
}
