// The backward rules, one entry per recorded op: given the node and the gradient of its
// output, return the gradients of its inputs in the order they were recorded (null where an
// input needs none). Rules run with autograd off, on tensors owned by the backward pass.
import { BINARY, native, type ConvParams, type NativeTensor, type PoolParams } from '../binding.js';
import type { BackwardRule, GradNode } from '../autograd.js';
import { wrap, type Tensor } from '../tensor.js';
import { applyPrologue, asDType, float32Of, hasPrologue, unscalePrologue, type Prologue } from './prologue.js';
import { syncBatchNorm2dBackward } from './sync_batch_norm.js';

const w = (h: NativeTensor | null): Tensor | null => (h ? wrap(h) : null);
const wanted = (node: GradNode, i: number): boolean => node.parents[i] !== null && node.parents[i] !== undefined;
const attr = <T>(node: GradNode, name: string): T => node.attrs[name] as T;
const saved = (node: GradNode, i: number): NativeTensor => node.saved[i]!.handle;

/** Sums a broadcast gradient back to an input's shape. */
function reduceTo(g: Tensor, shape: readonly number[]): Tensor {
  const same = g.shape.length === shape.length && g.shape.every((s, i) => s === shape[i]);
  return same ? wrap(g.handle.alias()) : wrap(native.sumTo(g.handle, [...shape]));
}

export const rules: Record<string, BackwardRule> = {
  add: (node, g) => [
    wanted(node, 0) ? reduceTo(g, attr(node, 'aShape')) : null,
    wanted(node, 1) ? reduceTo(g, attr(node, 'bShape')) : null,
  ],
  sub: (node, g) => {
    let gb: Tensor | null = null;
    if (wanted(node, 1)) {
      const negated = native.affine(g.handle, -1, 0);
      gb = wrap(native.sumTo(negated, attr(node, 'bShape')));
      negated.dispose();
    }
    return [wanted(node, 0) ? reduceTo(g, attr(node, 'aShape')) : null, gb];
  },
  mul: (node, g) => {
    const product = (other: NativeTensor, shape: number[]) => {
      const full = native.binary(BINARY.mul, g.handle, other);
      const reduced = native.sumTo(full, shape);
      if (reduced !== full) full.dispose();
      return wrap(reduced);
    };
    return [
      wanted(node, 0) ? product(saved(node, 1), attr(node, 'aShape')) : null,
      wanted(node, 1) ? product(saved(node, 0), attr(node, 'bShape')) : null,
    ];
  },
  div: (node, g) => {
    const a = saved(node, 0), b = saved(node, 1);
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (wanted(node, 0)) {
      const q = native.binary(BINARY.div, g.handle, b);
      ga = wrap(native.sumTo(q, attr(node, 'aShape')));
      q.dispose();
    }
    if (wanted(node, 1)) {  // -g * a / b^2
      const ga2 = native.binary(BINARY.mul, g.handle, a);
      const over = native.binary(BINARY.div, ga2, b);
      const over2 = native.binary(BINARY.div, over, b);
      const neg = native.affine(over2, -1, 0);
      gb = wrap(native.sumTo(neg, attr(node, 'bShape')));
      for (const t of [ga2, over, over2, neg]) t.dispose();
    }
    return [ga, gb];
  },
  affine: (node, g) => [wrap(native.affine(g.handle, attr<number>(node, 'scale'), 0))],
  relu: (node, g) => [wrap(native.reluBackward(g.handle, saved(node, 0)))],
  sigmoid: (node, g) => [wrap(native.sigmoidBackward(g.handle, saved(node, 0)))],
  sumOfSquares: (node, g) => {  // Σ y² over the reduced dims: dy = 2 · y · g (g broadcast back)
    const kept = native.view(g.handle, attr(node, 'keptShape'));
    const product = native.binary(BINARY.mul, saved(node, 0), kept);
    const out = wrap(native.affine(product, 2, 0));
    kept.dispose();
    product.dispose();
    return [out];
  },
  sum: (node, g) => {
    const kept = native.view(g.handle, attr(node, 'keptShape'));
    const out = wrap(native.broadcastTo(kept, attr(node, 'inputShape')));
    kept.dispose();
    return [out];
  },
  reshape: (node, g) => [wrap(native.view(g.handle, attr(node, 'inputShape')))],
  concat: (node, g) => {
    const dim = attr<number>(node, 'dim');
    let start = 0;
    return attr<number[]>(node, 'sizes').map((size, i) => {
      const piece = wanted(node, i) ? wrap(native.narrow(g.handle, dim, start, size)) : null;
      start += size;
      return piece;
    });
  },
  narrow: (node, g) => {
    const dim = attr<number>(node, 'dim'), start = attr<number>(node, 'start');
    const inputShape = attr<number[]>(node, 'inputShape');
    const parts: NativeTensor[] = [];
    const zerosOf = (size: number) => native.full(inputShape.map((s, i) => (i === dim ? size : s)), 0, 'float32', g.device);
    if (start > 0) parts.push(zerosOf(start));
    parts.push(g.handle);
    const after = inputShape[dim]! - start - g.shape[dim]!;
    if (after > 0) parts.push(zerosOf(after));
    const out = wrap(native.concat(parts, dim));
    for (const p of parts) if (p !== g.handle) p.dispose();
    return [out];
  },
  shortcutA: (node, g) => [wrap(native.shortcutABackward(g.handle, attr(node, 'inputShape'), attr(node, 'stride')))],
  conv2d: (node, g) => {
    const needs: [boolean, boolean, boolean] = [wanted(node, 0), wanted(node, 1), wanted(node, 2)];
    const grads = native.conv2dBackward(g.handle, saved(node, 0), saved(node, 1), attr<ConvParams>(node, 'params'), needs);
    return grads.map(w);
  },
  convBnStats: (node, g) => {
    // y = conv2d(z, weight) with z = relu(x * scale + bias): z is recomputed (in float32, then in x's
    // dtype for the convolution), conv2d's backward gives dz and dweight, and dz goes back through
    // the ReLU (its mask is z > 0) and the affine: dx = da · scale, dscale = Σ da · x, dbias = Σ da.
    const params = attr<ConvParams>(node, 'params');
    const x = saved(node, 0), weight = saved(node, 1);
    let next = 2;
    const prologue: Prologue = {
      scale: attr<boolean>(node, 'hasScale') ? saved(node, next++) : null,
      bias: attr<boolean>(node, 'hasBias') ? saved(node, next++) : null,
      relu: attr<boolean>(node, 'relu'),
    };
    if (!hasPrologue(prologue)) {
      const [dx, dweight] = native.conv2dBackward(g.handle, x, weight, params, [wanted(node, 0), wanted(node, 1), false]);
      return [w(dx), w(dweight), null, null];
    }
    const x32 = float32Of(x);
    const z32 = applyPrologue(x32, prologue);
    const z = asDType(z32, x.dtype);
    const needDz = wanted(node, 0) || wanted(node, 2) || wanted(node, 3);
    const [dz, dweight] = native.conv2dBackward(g.handle, z, weight, params, [needDz, wanted(node, 1), false]);
    z.dispose();
    let dx: NativeTensor | null = null, dscale: NativeTensor | null = null, dbias: NativeTensor | null = null;
    if (dz) {
      const dz32 = float32Of(dz);
      dz.dispose();
      const da = prologue.relu ? native.reluBackward(dz32, z32) : dz32.alias();
      dz32.dispose();
      if (wanted(node, 0)) {
        const dx32 = unscalePrologue(da, prologue.scale, x.format);
        dx = asDType(dx32, x.dtype);
        dx32.dispose();
      }
      if (wanted(node, 2)) {
        const product = native.binary(BINARY.mul, da, x32);
        dscale = native.sum(product, [0, 2, 3], false);
        product.dispose();
      }
      if (wanted(node, 3)) dbias = native.sum(da, [0, 2, 3], false);
      da.dispose();
    }
    x32.dispose();
    z32.dispose();
    return [w(dx), w(dweight), w(dscale), w(dbias)];
  },
  batchNorm2d: (node, g) => {
    const hasWeight = attr<boolean>(node, 'hasWeight');
    const x = saved(node, 0);
    const weight = hasWeight ? saved(node, 1) : null;
    const [mean, invStd] = hasWeight ? [saved(node, 2), saved(node, 3)] : [saved(node, 1), saved(node, 2)];
    const needs: [boolean, boolean, boolean] = [wanted(node, 0), wanted(node, 1), wanted(node, 2)];
    return native.batchNorm2dBackward(g.handle, x, weight, mean, invStd, attr(node, 'training'), needs).map(w);
  },
  syncBatchNorm2d: syncBatchNorm2dBackward,
  bnAddRelu: (node, g) => {
    const hasWeight = attr<boolean>(node, 'hasWeight');
    const x = saved(node, 0);
    const weight = hasWeight ? saved(node, 1) : null;
    const k = hasWeight ? 2 : 1;
    const [mean, invStd, y] = [saved(node, k), saved(node, k + 1), saved(node, k + 2)];
    const needs: [boolean, boolean, boolean, boolean] = [wanted(node, 0), wanted(node, 1), wanted(node, 2), wanted(node, 3)];
    return native.bnAddReluBackward(g.handle, y, x, weight, mean, invStd, attr(node, 'training'), needs).map(w);
  },
  bnRelu: (node, g) => {
    const hasWeight = attr<boolean>(node, 'hasWeight');
    const x = saved(node, 0);
    const weight = hasWeight ? saved(node, 1) : null;
    const k = hasWeight ? 2 : 1;
    const [mean, invStd, y] = [saved(node, k), saved(node, k + 1), saved(node, k + 2)];
    const needs: [boolean, boolean, boolean] = [wanted(node, 0), wanted(node, 1), wanted(node, 2)];
    return native.bnReluBackward(g.handle, y, x, weight, mean, invStd, attr(node, 'training'), needs).map(w);
  },
  maxPool2d: (node, g) => [wrap(native.maxPool2dBackward(g.handle, saved(node, 0), attr(node, 'inputShape')))],
  avgPool2d: (node, g) => [
    wrap(native.avgPool2dBackward(g.handle, attr(node, 'inputShape'), attr<PoolParams>(node, 'params'))),
  ],
  adaptiveAvgPool2d: (node, g) => [wrap(native.adaptiveAvgPool2dBackward(g.handle, attr(node, 'inputShape')))],
  matmul: (node, g) => {
    // C = op(A) op(B), G = dC:  d op(A) = G op(B)^T  and  d op(B) = op(A)^T G;
    // a transposed operand takes the transpose of its gradient.
    const a = saved(node, 0), b = saved(node, 1);
    // Natively in bfloat16 (bf16Compute), G and the operands are rounded and so are the gradients.
    const transA = attr<boolean>(node, 'transA'), transB = attr<boolean>(node, 'transB');
    const bf16 = attr<boolean | undefined>(node, 'bf16Compute') ?? false;
    const ga = !wanted(node, 0) ? null
      : transA ? native.matmul(b, g.handle, transB, true, bf16) : native.matmul(g.handle, b, false, !transB, bf16);
    const gb = !wanted(node, 1) ? null
      : transB ? native.matmul(g.handle, a, true, transA, bf16) : native.matmul(a, g.handle, !transA, false, bf16);
    return [w(ga), w(gb)];
  },
  crossEntropy: (node, g) => [
    wrap(native.crossEntropyBackward(g.handle, saved(node, 1), saved(node, 0), attr(node, 'smoothing'))),
  ],
  cast: (node, g) => [wrap(native.cast(g.handle, attr(node, 'from')))],
  toMemoryFormat: (node, g) => [wrap(native.toFormat(g.handle, attr(node, 'from')))],
  toDevice: (node, g) => [wrap(native.toDevice(g.handle, attr(node, 'from')))],
};
