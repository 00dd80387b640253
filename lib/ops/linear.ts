// Matrix products: matmul of 2-D tensors and the linear layer y = x W^T + b built on it.
import { native } from '../binding.js';
import type { Tensor } from '../tensor.js';
import { add } from './elementwise.js';
import { autocastOp } from '../amp/autocast.js';
import { record } from './record.js';
import { checkFloat32, checkRank, checkSameDevice, checkShape } from './validate.js';

/**
 * @internal op(a) @ op(b) with optional transposes (the primitive behind matmul and linear);
 * bf16Compute: autocast bfloat16 computed natively on the CPU (ConvParams.bf16Compute).
 */
export function matmulTransposed(a: Tensor, b: Tensor, transA: boolean, transB: boolean, bf16Compute = false): Tensor {
  return record(native.matmul(a.handle, b.handle, transA, transB, bf16Compute), {
    op: 'matmul',
    inputs: [a, b],
    saved: [a, b],
    attrs: { transA, transB, bf16Compute },
  });
}

/** a: (M, K) @ b: (K, N) -> (M, N) */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkFloat32('matmul', 'a', a);
  checkFloat32('matmul', 'b', b);
  checkRank('matmul', 'a', a, 2);
  checkRank('matmul', 'b', b, 2);
  if (a.shape[1] !== b.shape[0]) {
    throw new RangeError(`matmul: a is [${a.shape}] and b is [${b.shape}]; a's columns must equal b's rows`);
  }
  checkSameDevice('matmul', [a, b]);
  return autocastOp([a, b], ([aa, bb]) => matmulTransposed(aa!, bb!, false, false),
    ([aa, bb]) => matmulTransposed(aa!, bb!, false, false, true));
}

/** x: (N, in), weight: (out, in), bias: (out) -> (N, out) */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkFloat32('linear', 'input', x);
  checkFloat32('linear', 'weight', weight);
  checkRank('linear', 'input', x, 2);
  checkRank('linear', 'weight', weight, 2);
  if (x.shape[1] !== weight.shape[1]) {
    throw new RangeError(`linear: input [${x.shape}] has ${x.shape[1]} features but weight [${weight.shape}] expects ${weight.shape[1]}`);
  }
  if (bias !== undefined && bias !== null) {
    checkFloat32('linear', 'bias', bias);
    checkShape('linear', 'bias', bias, [weight.shape[0]!]);
  }
  checkSameDevice('linear', [x, weight, bias]);
  // Under autocast the product is low precision; the bias is added in float32.
  const product = autocastOp([x, weight], ([xx, ww]) => matmulTransposed(xx!, ww!, false, true),
    ([xx, ww]) => matmulTransposed(xx!, ww!, false, true, true));
  if (!bias) return product;
  const out = add(product, bias);
  product.dispose();
  return out;
}
