// The Winograd F(2x2, 3x3) path of conv2d (native/cpu/winograd.cc) against the im2col path and a
// double-precision reference: forward, input gradient and weight gradient, on many shapes (odd
// sizes, batch 1, padding 0..2, channel counts that are not multiples of the kernel's blocks) and
// on channelsLast inputs. CUDNN_RESNET_CONV (read by the addon at every call) forces each path.
// Under AVX-512 the transforms of small images (8 or fewer 2x2 tiles a row: outputs up to 16
// wide) take their own 16-tiles-a-vector code and wide rows the AVX2 code: the shapes below cover
// both, with chunks of tiles that cross images, each ISA against the others, and the fused
// epilogue (bias, z, ReLU) of convBiasAct.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { conv2dRef, relativeError } from './helpers/reference.js';

const saved = process.env.CUDNN_RESNET_CONV;
beforeAll(() => rn.manualSeed(4321));
afterAll(() => {
  if (saved === undefined) delete process.env.CUDNN_RESNET_CONV;
  else process.env.CUDNN_RESNET_CONV = saved;
});

const arr = (t: rn.Tensor) => Array.from(t.toArray() as Float32Array);

// Largest absolute difference relative to the largest magnitude of the reference.
function maxRelative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

interface Result { y: number[]; dx: number[]; dw: number[]; db: number[]; yFormat: string; dxFormat: string }

function run(mode: 'winograd' | 'im2col', x: rn.Tensor, w: rn.Tensor, b: rn.Tensor, pad: [number, number], g: rn.Tensor): Result {
  process.env.CUDNN_RESNET_CONV = mode;
  return rn.scope(() => {
    const xs = x.detach();
    xs.requiresGrad = true;
    const ws = w.detach();
    ws.requiresGrad = true;
    const bs = b.detach();
    bs.requiresGrad = true;
    const y = rn.conv2d(xs, ws, bs, { padding: pad });
    y.backward(g);
    return {
      y: arr(y), dx: arr(xs.grad!), dw: arr(ws.grad!), db: arr(bs.grad!),
      yFormat: y.memoryFormat, dxFormat: xs.grad!.memoryFormat,
    };
  });
}

describe('conv2d Winograd F(2x2, 3x3)', () => {
  // [n, c, h, w, o, padH, padW]
  const shapes: [number, number, number, number, number, number, number][] = [
    [1, 1, 1, 1, 1, 1, 1],
    [1, 3, 3, 3, 2, 0, 0],
    [2, 3, 5, 7, 4, 1, 1],
    [1, 16, 32, 32, 16, 1, 1],
    [3, 5, 9, 11, 7, 0, 0],
    [2, 8, 6, 6, 12, 2, 2],
    [4, 33, 13, 17, 21, 1, 1],
    [2, 64, 8, 8, 64, 1, 1],
    [1, 200, 7, 7, 130, 1, 1],
    [5, 4, 2, 30, 3, 1, 1],
    [2, 6, 10, 9, 5, 0, 2],
    [1, 9, 57, 3, 10, 1, 0],
    // Rows of 1, 2, 4 and 8 tiles (AVX-512's multi-row transforms), odd sizes, every padding.
    [5, 6, 7, 7, 9, 1, 1],
    [3, 4, 7, 9, 5, 0, 0],
    [4, 5, 6, 5, 7, 2, 2],
    [7, 3, 3, 4, 5, 0, 1],
    [6, 4, 15, 1, 3, 1, 1],
    [3, 8, 16, 16, 8, 1, 1],
    [2, 7, 13, 15, 6, 2, 0],
    [9, 16, 8, 8, 16, 1, 1],
    [2, 12, 17, 18, 11, 1, 2],
  ];
  for (const [n, c, h, wd, o, ph, pw] of shapes) {
    it(`matches im2col and the reference: x ${n}x${c}x${h}x${wd}, ${o} outputs, padding ${ph},${pw}`, () => {
      rn.scope(() => {
        const x = rn.randn([n, c, h, wd]);
        const w = rn.randn([o, c, 3, 3]);
        const b = rn.randn([o]);
        const ho = h + 2 * ph - 2, wo = wd + 2 * pw - 2;
        const g = rn.randn([n, o, ho, wo]);
        const wino = run('winograd', x, w, b, [ph, pw], g);
        const ref = run('im2col', x, w, b, [ph, pw], g);
        expect(maxRelative(wino.y, ref.y)).toBeLessThan(5e-6);
        expect(maxRelative(wino.dx, ref.dx)).toBeLessThan(5e-6);
        expect(maxRelative(wino.dw, ref.dw)).toBeLessThan(5e-6);
        expect(maxRelative(wino.db, ref.db)).toBeLessThan(1e-6);
        const exact = conv2dRef(x.toArray() as Float32Array, [n, c, h, wd], w.toArray() as Float32Array, [o, c, 3, 3],
          b.toArray() as Float32Array, { stride: [1, 1], padding: [ph, pw], dilation: [1, 1], groups: 1 });
        expect(relativeError(wino.y, exact.y)).toBeLessThan(1e-6);

        // channelsLast input: same numbers, and y and dx come back channelsLast.
        const last = run('winograd', x.to({ memoryFormat: 'channelsLast' }), w, b, [ph, pw], g);
        expect(last.yFormat).toBe('channelsLast');
        expect(last.dxFormat).toBe('channelsLast');
        expect(maxRelative(last.y, ref.y)).toBeLessThan(5e-6);
        expect(maxRelative(last.dx, ref.dx)).toBeLessThan(5e-6);
        expect(maxRelative(last.dw, ref.dw)).toBeLessThan(5e-6);
      });
    });
  }

  // Each ISA that runs Winograd (not portable, which turns it off) against the others on the
  // forward pass, both gradients and convBiasAct with bias, z and ReLU.
  const isas = rn.backends().cpu.isasAvailable.filter((i) => i !== 'portable');
  const initialIsa = rn.backends().cpu.isa;
  const epilogueShapes: [number, number, number, number, number, number, number][] = [
    [3, 5, 7, 7, 9, 1, 1], [2, 6, 9, 17, 4, 0, 2], [4, 16, 8, 8, 12, 1, 1], [2, 8, 32, 32, 8, 1, 1], [1, 3, 5, 3, 2, 2, 1],
  ];
  for (const [n, c, h, wd, o, ph, pw] of epilogueShapes) {
    it.skipIf(isas.length < 2)(`gives the same results under ${isas.join(', ')}: x ${n}x${c}x${h}x${wd}, ${o} outputs, padding ${ph},${pw}`, () => {
      rn.scope(() => {
        const x = rn.randn([n, c, h, wd]);
        const w = rn.randn([o, c, 3, 3]);
        const b = rn.randn([o]);
        const ho = h + 2 * ph - 2, wo = wd + 2 * pw - 2;
        const g = rn.randn([n, o, ho, wo]);
        const z = rn.randn([n, o, ho, wo]);
        const results = isas.map((isa) => {
          rn.setCpuIsa(isa);
          try {
            const r = run('winograd', x, w, b, [ph, pw], g);
            const fused = arr(rn.noGrad(() => rn.convBiasAct(x, w, b, z, { padding: [ph, pw], relu: true })));
            return { ...r, fused };
          } finally {
            rn.setCpuIsa(initialIsa);
          }
        });
        process.env.CUDNN_RESNET_CONV = 'im2col';
        const composed = arr(rn.noGrad(() => rn.relu(rn.add(rn.conv2d(x, w, b, { padding: [ph, pw] }), z))));
        for (let i = 1; i < results.length; i++) {
          const [a, r] = [results[0]!, results[i]!];
          expect(maxRelative(r.y, a.y), `${isas[i]} y`).toBeLessThan(5e-6);
          expect(maxRelative(r.dx, a.dx), `${isas[i]} dx`).toBeLessThan(5e-6);
          expect(maxRelative(r.dw, a.dw), `${isas[i]} dw`).toBeLessThan(5e-6);
        }
        for (const [i, r] of results.entries()) {
          expect(maxRelative(r.fused, composed), `${isas[i]} convBiasAct`).toBeLessThan(5e-6);
          expect(r.fused.some((v) => v === 0) && r.fused.every((v) => v >= 0)).toBe(true);
        }
      });
    });
  }

  it('is deterministic across thread counts', () => {
    rn.scope(() => {
      const x = rn.randn([3, 12, 15, 14]);
      const w = rn.randn([10, 12, 3, 3]);
      const b = rn.randn([10]);
      const g = rn.randn([3, 10, 15, 14]);
      const before = rn.backends().cpu.threads;
      try {
        rn.setNumThreads(1);
        const one = run('winograd', x, w, b, [1, 1], g);
        rn.setNumThreads(before);
        const all = run('winograd', x, w, b, [1, 1], g);
        expect(maxRelative(all.y, one.y)).toBe(0);
        expect(maxRelative(all.dx, one.dx)).toBe(0);
        expect(maxRelative(all.dw, one.dw)).toBeLessThan(5e-6);  // summed in per-thread parts
      } finally {
        rn.setNumThreads(before);
      }
    });
  });
});
