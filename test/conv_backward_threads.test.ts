// The CPU convolution backward pass with the built-in GEMM (native/cpu/conv2d_backward.cc, imageTasksBackward and
// batchedBackward) on odd shapes: dx and dweight against their definitions written out in loops here
// in double precision, and the same bits at one thread as at every thread where the design promises it
// (a batch of at least one image per thread, or outputs under 128 positions: chunks of images, blocks
// of positions or channels, and GEMM depths that do not depend on the thread count). The shapes reach
// each case: tasks of images with several position blocks per image, 1x1 with and without stride,
// groups, dilation, small outputs over the batch's columns in channel-block tasks (one block, several
// with a partial one), all the images at once or a few at a time, and batch 1.
import { beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { envDuring } from './helpers/env.js';

envDuring('CUDNN_RESNET_CONV', 'im2col');  // the stride-1 3x3 case too, not Winograd
beforeAll(() => rn.manualSeed(8765));

const arr = (t: rn.Tensor) => t.toArray() as Float32Array;

interface Case {
  name: string;
  x: [number, number, number, number];  // (N, C, H, W)
  w: [number, number, number, number];  // (O, C / groups, kH, kW)
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
  sameBits: boolean;  // whether 1 thread and every thread must agree bit for bit
}

/** dx (N, C, H, W) and dweight (O, Cg, kH, kW) of conv(x, w) for the output gradient dy, by their definitions. */
function direct(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): { dx: Float64Array; dw: Float64Array } {
  const [N, C, H, W] = c.x, [O, Cg, kH, kW] = c.w;
  const Og = O / c.groups;
  const Ho = Math.floor((H + 2 * c.padding - c.dilation * (kH - 1) - 1) / c.stride) + 1;
  const Wo = Math.floor((W + 2 * c.padding - c.dilation * (kW - 1) - 1) / c.stride) + 1;
  const dx = new Float64Array(N * C * H * W), dw = new Float64Array(O * Cg * kH * kW);
  for (let n = 0; n < N; ++n)
    for (let o = 0; o < O; ++o) {
      const grp = Math.floor(o / Og);
      for (let oh = 0; oh < Ho; ++oh)
        for (let ow = 0; ow < Wo; ++ow) {
          const g = dy[((n * O + o) * Ho + oh) * Wo + ow]!;
          for (let ci = 0; ci < Cg; ++ci)
            for (let i = 0; i < kH; ++i)
              for (let j = 0; j < kW; ++j) {
                const ih = oh * c.stride + i * c.dilation - c.padding, iw = ow * c.stride + j * c.dilation - c.padding;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const xAt = ((n * C + grp * Cg + ci) * H + ih) * W + iw, wAt = ((o * Cg + ci) * kH + i) * kW + j;
                dx[xAt] = dx[xAt]! + g * w[wAt]!;
                dw[wAt] = dw[wAt]! + g * x[xAt]!;
              }
        }
    }
  return { dx, dw };
}

/** max |got - want| / max |want|. */
function relativeError(got: Float32Array, want: Float64Array): number {
  let worst = 0, scale = 0;
  for (let i = 0; i < want.length; ++i) {
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return worst / scale;
}

const cases: Case[] = [
  // tasks of images: 25x23 outputs in blocks of 448 positions and a partial one (K = 576), O = 9
  { name: '3x3/1 pad 1, 64->9, 25x23, batch 2', x: [2, 64, 25, 23], w: [9, 64, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 1, sameBits: true },
  { name: '7x7/2 pad 3 (a stem), 3->16, 45x51, batch 2', x: [2, 3, 45, 51], w: [16, 3, 7, 7], stride: 2, padding: 3, dilation: 1, groups: 1, sameBits: true },
  { name: '3x3/2 dilation 2, 2 groups, 8->6, 41x39, batch 2', x: [2, 8, 41, 39], w: [6, 4, 3, 3], stride: 2, padding: 2, dilation: 2, groups: 2, sameBits: true },
  { name: '1x1, 17->30, 19x21, batch 3', x: [3, 17, 19, 21], w: [30, 17, 1, 1], stride: 1, padding: 0, dilation: 1, groups: 1, sameBits: true },
  { name: '1x1/2, 10->12, 40x36, batch 2', x: [2, 10, 40, 36], w: [12, 10, 1, 1], stride: 2, padding: 0, dilation: 1, groups: 1, sameBits: true },
  { name: '5x5/1 pad 2, 3->19, 41x37, batch 3', x: [3, 3, 41, 37], w: [19, 3, 5, 5], stride: 1, padding: 2, dilation: 1, groups: 1, sameBits: true },
  // small outputs: GEMMs over the batch's columns
  { name: '3x3/1 pad 1, 21->37, 9x11, batch 3', x: [3, 21, 9, 11], w: [37, 21, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 1, sameBits: true },
  { name: '1x1, 70->29, 5x9, batch 2', x: [2, 70, 5, 9], w: [29, 70, 1, 1], stride: 1, padding: 0, dilation: 1, groups: 1, sameBits: true },
  { name: '3x3/2 pad 1, 9->15, 15x13, batch 5', x: [5, 9, 15, 13], w: [15, 9, 3, 3], stride: 2, padding: 1, dilation: 1, groups: 1, sameBits: true },
  { name: '3x3/1 pad 1, 2 groups, 12->10, 6x5, batch 2', x: [2, 12, 6, 5], w: [10, 6, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 2, sameBits: true },
  { name: '1x1/2, 33->20, 13x13, batch 3', x: [3, 33, 13, 13], w: [20, 33, 1, 1], stride: 2, padding: 0, dilation: 1, groups: 1, sameBits: true },
  // ... in blocks of 96 channels and a partial one
  { name: '1x1, 200->16, 6x7, batch 2', x: [2, 200, 6, 7], w: [16, 200, 1, 1], stride: 1, padding: 0, dilation: 1, groups: 1, sameBits: true },
  // ... one image at a time (K = 18432: at most 4M floats of column matrix), in 12 blocks of 171 channels
  { name: '3x3/1 pad 1, 2048->2, 11x11, batch 3', x: [3, 2048, 11, 11], w: [2, 2048, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 1, sameBits: true },
  // ... one image at a time (dy of 2200 x 121 floats: at most 512K floats of it)
  { name: '1x1, 3->2200, 11x11, batch 3', x: [3, 3, 11, 11], w: [2200, 3, 1, 1], stride: 1, padding: 0, dilation: 1, groups: 1, sameBits: true },
  // batch 1 (the path depends on the thread count)
  { name: '3x3/1 pad 1, 13->11, 24x21, batch 1', x: [1, 13, 24, 21], w: [11, 13, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 1, sameBits: false },
  { name: '1x1, 20->7, 7x7, batch 1', x: [1, 20, 7, 7], w: [7, 20, 1, 1], stride: 1, padding: 0, dilation: 1, groups: 1, sameBits: true },
];

describe('CPU convolution backward with the built-in GEMM', () => {
  for (const c of cases) {
    it(`${c.name}: dx and dweight by their definitions${c.sameBits ? ', the same bits at 1 and at every thread' : ''}`, () => {
      const x = rn.randn(c.x, { requiresGrad: true }), w = rn.mul(rn.randn(c.w), 0.2);
      w.requiresGrad = true;
      const options = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
      const y = rn.conv2d(x, w, null, options);
      const dy = rn.randn(y.shape as number[]);
      const grads = (): [Float32Array, Float32Array] => {
        y.backward(dy, { retainGraph: true });
        const out: [Float32Array, Float32Array] = [arr(x.grad!), arr(w.grad!)];
        for (const t of [x, w]) {
          t.grad!.dispose();
          t.grad = null;
        }
        return out;
      };
      const before = rn.backends().cpu.threads;
      try {
        rn.setNumThreads(1);
        const [dxOne, dwOne] = grads();
        rn.setNumThreads(before);
        const [dxAll, dwAll] = grads();
        if (c.sameBits) {
          expect(dxAll).toEqual(dxOne);
          expect(dwAll).toEqual(dwOne);
        }
        const want = direct(c, arr(x), arr(w), arr(dy));
        for (const [dx, dw] of [[dxOne, dwOne], [dxAll, dwAll]] as const) {
          expect(relativeError(dx, want.dx)).toBeLessThan(1e-5);
          expect(relativeError(dw, want.dw)).toBeLessThan(1e-5);
        }
      } finally {
        rn.setNumThreads(before);
      }
    });
  }
});
