// Each op's forward pass against a plain-loop reference written from its definition.
import { beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { channelStats, conv2dRef, maxAbsDiff, relativeError } from './helpers/reference.js';

const arr = (t: rn.Tensor) => Array.from(t.toArray() as Float32Array);

beforeAll(() => rn.manualSeed(1234));

describe('conv2d', () => {
  const cases = [
    { n: 2, c: 3, h: 7, w: 9, o: 4, k: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, bias: true },
    { n: 1, c: 4, h: 8, w: 8, o: 6, k: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 2, bias: false },
    { n: 2, c: 5, h: 9, w: 7, o: 3, k: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, bias: true },
    { n: 3, c: 2, h: 9, w: 9, o: 4, k: [3, 2], stride: [2, 1], padding: [2, 0], dilation: [2, 1], groups: 2, bias: true },
    { n: 2, c: 6, h: 6, w: 6, o: 6, k: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 6, bias: false },
    { n: 2, c: 8, h: 10, w: 10, o: 16, k: [1, 1], stride: [2, 2], padding: [0, 0], dilation: [1, 1], groups: 1, bias: false },
    { n: 1, c: 3, h: 11, w: 11, o: 8, k: [5, 5], stride: [2, 2], padding: [2, 2], dilation: [1, 1], groups: 1, bias: true },
  ] as const;
  for (const tc of cases) {
    it(`matches the reference: ${JSON.stringify(tc)}`, () => {
      rn.scope(() => {
        const x = rn.randn([tc.n, tc.c, tc.h, tc.w]);
        const w = rn.randn([tc.o, tc.c / tc.groups, tc.k[0], tc.k[1]]);
        const b = tc.bias ? rn.randn([tc.o]) : undefined;
        const y = rn.conv2d(x, w, b, { stride: [...tc.stride], padding: [...tc.padding], dilation: [...tc.dilation], groups: tc.groups });
        const ref = conv2dRef(x.toArray() as Float32Array, [...x.shape], w.toArray() as Float32Array, [...w.shape],
          b ? (b.toArray() as Float32Array) : null,
          { stride: [...tc.stride], padding: [...tc.padding], dilation: [...tc.dilation], groups: tc.groups });
        expect(y.shape).toEqual(ref.shape);
        expect(relativeError(arr(y), ref.y)).toBeLessThan(1e-5);
      });
    });
  }

  it('gives the same result for a channelsLast input, in channelsLast', () => {
    rn.scope(() => {
      const x = rn.randn([2, 3, 6, 5]);
      const w = rn.randn([4, 3, 3, 3]);
      const y = rn.conv2d(x, w, null, { padding: 1 });
      const yLast = rn.conv2d(x.to({ memoryFormat: 'channelsLast' }), w, null, { padding: 1 });
      expect(yLast.memoryFormat).toBe('channelsLast');
      expect(maxAbsDiff(arr(yLast), arr(y))).toBeLessThan(1e-5);
    });
  });
});

describe('batchNorm2d', () => {
  it('normalises with batch statistics and updates running stats like PyTorch (unbiased variance)', () => {
    rn.scope(() => {
      const x = rn.affine(rn.randn([3, 4, 5, 6]), 2, 1);
      const weight = rn.rand([4]);
      const bias = rn.randn([4]);
      const runningMean = rn.zeros([4]);
      const runningVar = rn.ones([4]);
      const y = rn.batchNorm2d(x, runningMean, runningVar, weight, bias, { training: true, momentum: 0.2, eps: 1e-5 });
      const xs = x.toArray() as Float32Array;
      const { mean, variance, count } = channelStats(xs, [...x.shape]);
      const ws = weight.toArray(), bs = bias.toArray();
      const expected = Array.from(xs, (v, i) => {
        const c = Math.floor(i / 30) % 4;
        return ((v - mean[c]!) / Math.sqrt(variance[c]! + 1e-5)) * Number(ws[c]) + Number(bs[c]);
      });
      expect(maxAbsDiff(arr(y), expected)).toBeLessThan(1e-4);
      const expectedMean = Array.from(mean, (m) => 0.8 * 0 + 0.2 * m);
      const expectedVar = Array.from(variance, (v) => 0.8 * 1 + 0.2 * v * (count / (count - 1)));
      expect(maxAbsDiff(arr(runningMean), expectedMean)).toBeLessThan(1e-5);
      expect(maxAbsDiff(arr(runningVar), expectedVar)).toBeLessThan(1e-5);
    });
  });

  it('uses the running statistics in evaluation mode and leaves them unchanged', () => {
    rn.scope(() => {
      const x = rn.randn([2, 3, 4, 4]);
      const runningMean = rn.tensor([0.5, -1, 2]);
      const runningVar = rn.tensor([1, 4, 0.25]);
      const y = rn.batchNorm2d(x, runningMean, runningVar, null, null, { eps: 0 + 1e-5 });
      const xs = x.toArray() as Float32Array;
      const m = [0.5, -1, 2], v = [1, 4, 0.25];
      const expected = Array.from(xs, (val, i) => {
        const c = Math.floor(i / 16) % 3;
        return (val - m[c]!) / Math.sqrt(v[c]! + 1e-5);
      });
      expect(maxAbsDiff(arr(y), expected)).toBeLessThan(1e-5);
      expect(arr(runningMean)).toEqual([0.5, -1, 2]);
    });
  });

  it('bnAddRelu equals relu(batchNorm2d(x) + residual)', () => {
    rn.scope(() => {
      const x = rn.randn([2, 3, 5, 5]);
      const r = rn.randn([2, 3, 5, 5]);
      const w = rn.rand([3]);
      const b = rn.randn([3]);
      const fused = rn.bnAddRelu(x, r, rn.zeros([3]), rn.ones([3]), w, b, { training: true });
      const composed = rn.relu(rn.add(rn.batchNorm2d(x, null, null, w, b, { training: true }), r));
      expect(maxAbsDiff(arr(fused), arr(composed))).toBeLessThan(1e-5);
    });
  });
});

describe('pooling', () => {
  it('maxPool2d takes the window maximum, padding counts as -infinity', () => {
    rn.scope(() => {
      const x = rn.randn([2, 3, 7, 7]);
      const y = rn.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 });
      expect(y.shape).toEqual([2, 3, 4, 4]);
      const xs = x.toArray() as Float32Array;
      const expected: number[] = [];
      for (let p = 0; p < 6; p++)
        for (let i = 0; i < 4; i++)
          for (let j = 0; j < 4; j++) {
            let m = -Infinity;
            for (let u = 0; u < 3; u++)
              for (let v = 0; v < 3; v++) {
                const hi = i * 2 - 1 + u, wi = j * 2 - 1 + v;
                if (hi >= 0 && hi < 7 && wi >= 0 && wi < 7) m = Math.max(m, xs[p * 49 + hi * 7 + wi]!);
              }
            expected.push(m);
          }
      expect(arr(y)).toEqual(expected.map(Math.fround));
    });
  });

  it('avgPool2d with and without countIncludePad', () => {
    rn.scope(() => {
      const x = rn.randn([1, 2, 5, 5]);
      const xs = x.toArray() as Float32Array;
      for (const countIncludePad of [true, false]) {
        const y = rn.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad });
        const expected: number[] = [];
        for (let p = 0; p < 2; p++)
          for (let i = 0; i < 3; i++)
            for (let j = 0; j < 3; j++) {
              let s = 0, n = 0;
              for (let u = 0; u < 3; u++)
                for (let v = 0; v < 3; v++) {
                  const hi = i * 2 - 1 + u, wi = j * 2 - 1 + v;
                  if (hi >= 0 && hi < 5 && wi >= 0 && wi < 5) {
                    s += xs[p * 25 + hi * 5 + wi]!;
                    n++;
                  }
                }
              expected.push(s / (countIncludePad ? 9 : n));
            }
        expect(maxAbsDiff(arr(y), expected)).toBeLessThan(1e-6);
      }
    });
  });

  it('adaptiveAvgPool2d uses floor/ceil windows (7 -> 3) and global averaging (-> 1)', () => {
    rn.scope(() => {
      const x = rn.randn([2, 2, 7, 7]);
      const xs = x.toArray() as Float32Array;
      const y = rn.adaptiveAvgPool2d(x, 3);
      const expected: number[] = [];
      for (let p = 0; p < 4; p++)
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 3; j++) {
            const h0 = Math.floor((i * 7) / 3), h1 = Math.ceil(((i + 1) * 7) / 3);
            const w0 = Math.floor((j * 7) / 3), w1 = Math.ceil(((j + 1) * 7) / 3);
            let s = 0;
            for (let u = h0; u < h1; u++) for (let v = w0; v < w1; v++) s += xs[p * 49 + u * 7 + v]!;
            expected.push(s / ((h1 - h0) * (w1 - w0)));
          }
      expect(maxAbsDiff(arr(y), expected)).toBeLessThan(1e-6);
      const g = rn.adaptiveAvgPool2d(x, 1);
      expect(g.shape).toEqual([2, 2, 1, 1]);
      expect(maxAbsDiff(arr(g), [0, 1, 2, 3].map((p) => xs.slice(p * 49, p * 49 + 49).reduce((a, b) => a + b, 0) / 49))).toBeLessThan(1e-6);
    });
  });
});

describe('element-wise, reductions, shapes', () => {
  it('add, sub, mul, div broadcast like NumPy', () => {
    rn.scope(() => {
      const a = rn.randn([2, 3, 4]);
      const b = rn.randn([3, 1]);
      const as = a.toArray() as Float32Array, bs = b.toArray() as Float32Array;
      const at = (i: number) => bs[Math.floor(i / 4) % 3]!;
      expect(maxAbsDiff(arr(rn.add(a, b)), Array.from(as, (v, i) => v + at(i)))).toBeLessThan(1e-6);
      expect(maxAbsDiff(arr(rn.sub(a, b)), Array.from(as, (v, i) => v - at(i)))).toBeLessThan(1e-6);
      expect(maxAbsDiff(arr(rn.mul(a, b)), Array.from(as, (v, i) => v * at(i)))).toBeLessThan(1e-6);
      expect(maxAbsDiff(arr(rn.div(a, b)), Array.from(as, (v, i) => v / at(i)))).toBeLessThan(1e-4);
      expect(arr(rn.mul(a, 3))).toEqual(Array.from(as, (v) => Math.fround(v * 3)));
      expect(rn.add(rn.zeros([4, 1]), rn.zeros([1, 5])).shape).toEqual([4, 5]);
    });
  });

  it('relu and sigmoid', () => {
    rn.scope(() => {
      const x = rn.tensor([-3, -0.5, 0, 0.5, 3, 80, -80]);
      expect(arr(rn.relu(x))).toEqual([0, 0, 0, 0.5, 3, 80, 0]);
      const s = arr(rn.sigmoid(x));
      expect(maxAbsDiff(s, [-3, -0.5, 0, 0.5, 3, 80, -80].map((v) => 1 / (1 + Math.exp(-v))))).toBeLessThan(1e-7);
    });
  });

  it('sum and mean over all elements and over dims', () => {
    rn.scope(() => {
      const x = rn.arange(24, undefined, 1, { dtype: 'float32' }).reshape([2, 3, 4]);
      expect(rn.sum(x).item()).toBe(276);
      expect(rn.mean(x).item()).toBe(11.5);
      expect(arr(rn.sum(x, 1))).toEqual([12, 15, 18, 21, 48, 51, 54, 57]);
      expect(rn.sum(x, [0, 2], true).shape).toEqual([1, 3, 1]);
      expect(arr(rn.sum(x, [0, 2]))).toEqual([60, 92, 124]);
      expect(arr(rn.mean(x, -1))).toEqual([1.5, 5.5, 9.5, 13.5, 17.5, 21.5]);
    });
  });

  it('concat along channels and narrow back', () => {
    rn.scope(() => {
      const a = rn.randn([2, 2, 3, 3]);
      const b = rn.randn([2, 3, 3, 3]);
      const c = rn.concat([a, b], 1);
      expect(c.shape).toEqual([2, 5, 3, 3]);
      expect(arr(rn.narrow(c, 1, 0, 2))).toEqual(arr(a));
      expect(arr(rn.narrow(c, 1, 2, 3))).toEqual(arr(b));
    });
  });

  it('shortcutA subsamples with stride and pads channels with zeros on both sides', () => {
    rn.scope(() => {
      const x = rn.arange(2 * 2 * 4 * 4, undefined, 1, { dtype: 'float32' }).reshape([2, 2, 4, 4]);
      const y = rn.shortcutA(x, 6, 2);
      expect(y.shape).toEqual([2, 6, 2, 2]);
      const ys = arr(y);
      const xs = arr(x);
      for (let n = 0; n < 2; n++)
        for (let c = 0; c < 6; c++)
          for (let i = 0; i < 2; i++)
            for (let j = 0; j < 2; j++) {
              const v = ys[((n * 6 + c) * 2 + i) * 2 + j];
              const source = c - 2;
              expect(v).toBe(source >= 0 && source < 2 ? xs[((n * 2 + source) * 4 + i * 2) * 4 + j * 2] : 0);
            }
    });
  });

  it('matmul and linear', () => {
    rn.scope(() => {
      const a = rn.randn([5, 7]);
      const b = rn.randn([7, 3]);
      const as = a.toArray() as Float32Array, bs = b.toArray() as Float32Array;
      const expected: number[] = [];
      for (let i = 0; i < 5; i++) for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 7; k++) s += as[i * 7 + k]! * bs[k * 3 + j]!;
        expected.push(s);
      }
      expect(maxAbsDiff(arr(rn.matmul(a, b)), expected)).toBeLessThan(1e-5);
      const w = rn.randn([3, 7]);
      const bias = rn.randn([3]);
      const ws = w.toArray() as Float32Array, biasValues = bias.toArray() as Float32Array;
      const lin: number[] = [];
      for (let i = 0; i < 5; i++) for (let j = 0; j < 3; j++) {
        let s = biasValues[j]!;
        for (let k = 0; k < 7; k++) s += as[i * 7 + k]! * ws[j * 7 + k]!;
        lin.push(s);
      }
      expect(maxAbsDiff(arr(rn.linear(a, w, bias)), lin)).toBeLessThan(1e-5);
    });
  });

  it('crossEntropy is the mean negative log-likelihood, with label smoothing', () => {
    rn.scope(() => {
      const logits = rn.randn([4, 5]);
      const labels = rn.tensor([0, 4, 2, 2], [4], { dtype: 'int64' });
      const ls = logits.toArray() as Float32Array;
      const lab = [0, 4, 2, 2];
      for (const smoothing of [0, 0.1]) {
        let total = 0;
        for (let i = 0; i < 4; i++) {
          const row = Array.from(ls.slice(i * 5, i * 5 + 5));
          const m = Math.max(...row);
          const logZ = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
          const logp = row.map((v) => v - logZ);
          total += -(1 - smoothing) * logp[lab[i]!]! - (smoothing / 5) * logp.reduce((a, b) => a + b, 0);
        }
        expect(rn.crossEntropy(logits, labels, { labelSmoothing: smoothing }).item()).toBeCloseTo(total / 4, 5);
      }
      const int32Labels = rn.tensor([0, 4, 2, 2], [4], { dtype: 'int32' });
      expect(rn.crossEntropy(logits, int32Labels).item()).toBeCloseTo(rn.crossEntropy(logits, labels).item(), 6);
    });
  });
});
