// Each op's backward against central finite differences, on small odd shapes with stride,
// padding, dilation and groups.
import { beforeAll, describe, it } from 'vitest';
import * as rn from '../lib/index.js';
import { gradcheck } from './helpers/gradcheck.js';
import { param } from './helpers/params.js';


beforeAll(() => rn.manualSeed(99));

describe('conv2d backward', () => {
  const cases = [
    { x: [2, 3, 5, 6], w: [4, 3, 3, 3], o: { padding: 1 } },
    { x: [1, 4, 7, 7], w: [6, 2, 3, 3], o: { stride: 2, padding: 1, groups: 2 } },
    { x: [2, 2, 7, 6], w: [3, 2, 3, 2], o: { stride: [2, 1], padding: [2, 0], dilation: [2, 1] } },
    { x: [2, 5, 4, 4], w: [3, 5, 1, 1], o: {} },
    { x: [1, 3, 6, 6], w: [3, 1, 3, 3], o: { padding: 1, groups: 3 } },
  ] as const;
  for (const tc of cases) {
    it(`x [${tc.x}] w [${tc.w}] ${JSON.stringify(tc.o)}, with bias`, () => {
      rn.scope(() => {
        const x = param([...tc.x]);
        const w = param([...tc.w], { scale: 0.5 });
        const b = param([tc.w[0]]);
        gradcheck((xi, wi, bi) => rn.conv2d(xi!, wi!, bi, tc.o as rn.Conv2dOptions), [x, w, b]);
      });
    });
  }
});

describe('batch norm backward', () => {
  it('batchNorm2d in training mode (input, weight, bias)', () => {
    rn.scope(() => {
      const x = param([3, 2, 3, 3]);
      const w = param([2]);
      const b = param([2]);
      gradcheck((xi, wi, bi) => rn.batchNorm2d(xi!, null, null, wi, bi, { training: true }), [x, w, b], { eps: 1e-2, tolerance: 3e-2 });
    });
  });
  it('batchNorm2d in evaluation mode', () => {
    rn.scope(() => {
      const x = param([2, 3, 2, 3]);
      const w = param([3]);
      const b = param([3]);
      const rm = rn.randn([3]);
      const rv = rn.rand([3]);
      gradcheck((xi, wi, bi) => rn.batchNorm2d(xi!, rm, rv, wi, bi), [x, w, b]);
    });
  });
  it('batchNorm2d on (N, C) input', () => {
    rn.scope(() => {
      const x = param([5, 3]);
      const w = param([3]);
      gradcheck((xi, wi) => rn.batchNorm2d(xi!, null, null, wi, null, { training: true }), [x, w], { tolerance: 3e-2 });
    });
  });
  it('bnAddRelu (input, residual, weight, bias)', () => {
    rn.scope(() => {
      const x = param([2, 3, 3, 3]);
      const r = param([2, 3, 3, 3]);
      const w = param([3]);
      const b = param([3]);
      gradcheck((xi, ri, wi, bi) => rn.bnAddRelu(xi!, ri!, null, null, wi, bi, { training: true }), [x, r, w, b], { eps: 1e-3, tolerance: 3e-2 });
    });
  });
});

describe('pooling backward', () => {
  it('maxPool2d with stride, padding and ceil mode', () => {
    rn.scope(() => {
      const x = param([2, 2, 7, 6]);
      gradcheck((xi) => rn.maxPool2d(xi!, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }), [x], { eps: 1e-3 });
    });
  });
  it('avgPool2d with countIncludePad false', () => {
    rn.scope(() => {
      const x = param([2, 2, 5, 7]);
      gradcheck((xi) => rn.avgPool2d(xi!, { kernelSize: [3, 2], stride: [2, 1], padding: 1, countIncludePad: false }), [x]);
    });
  });
  it('adaptiveAvgPool2d to a non-dividing size', () => {
    rn.scope(() => {
      const x = param([2, 3, 7, 5]);
      gradcheck((xi) => rn.adaptiveAvgPool2d(xi!, [3, 2]), [x]);
    });
  });
});

describe('element-wise and shape backward', () => {
  it('add, sub, mul, div with broadcasting', () => {
    rn.scope(() => {
      const a = param([2, 3, 4]);
      const b = param([3, 1]);
      gradcheck((ai, bi) => rn.add(ai!, bi!), [a, b]);
      gradcheck((ai, bi) => rn.sub(ai!, bi!), [a, b]);
      gradcheck((ai, bi) => rn.mul(ai!, bi!), [a, b]);
      const positive = rn.noGrad(() => rn.affine(rn.rand([3, 1]), 1, 1));
      positive.requiresGrad = true;
      gradcheck((ai, bi) => rn.div(ai!, bi!), [a, positive]);
    });
  });
  it('relu, sigmoid, scale', () => {
    rn.scope(() => {
      const x = param([3, 7]);
      gradcheck((xi) => rn.relu(xi!), [x], { eps: 1e-3 });
      gradcheck((xi) => rn.sigmoid(xi!), [x]);
      gradcheck((xi) => rn.scale(xi!, -2.5), [x]);
    });
  });
  it('sum and mean over dims, reshape, flatten', () => {
    rn.scope(() => {
      const x = param([2, 3, 4]);
      gradcheck((xi) => rn.sum(xi!, [0, 2], true), [x]);
      gradcheck((xi) => rn.mean(xi!, 1), [x]);
      gradcheck((xi) => rn.mean(xi!), [x]);
      gradcheck((xi) => rn.flatten(xi!), [x]);
    });
  });
  it('concat along channels and narrow', () => {
    rn.scope(() => {
      const a = param([2, 2, 3, 3]);
      const b = param([2, 3, 3, 3]);
      gradcheck((ai, bi) => rn.concat([ai!, bi!], 1), [a, b]);
      gradcheck((ai) => rn.narrow(ai!, 1, 1, 1), [a]);
    });
  });
  it('shortcutA', () => {
    rn.scope(() => {
      const x = param([2, 2, 5, 5]);
      gradcheck((xi) => rn.shortcutA(xi!, 5, 2), [x]);
    });
  });
  it('matmul and linear', () => {
    rn.scope(() => {
      const a = param([4, 5]);
      const b = param([5, 3]);
      gradcheck((ai, bi) => rn.matmul(ai!, bi!), [a, b]);
      const w = param([3, 5]);
      const bias = param([3]);
      gradcheck((ai, wi, bi) => rn.linear(ai!, wi!, bi), [a, w, bias]);
    });
  });
  it('crossEntropy with and without label smoothing', () => {
    rn.scope(() => {
      const logits = param([4, 6]);
      const labels = rn.tensor([5, 0, 3, 3], [4], { dtype: 'int64' });
      gradcheck((l) => rn.crossEntropy(l!, labels), [logits]);
      gradcheck((l) => rn.crossEntropy(l!, labels, { labelSmoothing: 0.2 }), [logits]);
    });
  });
  it('float-to-float casts and memory-format changes pass gradients through', () => {
    rn.scope(() => {
      const x = param([2, 3, 2, 2]);
      gradcheck((xi) => rn.relu(xi!.to({ memoryFormat: 'channelsLast' })), [x], { eps: 1e-3 });
    });
  });
});
