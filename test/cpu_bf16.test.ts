// Autocast bfloat16 computed natively on CPUs with AVX-512 BF16 (native/cpu/gemm_bf16.h,
// winograd_bf16.h): the bfloat16 GEMM against a float64 product of the rounded operands, and
// conv2d / convBiasAct / linear, forward and gradients, against the emulation (inputs and results
// rounded by cast ops, float32 products; CUDNN_RESNET_BF16=emulated forces it). Both round at the
// same points, so they agree to one bfloat16 unit in the last place except where Winograd's
// bfloat16 product stage rounds its transformed tiles (a looser bound there). Forcing the avx2
// instruction set falls back to the emulation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { envDuring, withEnv } from './helpers/env.js';
import { native } from '../lib/binding.js';
import { wrap } from '../lib/tensor.js';
import { relativeError } from './helpers/reference.js';

const cpu = rn.backends().cpu;
const hasBf16 = cpu.features.includes('avx512bf16') && cpu.isasAvailable.includes('avx512');
const f32 = (t: rn.Tensor) => t.toArray() as Float32Array;
const ROUNDOFF = 2 ** -8;

/** Rounds to bfloat16 (nearest even, NaN kept quiet) as the cast op does, staying float32. */
function bf16(v: Float32Array): Float32Array {
  const u = new Uint32Array(Float32Array.from(v).buffer);
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!;
    u[i] = (x & 0x7fffffff) > 0x7f800000 ? (x | 0x400000) & 0xffff0000 : (x + 0x7fff + ((x >>> 16) & 1)) & 0xffff0000;
  }
  return new Float32Array(u.buffer);
}

/** Each a[i] within one bfloat16 unit in the last place of b[i], plus `slack` for cancellation. */
function expectWithinUlp(a: Float32Array, b: Float32Array, slack: Float32Array | number = 0): void {
  expect(a.length).toBe(b.length);
  let bad = -1;
  for (let i = 0; i < b.length && bad < 0; i++) {
    const s = typeof slack === 'number' ? slack : slack[i]!;
    if (!(Math.abs(a[i]! - b[i]!) <= 2 ** -7 * Math.max(Math.abs(a[i]!), Math.abs(b[i]!)) + s)) bad = i;
  }
  expect(bad < 0 ? 'all within' : `element ${bad}: ${a[bad]} vs ${b[bad]}`).toBe('all within');
}

/** Runs fn under autocast bfloat16, natively or emulated, and returns what it returns. */
function underBf16<T>(emulated: boolean, fn: () => T): T {
  return withEnv('CUDNN_RESNET_BF16', emulated ? 'emulated' : undefined, () => rn.autocast({ dtype: 'bfloat16' }, fn));
}

/** Runs fn with every convolution on im2col + GEMM (CUDNN_RESNET_CONV=im2col), not Winograd. */
function onIm2col<T>(fn: () => T): T {
  return withEnv('CUDNN_RESNET_CONV', 'im2col', fn);
}

/** The output and the input gradients of fn(inputs) for the output gradient g, natively or emulated. */
function withGrads(emulated: boolean, inputs: rn.Tensor[], fn: (xs: rn.Tensor[]) => rn.Tensor, g?: rn.Tensor): Float32Array[] {
  const leaves = inputs.map((t) => {
    const leaf = t.detach();
    leaf.requiresGrad = true;
    return leaf;
  });
  const y = underBf16(emulated, () => fn(leaves));
  rn.sum(rn.mul(y, g ?? rn.onesLike(y))).backward();
  return [f32(y), ...leaves.map((l) => f32(l.grad!))];
}

/** The op that recorded fn's result in the graph ('cast' where the emulation rounds it). */
function lastOp(fn: () => rn.Tensor): string | undefined {
  return fn()._node?.op;
}

describe.skipIf(!hasBf16)(`bfloat16 compute on AVX-512 BF16${hasBf16 ? '' : ' (skipped: this CPU lacks AVX-512 BF16)'}`, () => {
  const initialIsa = cpu.isa;
  beforeAll(() => rn.setCpuIsa('avx512'));
  afterAll(() => rn.setCpuIsa(initialIsa));

  it('is reported by backends(), and CUDNN_RESNET_BF16=emulated switches it off', () => {
    expect(rn.backends().cpu.bf16).toBe('avx512-bf16');
    process.env.CUDNN_RESNET_BF16 = 'emulated';
    try {
      expect(rn.backends().cpu.bf16).toBe('emulated');
    } finally {
      delete process.env.CUDNN_RESNET_BF16;
    }
  });

  const sizes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [14, 33, 32], [15, 64, 33], [97, 129, 65], [1, 300, 17], [200, 2, 40]];
  for (const [m, k, n] of sizes)
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const)
      it(`GEMM (${m}x${k}) x (${k}x${n})${transA ? ', A transposed' : ''}${transB ? ', B transposed' : ''}: the rounded float64 product of the rounded operands, to one unit`, () => {
        rn.manualSeed(m * 1000 + k * 10 + n);
        const a = rn.randn(transA ? [k, m] : [m, k]), b = rn.randn(transB ? [n, k] : [k, n]);
        const ar = bf16(f32(a)), br = bf16(f32(b));
        const c = wrap(native.matmul(a.handle, b.handle, transA, transB, true));
        expect(c.shape).toEqual([m, n]);
        const at = (i: number, p: number) => (transA ? ar[p * m + i]! : ar[i * k + p]!);
        const bt = (p: number, j: number) => (transB ? br[j * k + p]! : br[p * n + j]!);
        const ref = new Float32Array(m * n), slack = new Float32Array(m * n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = 0, abs = 0;
            for (let p = 0; p < k; p++) {
              s += at(i, p) * bt(p, j);
              abs += Math.abs(at(i, p) * bt(p, j));
            }
            ref[i * n + j] = s;
            slack[i * n + j] = k * 2 ** -24 * abs;  // float32 sums in another order
          }
        expectWithinUlp(f32(c), bf16(ref), slack);
        expect(f32(c)).toEqual(bf16(f32(c)));  // the result is rounded
      });

  it('linear and matmul, forward and gradients, agree with the emulation, and no cast op runs', () => {
    rn.manualSeed(3);
    const x = rn.randn([33, 70]), w = rn.randn([19, 70]), bias = rn.randn([19]), g = rn.randn([33, 19]);
    const lin = (xs: rn.Tensor[]) => rn.linear(xs[0]!, xs[1]!, xs[2]!);
    const nativeOut = withGrads(false, [x, w, bias], lin, g), emulatedOut = withGrads(true, [x, w, bias], lin, g);
    for (let i = 0; i < nativeOut.length; i++) expectWithinUlp(nativeOut[i]!, emulatedOut[i]!, 1e-5);
    const a = rn.randn([17, 40]), b = rn.randn([40, 9]);
    const mm = (xs: rn.Tensor[]) => rn.matmul(xs[0]!, xs[1]!);
    const n2 = withGrads(false, [a, b], mm), e2 = withGrads(true, [a, b], mm);
    for (let i = 0; i < n2.length; i++) expectWithinUlp(n2[i]!, e2[i]!, 1e-5);
    w.requiresGrad = true;
    expect(lastOp(() => underBf16(false, () => rn.linear(x, w)))).toBe('matmul');
    expect(lastOp(() => underBf16(true, () => rn.linear(x, w)))).toBe('cast');
  });

  const convCases: { name: string; x: number[]; w: number[]; options: rn.Conv2dOptions; bias: boolean }[] = [
    { name: 'im2col 3x3 padding 1', x: [2, 5, 9, 11], w: [7, 5, 3, 3], options: { padding: 1 }, bias: true },
    { name: 'pointwise 1x1', x: [3, 16, 6, 6], w: [24, 16, 1, 1], options: {}, bias: false },
    { name: 'strided 3x3 stride 2', x: [2, 16, 10, 10], w: [32, 16, 3, 3], options: { stride: 2, padding: 1 }, bias: true },
    { name: 'grouped 3x3, 2 groups, dilation 2', x: [2, 8, 11, 11], w: [6, 4, 3, 3], options: { groups: 2, padding: 2, dilation: 2 }, bias: true },
    { name: 'strided 1x1 (option-B shortcut)', x: [4, 16, 8, 8], w: [32, 16, 1, 1], options: { stride: 2 }, bias: false },
  ];
  for (const c of convCases)
    it(`conv2d ${c.name}: forward, dx, dweight and dbias agree with the emulation to one unit`, () => onIm2col(() => {
      rn.manualSeed(11);
      const x = rn.randn(c.x), w = rn.scale(rn.randn(c.w), 0.3), bias = rn.randn([c.w[0]!]);
      const conv = (xs: rn.Tensor[]) => rn.conv2d(xs[0]!, xs[1]!, c.bias ? xs[2]! : null, c.options);
      const y = rn.conv2d(x, w, null, c.options);
      const g = rn.randn([...y.shape]);
      const inputs = c.bias ? [x, w, bias] : [x, w];
      const nativeOut = withGrads(false, inputs, conv, g), emulatedOut = withGrads(true, inputs, conv, g);
      for (let i = 0; i < nativeOut.length; i++) expectWithinUlp(nativeOut[i]!, emulatedOut[i]!, 1e-4);
    }));

  it('conv2d makes its prepared bfloat16 weights again after an SGD step writes the weights in place', () => onIm2col(() => {
    rn.manualSeed(5);
    const x = rn.randn([2, 6, 7, 7]), w = rn.randn([8, 6, 3, 3], { requiresGrad: true });
    const check = () => {
      const [y, dx] = withGrads(false, [x], (xs) => rn.conv2d(xs[0]!, w, null, { padding: 1 }));
      const [ye, dxe] = withGrads(true, [x], (xs) => rn.conv2d(xs[0]!, w, null, { padding: 1 }));
      expectWithinUlp(y!, ye!, 1e-4);
      expectWithinUlp(dx!, dxe!, 1e-4);
      return y!;
    };
    const first = check();
    w.grad = null;
    const opt = new rn.optim.SGD([w], { lr: 0.5 });
    rn.sum(rn.mul(rn.conv2d(x, w, null, { padding: 1 }), rn.conv2d(x, w, null, { padding: 1 }))).backward();
    opt.step();
    expect(relativeError(check(), first)).toBeGreaterThan(1e-2);
  }));

  it('convBiasAct (the GEMM epilogue: + bias, + z, ReLU, then the rounding) agrees with the emulation to one unit', () => onIm2col(() => {
    rn.manualSeed(13);
    const x = rn.randn([2, 12, 8, 8]), w = rn.randn([20, 12, 3, 3]), bias = rn.randn([20]), z = rn.randn([2, 20, 8, 8]);
    for (const [zz, relu] of [[z, true], [null, true], [z, false]] as const) {
      const run = (emulated: boolean) => f32(underBf16(emulated, () => rn.convBiasAct(x, w, bias, zz, { padding: 1, relu })));
      expectWithinUlp(run(false), run(true), 1e-4);
    }
  }));

  describe('Winograd shapes (its bfloat16 product stage rounds the transformed tiles)', () => {
    envDuring('CUDNN_RESNET_CONV', 'winograd');
    // Tile rows of 6, 5 and 3 tiles take the AVX2 transforms; 16 tiles (32x32) too, and 8 tiles
    // (16x16) for dy; 8, 4, 2 and 1 the AVX-512 ones. Odd channel counts leave the last channel pair
    // half empty; an odd tile count per image (5x5, 3x3, 1x1 tiles) keeps pairs from spanning images.
    const shapes = [
      [4, 16, 16, 12, 1], [2, 3, 16, 10, 1], [3, 33, 20, 7, 0], [2, 8, 12, 9, 2], [2, 170, 9, 6, 1],
      [2, 5, 7, 32, 1], [3, 9, 5, 16, 1], [2, 7, 6, 8, 1], [3, 3, 4, 4, 1], [5, 5, 3, 2, 1], [2, 6, 5, 16, 0],
    ] as const;
    for (const [n, c, o, s, pad] of shapes)
      it(`conv2d ${n}x${c}x${s}x${s} -> ${o} channels, padding ${pad}: within bfloat16 rounding of the emulation and of float32`, () => {
        rn.manualSeed(17);
        const x = rn.randn([n, c, s, s]), w = rn.scale(rn.randn([o, c, 3, 3]), 0.2), bias = rn.randn([o]);
        const conv = (xs: rn.Tensor[]) => rn.conv2d(xs[0]!, xs[1]!, xs[2]!, { padding: pad });
        const g = rn.randn([...rn.conv2d(x, w, null, { padding: pad }).shape]);
        const nativeOut = withGrads(false, [x, w, bias], conv, g), emulatedOut = withGrads(true, [x, w, bias], conv, g);
        const leaves = [x, w, bias].map((t) => { const l = t.detach(); l.requiresGrad = true; return l; });
        const y32 = conv(leaves);
        rn.sum(rn.mul(y32, g)).backward();
        const float32Out = [f32(y32), ...leaves.map((l) => f32(l.grad!))];
        for (let i = 0; i < nativeOut.length; i++) {
          expect(relativeError(nativeOut[i]!, emulatedOut[i]!)).toBeLessThan(3 * ROUNDOFF);
          expect(relativeError(nativeOut[i]!, float32Out[i]!)).toBeLessThan(8 * ROUNDOFF);
        }
        expect(nativeOut[0]!).toEqual(bf16(nativeOut[0]!));  // y is rounded
      });

    // The ReLU runs on each output stretch before the rounding (the output transform cannot round
    // then); 32x32, 16x16 and 7x7 planes take the AVX2 and AVX-512 output transforms.
    for (const [c, o, s] of [[5, 6, 32], [9, 8, 16], [7, 5, 7]] as const)
      it(`convBiasAct ${c}@${s}x${s} -> ${o}, bias and ReLU: within bfloat16 rounding of the emulation, y rounded and >= 0`, () => {
        rn.manualSeed(23);
        const x = rn.randn([3, c, s, s]), w = rn.scale(rn.randn([o, c, 3, 3]), 0.2), bias = rn.randn([o]);
        const run = (emulated: boolean) => f32(underBf16(emulated, () => rn.convBiasAct(x, w, bias, null, { padding: 1, relu: true })));
        const y = run(false);
        expect(relativeError(y, run(true))).toBeLessThan(3 * ROUNDOFF);
        expect(y).toEqual(bf16(y));
        expect(y.every((v) => v >= 0)).toBe(true);
      });
  });

  it('falls back to the emulation when the avx2 instruction set is in force', () => {
    rn.manualSeed(19);
    const x = rn.randn([2, 4, 6, 6]), w = rn.randn([5, 4, 3, 3], { requiresGrad: true });
    const nativeY = f32(underBf16(false, () => rn.conv2d(x, w, null, { padding: 1 })));
    expect(lastOp(() => underBf16(false, () => rn.conv2d(x, w, null, { padding: 1 })))).toBe('conv2d');
    rn.setCpuIsa('avx2');
    try {
      expect(rn.backends().cpu.bf16).toBe('emulated');
      const y = underBf16(false, () => rn.conv2d(x, w, null, { padding: 1 }));
      expect(y._node?.op).toBe('cast');
      expectWithinUlp(f32(y), nativeY, 1e-4);
      const a = rn.randn([3, 4]);
      expect(() => native.matmul(a.handle, a.handle, false, true, true)).toThrow(/AVX-512 BF16/);
    } finally {
      rn.setCpuIsa('avx512');
    }
  });
});
