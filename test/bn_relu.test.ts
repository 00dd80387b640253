// The fused op bnRelu = relu(batchNorm2d(x)): forward, running statistics and gradients against the
// composition of the two ops, gradients against finite differences, and BatchNorm2d.forwardRelu.
import { beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { gradcheck } from './helpers/gradcheck.js';
import { param } from './helpers/params.js';
import { channelStats, maxAbsDiff } from './helpers/reference.js';

const arr = (t: rn.Tensor) => Array.from(t.toArray() as Float32Array);


beforeAll(() => rn.manualSeed(2024));

describe('bnRelu forward', () => {
  const shapes: [string, number[], rn.MemoryFormat][] = [
    ['4-D contiguous', [3, 4, 5, 6], 'contiguous'],
    ['4-D channelsLast', [3, 4, 5, 6], 'channelsLast'],
    ['4-D channelsLast, one pixel', [5, 3, 1, 1], 'channelsLast'],
    ['2-D (N, C)', [7, 5], 'contiguous'],
  ];
  for (const [name, shape, memoryFormat] of shapes) {
    const c = shape[1]!;
    it(`training, ${name}: output and running statistics equal relu(batchNorm2d(x))`, () => {
      rn.scope(() => {
        const x = rn.affine(rn.randn(shape, { memoryFormat }), 1.5, 0.3);
        const w = rn.randn([c]), b = rn.randn([c]);
        const [rm1, rv1, rm2, rv2] = [rn.zeros([c]), rn.ones([c]), rn.zeros([c]), rn.ones([c])];
        const options = { training: true, momentum: 0.3, eps: 1e-4 };
        const fused = rn.bnRelu(x, rm1, rv1, w, b, options);
        const composed = rn.relu(rn.batchNorm2d(x, rm2, rv2, w, b, options));
        expect(fused.shape).toEqual(shape);
        expect(fused.memoryFormat).toBe(x.memoryFormat);
        expect(maxAbsDiff(arr(fused), arr(composed))).toBeLessThan(1e-6);
        expect(arr(fused).every((v) => v >= 0)).toBe(true);
        expect(arr(fused).some((v) => v > 0)).toBe(true);
        expect(arr(rm1)).toEqual(arr(rm2));
        expect(arr(rv1)).toEqual(arr(rv2));
      });
    });
    it(`evaluation, ${name}: uses the running statistics and leaves them unchanged`, () => {
      rn.scope(() => {
        const x = rn.randn(shape, { memoryFormat });
        const rm = rn.randn([c]), rv = rn.affine(rn.rand([c]), 1, 0.2);
        const w = rn.randn([c]), b = rn.randn([c]);
        const before = [arr(rm), arr(rv)];
        const fused = rn.bnRelu(x, rm, rv, w, b);
        const composed = rn.relu(rn.batchNorm2d(x, rm, rv, w, b));
        expect(fused.memoryFormat).toBe(x.memoryFormat);
        expect(maxAbsDiff(arr(fused), arr(composed))).toBeLessThan(1e-6);
        expect([arr(rm), arr(rv)]).toEqual(before);
      });
    });
  }

  it('without weight and bias, and passes NaN through as relu does', () => {
    rn.scope(() => {
      const x = rn.tensor([1, 2, NaN, 4, -1, 0, 3, -2], [2, 2, 2, 1]);
      const rm = rn.tensor([0.5, -0.5]), rv = rn.tensor([1, 2]);
      const fused = arr(rn.bnRelu(x, rm, rv, null, null));
      const composed = arr(rn.relu(rn.batchNorm2d(x, rm, rv, null, null)));
      expect(Number.isNaN(fused[2])).toBe(true);
      expect(fused).toEqual(composed);
    });
  });

  it('evaluation of tensors with a zero dimension gives empty results', () => {
    rn.scope(() => {
      for (const [shape, memoryFormat] of [[[2, 3, 0, 4], 'contiguous'], [[2, 3, 0, 4], 'channelsLast'], [[0, 3, 2, 2], 'contiguous'], [[0, 3], 'contiguous']] as const) {
        const x = rn.zeros([...shape], { memoryFormat });
        x.requiresGrad = true;
        const w = rn.ones([3]);
        w.requiresGrad = true;
        const y = rn.bnRelu(x, rn.zeros([3]), rn.ones([3]), w, null);
        expect(y.shape).toEqual([...shape]);
        rn.sum(y).backward();
        expect(x.grad!.shape).toEqual([...shape]);
        expect(arr(w.grad!)).toEqual([0, 0, 0]);
      }
    });
  });

  it('checks its arguments like batchNorm2d', () => {
    rn.scope(() => {
      const x = rn.randn([2, 3, 4, 4]);
      expect(() => rn.bnRelu(x, null, null, rn.ones([4]), null, { training: true })).toThrow(/bnRelu: weight must have shape/);
      expect(() => rn.bnRelu(x, null, null)).toThrow(/bnRelu: evaluation mode \(training: false\) needs runningMean and runningVar/);
      expect(() => rn.bnRelu(rn.randn([1, 3, 1, 1]), null, null, null, null, { training: true })).toThrow(/more than 1 value per channel/);
      expect(() => rn.bnRelu(rn.randn([2, 3, 4]), null, null, null, null, { training: true })).toThrow(RangeError);
      expect(() => rn.bnRelu(x, null, null, null, null, { training: true, momentum: 2 })).toThrow(/momentum must be in \[0, 1\]/);
      expect(() => rn.bnRelu(x, null, null, null, null, { training: true, eps: 0 })).toThrow(/eps must be positive/);
      expect(() => rn.bnRelu(x, null, null, null, null, { training: true, bogus: 1 } as rn.BatchNormOptions)).toThrow(TypeError);
    });
  });
});

describe('batch statistics (one pass, shared by batchNorm2d, bnRelu and bnAddRelu)', () => {
  for (const memoryFormat of ['contiguous', 'channelsLast'] as const) {
    it(`stay accurate for data far from zero (mean 1e4, std 0.5), ${memoryFormat}`, () => {
      rn.scope(() => {
        const x = rn.affine(rn.randn([4, 3, 7, 9], { memoryFormat }), 0.5, 1e4);
        const rm = rn.zeros([3]), rv = rn.zeros([3]);
        rn.bnRelu(x, rm, rv, null, null, { training: true, momentum: 1 });
        const { mean, variance, count } = channelStats(x.to({ memoryFormat: 'contiguous' }).toArray() as Float32Array, [4, 3, 7, 9]);
        for (let c = 0; c < 3; c++) {
          expect(Math.abs(arr(rm)[c]! - mean[c]!) / mean[c]!).toBeLessThan(1e-7);
          expect(Math.abs(arr(rv)[c]! - (variance[c]! * count) / (count - 1)) / variance[c]!).toBeLessThan(1e-5);
        }
      });
    });
  }

  it('give the same bits with one thread as with all of them', () => {
    const run = () => rn.scope(() => {
      rn.manualSeed(5);
      const out: number[][] = [];
      for (const memoryFormat of ['contiguous', 'channelsLast'] as const) {
        const x = param([8, 24, 16, 16], { memoryFormat }), w = param([24]), b = param([24]);
        const y = rn.bnRelu(x, null, null, w, b, { training: true });
        rn.sum(rn.mul(y, rn.randn([8, 24, 16, 16]))).backward();
        out.push(arr(y), arr(x.grad!), arr(w.grad!), arr(b.grad!));
      }
      return out;
    });
    const all = run();
    const before = rn.backends().cpu.threads;
    try {
      rn.setNumThreads(1);
      expect(run()).toEqual(all);
    } finally {
      rn.setNumThreads(before);
    }
  });
});

describe('bnRelu backward', () => {
  for (const memoryFormat of ['contiguous', 'channelsLast'] as const) {
    for (const training of [true, false]) {
      it(`gradients equal those of relu(batchNorm2d(x)): ${memoryFormat}, ${training ? 'training' : 'evaluation'}`, () => {
        rn.scope(() => {
          const x = param([4, 3, 5, 5], { memoryFormat }), w = param([3]), b = param([3]);
          const rm = rn.randn([3]), rv = rn.affine(rn.rand([3]), 1, 0.5);
          const upstream = rn.randn([4, 3, 5, 5]);
          const grads = (fn: () => rn.Tensor) => {
            rn.sum(rn.mul(fn(), upstream)).backward();
            const out = [x, w, b].map((t) => {
              const g = arr(t.grad!);
              t.grad!.dispose();
              t.grad = null;
              return g;
            });
            return out;
          };
          const options = { training };
          const fused = grads(() => rn.bnRelu(x, rm, rv, w, b, options));
          const composed = grads(() => rn.relu(rn.batchNorm2d(x, rm, rv, w, b, options)));
          for (let i = 0; i < 3; i++) {
            const scale = Math.max(1, ...composed[i]!.map(Math.abs));
            expect(maxAbsDiff(fused[i]!, composed[i]!) / scale, `gradient ${['x', 'weight', 'bias'][i]}`).toBeLessThan(1e-5);
          }
          expect(x.grad).toBeNull();
        });
      });
    }
  }

  it('training (input, weight, bias) against finite differences', () => {
    rn.scope(() => {
      const x = param([3, 2, 3, 3]), w = param([2]), b = param([2]);
      gradcheck((xi, wi, bi) => rn.bnRelu(xi!, null, null, wi, bi, { training: true }), [x, w, b], { eps: 1e-3, tolerance: 3e-2 });
    });
  });
  it('evaluation (input, weight, bias) against finite differences', () => {
    rn.scope(() => {
      const x = param([2, 3, 2, 3]), w = param([3]), b = param([3]);
      const rm = rn.randn([3]), rv = rn.rand([3]);
      gradcheck((xi, wi, bi) => rn.bnRelu(xi!, rm, rv, wi, bi), [x, w, b], { eps: 1e-3 });
    });
  });
  it('(N, C) input, training, against finite differences', () => {
    rn.scope(() => {
      const x = param([6, 3]), w = param([3]), b = param([3]);
      gradcheck((xi, wi, bi) => rn.bnRelu(xi!, null, null, wi, bi, { training: true }), [x, w, b], { eps: 1e-3, tolerance: 3e-2 });
    });
  });
  it('only the input requires grad, and no weight', () => {
    rn.scope(() => {
      const x = param([3, 2, 3, 3]);
      gradcheck((xi) => rn.bnRelu(xi!, null, null, null, null, { training: true }), [x], { eps: 1e-3, tolerance: 3e-2 });
    });
  });
});

describe('BatchNorm2d.forwardRelu', () => {
  it('equals relu(bn.forward(x)) in training and evaluation, and counts the batch', () => {
    rn.scope(() => {
      const a = new rn.nn.BatchNorm2d(3), b = new rn.nn.BatchNorm2d(3);
      b.loadStateDict(a.stateDict());
      const x = rn.randn([4, 3, 5, 5]);
      for (const training of [true, false]) {
        a.train(training);
        b.train(training);
        const fused = a.forwardRelu(x);
        const composed = rn.relu(b.forward(x));
        expect(maxAbsDiff(arr(fused), arr(composed))).toBeLessThan(1e-6);
      }
      const sa = a.stateDict(), sb = b.stateDict();
      for (const key of Object.keys(sb)) expect(Array.from(sa[key]!.toArray() as ArrayLike<unknown>)).toEqual(Array.from(sb[key]!.toArray() as ArrayLike<unknown>));
      expect(Number(sa.num_batches_tracked!.toArray()[0])).toBe(1);
    });
  });

  it('is relu(x) once the layer was folded into its convolution', () => {
    rn.scope(() => {
      const model = new rn.nn.Sequential(new rn.nn.Conv2d(2, 3, 3, { padding: 1 }), new rn.nn.BatchNorm2d(3));
      const bn = model.children()[1] as rn.nn.BatchNorm2d;
      rn.nn.fuseForInference(model);
      expect(bn.folded).toBe(true);
      const x = rn.randn([2, 3, 4, 4]);
      expect(arr(bn.forwardRelu(x))).toEqual(arr(rn.relu(x)));
      bn.train();
      expect(() => bn.forwardRelu(x)).toThrow(/folded/);
    });
  });
});

describe('BN followed by ReLU in models runs as one bnRelu', () => {
  /** Native calls per op name in one training-mode forward of `model`. */
  function opCalls(model: rn.nn.Module & { forward(x: rn.Tensor): rn.Tensor }, x: rn.Tensor): Map<string, number> {
    rn.profiler.start();
    try {
      rn.scope(() => void model.forward(x));
    } catch (err) {
      rn.profiler.stop();
      throw err;
    }
    return new Map(rn.profiler.stop().ops.map((e) => [e.op, e.calls]));
  }

  it('pre-activation ResNet-20: every BN-ReLU pair (2 per block, 9 blocks, the final one) is fused', () => {
    const calls = opCalls(rn.models.preactResNet({ depth: 20 }), rn.randn([2, 3, 8, 8]));
    expect(calls.get('bnRelu')).toBe(19);
    expect(calls.get('relu') ?? 0).toBe(0);
    expect(calls.get('batchNorm2d') ?? 0).toBe(0);
  });

  it('Sequential(BatchNorm2d, ReLU) and DenseNet-BC blocks fuse; a BN alone does not', () => {
    const seq = new rn.nn.Sequential(new rn.nn.Conv2d(3, 4, 3, { padding: 1 }), new rn.nn.BatchNorm2d(4), new rn.nn.ReLU(), new rn.nn.BatchNorm2d(4));
    const calls = opCalls(seq, rn.randn([2, 3, 5, 5]));
    expect(calls.get('bnRelu')).toBe(1);
    expect(calls.get('batchNorm2d')).toBe(1);
    const dense = opCalls(rn.models.createModel({ name: 'cifar-densenet40', numClasses: 10, inChannels: 3 }), rn.randn([2, 3, 8, 8]));
    expect(dense.get('relu') ?? 0).toBe(0);
    expect(dense.get('bnRelu')).toBeGreaterThan(30);
  });
});
