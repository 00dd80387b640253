// Reductions: sum and mean over all elements or over the given dimensions.
import { native } from '../binding.js';
import type { Tensor } from '../tensor.js';
import { affine } from './elementwise.js';
import { record } from './record.js';
import { checkFloat32, checkInt } from './validate.js';

function normaliseDims(op: string, x: Tensor, dim: number | number[] | undefined): number[] {
  if (dim === undefined) return [];
  const dims = Array.isArray(dim) ? dim : [dim];
  const seen = new Set<number>();
  return dims.map((d) => {
    checkInt(op, 'dim', d);
    const n = d < 0 ? d + x.ndim : d;
    if (n < 0 || n >= x.ndim) throw new RangeError(`${op}: dim ${d} is out of range for a ${x.ndim}-D tensor`);
    if (seen.has(n)) throw new RangeError(`${op}: dim ${d} is listed twice`);
    seen.add(n);
    return n;
  });
}

/** Sum over all elements (dim omitted) or over dim(s); keepDim keeps reduced dims as size 1. */
export function sum(x: Tensor, dim?: number | number[], keepDim = false): Tensor {
  checkFloat32('sum', 'x', x);
  const dims = normaliseDims('sum', x, dim);
  const keptShape = x.shape.map((s, i) => (dims.length === 0 || dims.includes(i) ? 1 : s));
  return record(native.sum(x.handle, dims, keepDim), { op: 'sum', inputs: [x], attrs: { inputShape: x.shape, keptShape } });
}

/** Mean over all elements or over dim(s): sum, then scale by the reciprocal of the count. */
export function mean(x: Tensor, dim?: number | number[], keepDim = false): Tensor {
  checkFloat32('mean', 'x', x);
  const dims = normaliseDims('mean', x, dim);
  const count = dims.length === 0 ? x.numel : dims.reduce((n, d) => n * x.shape[d]!, 1);
  if (count === 0) throw new RangeError(`mean: cannot average over zero elements (shape [${x.shape}])`);
  const total = sum(x, dim, keepDim);
  const result = affine(total, 1 / count, 0);
  total.dispose();
  return result;
}
