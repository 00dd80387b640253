// maxPool2d's window scan on inputs full of ties and NaNs (the values of a ReLU's output, and
// worse), against a plain reference of PyTorch's rule: windows read row by row, left to right,
// a value replaces the best when it is larger or NaN. The vectorised scan of 8 windows at a time
// and the scalar one at the edges must pick the same values and the same positions (the input
// gradient lands at the picked position).
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

function reference(x: Float32Array, shape: number[], k: number, s: number, p: number) {
  const [n, c, h, w] = shape as [number, number, number, number];
  const ho = Math.floor((h + 2 * p - k) / s) + 1, wo = Math.floor((w + 2 * p - k) / s) + 1;
  const y = new Float32Array(n * c * ho * wo), dx = new Float32Array(x.length);
  for (let plane = 0; plane < n * c; plane++)
    for (let oh = 0; oh < ho; oh++)
      for (let ow = 0; ow < wo; ow++) {
        const h0 = Math.max(oh * s - p, 0), h1 = Math.min(oh * s - p + k, h);
        const w0 = Math.max(ow * s - p, 0), w1 = Math.min(ow * s - p + k, w);
        let best = -Infinity, at = h0 * w + w0;
        for (let ih = h0; ih < h1; ih++)
          for (let iw = w0; iw < w1; iw++) {
            const v = x[plane * h * w + ih * w + iw]!;
            if (v > best || Number.isNaN(v)) { best = v; at = ih * w + iw; }
          }
        y[(plane * ho + oh) * wo + ow] = best;
        dx[plane * h * w + at]! += 1;
      }
  return { y, dx, shape: [n, c, ho, wo] };
}

describe('maxPool2d on ties and NaNs', () => {
  const cases: [number[], number, number, number][] = [
    [[2, 3, 112, 112], 3, 2, 1], [[1, 4, 29, 37], 3, 2, 1], [[1, 2, 20, 21], 2, 2, 0], [[1, 2, 17, 40], 3, 1, 1],
  ];
  for (const [shape, k, s, p] of cases) {
    it(`[${shape}] kernel ${k} stride ${s} padding ${p}: values and argmax positions`, () => {
      rn.scope(() => {
        const count = shape.reduce((a, b) => a * b, 1);
        const data = new Float32Array(count);
        for (let i = 0; i < count; i++) {
          const r = (i * 2654435761) % 97;  // deterministic, mostly ties: 0, 1, 2 and some NaN
          data[i] = r < 3 ? NaN : r % 3;
        }
        const x = rn.tensor(data, shape, { requiresGrad: true });
        const y = rn.maxPool2d(x, { kernelSize: k, stride: s, padding: p });
        y.backward(rn.ones(y.shape));
        const ref = reference(data, shape, k, s, p);
        expect(y.shape).toEqual(ref.shape);
        expect(Array.from(y.toArray() as Float32Array)).toEqual(Array.from(ref.y));
        expect(Array.from(x.grad!.toArray() as Float32Array)).toEqual(Array.from(ref.dx));
      });
    });
  }
});
