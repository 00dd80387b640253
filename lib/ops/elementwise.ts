// Element-wise ops: add, sub, mul, div with NumPy broadcasting (a number works as a scalar),
// scale, relu, sigmoid.
import { BINARY, native, type BinaryName } from '../binding.js';
import type { Tensor } from '../tensor.js';
import { record } from './record.js';
import { checkFloat32, checkNumber, checkSameDevice } from './validate.js';


function binary(op: BinaryName, a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number' && typeof b === 'number') {
    throw new TypeError(`${op}: at least one argument must be a Tensor, got two numbers`);
  }
  if (typeof b === 'number') {
    checkFloat32(op, 'a', a);
    checkNumber(op, 'b', b);
    const ta = a as Tensor;
    if (op === 'add') return affine(ta, 1, b);
    if (op === 'sub') return affine(ta, 1, -b);
    if (op === 'mul') return affine(ta, b, 0);
    return affine(ta, 1 / b, 0);
  }
  if (typeof a === 'number') {
    checkFloat32(op, 'b', b);
    checkNumber(op, 'a', a);
    if (op === 'add') return affine(b, 1, a);
    if (op === 'sub') return affine(b, -1, a);
    if (op === 'mul') return affine(b, a, 0);
  }
  const ta = checkFloat32(op, 'a', a);
  const tb = checkFloat32(op, 'b', b);
  checkSameDevice(op, [ta, tb]);
  const saved = op === 'mul' || op === 'div' ? [ta, tb] : [];
  return record(native.binary(BINARY[op], ta.handle, tb.handle), {
    op,
    inputs: [ta, tb],
    saved,
    attrs: { aShape: ta.shape, bShape: tb.shape },
  });
}

/** a + b (broadcasting). */
export function add(a: Tensor | number, b: Tensor | number): Tensor {
  return binary('add', a, b);
}
/** a - b (broadcasting). */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  return binary('sub', a, b);
}
/** a * b (broadcasting). */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  return binary('mul', a, b);
}
/** a / b (broadcasting); a number over a tensor is not supported. */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number') throw new TypeError('div: the dividend must be a Tensor; use mul(reciprocal) for a number over a tensor');
  return binary('div', a, b);
}

/** x * scale + shift, element-wise. */
export function affine(x: Tensor, scale: number, shift: number): Tensor {
  checkFloat32('affine', 'x', x);
  checkNumber('affine', 'scale', scale);
  checkNumber('affine', 'shift', shift);
  return record(native.affine(x.handle, scale, shift), { op: 'affine', inputs: [x], attrs: { scale } });
}

/** x * s. */
export function scale(x: Tensor, s: number): Tensor {
  return affine(x, s, 0);
}

export function relu(x: Tensor): Tensor {
  checkFloat32('relu', 'x', x);
  const y = native.relu(x.handle);
  return record(y, { op: 'relu', inputs: [x], extras: x.requiresGrad ? [y.alias()] : [] });
}

export function sigmoid(x: Tensor): Tensor {
  checkFloat32('sigmoid', 'x', x);
  const y = native.sigmoid(x.handle);
  return record(y, { op: 'sigmoid', inputs: [x], extras: x.requiresGrad ? [y.alias()] : [] });
}
