// The CPU forward convolution with packed weights (native/cpu/conv2d.cc, packedForward) on odd shapes:
// against a direct convolution written out in loops here, and the same bits at one thread as at every
// thread (each output element is summed in the same order however the columns are split into tasks).
// The shapes reach each of its cases: tasks of (image, group, column block) with partial blocks and
// partial micro-kernel tiles, small outputs of a batch in one GEMM over the batch's columns, small
// outputs at batch 1 as the transposed product or image by image (so with groups).
import { beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { envDuring } from './helpers/env.js';
import { conv2dRef } from './helpers/reference.js';

envDuring('CUDNN_RESNET_CONV', 'im2col');  // the stride-1 3x3 case too, not Winograd
beforeAll(() => rn.manualSeed(4321));

const arr = (t: rn.Tensor) => t.toArray() as Float32Array;

interface Case {
  name: string;
  x: [number, number, number, number];  // (N, C, H, W)
  w: [number, number, number, number];  // (O, C / groups, kH, kW)
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
}

/** act(conv(x, w) + b + z) by its definition, in double precision: x (N, C, H, W), w (O, Cg, kH, kW). */
function direct(c: Case, x: Float32Array, w: Float32Array, b: Float32Array, z: Float32Array): Float64Array {
  const { y } = conv2dRef(x, c.x, w, c.w, b, {
    stride: [c.stride, c.stride], padding: [c.padding, c.padding], dilation: [c.dilation, c.dilation], groups: c.groups,
  });
  for (let i = 0; i < y.length; ++i) y[i] = Math.max(0, y[i]! + z[i]!);
  return y;
}

const cases: Case[] = [
  // column tasks: 41x37 output columns in blocks of 128 and a partial one; O = 19 (partial row tiles)
  { name: '5x5/1 pad 2, 3->19, 41x37, batch 3', x: [3, 3, 41, 37], w: [19, 3, 5, 5], stride: 1, padding: 2, dilation: 1, groups: 1 },
  { name: '7x7/2 pad 3 (a stem), 3->16, 45x51, batch 1', x: [1, 3, 45, 51], w: [16, 3, 7, 7], stride: 2, padding: 3, dilation: 1, groups: 1 },
  { name: '3x3/1 pad 1, 6->10, 23x29, batch 2', x: [2, 6, 23, 29], w: [10, 6, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 1 },
  { name: '3x3/2 dilation 2, 2 groups, 8->6, 33x27, batch 2', x: [2, 8, 33, 27], w: [6, 4, 3, 3], stride: 2, padding: 2, dilation: 2, groups: 2 },
  { name: '1x1, 17->30, 19x21, batch 3', x: [3, 17, 19, 21], w: [30, 17, 1, 1], stride: 1, padding: 0, dilation: 1, groups: 1 },
  // stride 3 (the portable strided copy) and a 1x1/2 downsample, 16x17 outputs split mid-row
  { name: '3x3/3 pad 1, 5->20, 47x50, batch 2', x: [2, 5, 47, 50], w: [20, 5, 3, 3], stride: 3, padding: 1, dilation: 1, groups: 1 },
  { name: '1x1/2, 24->40, 31x33, batch 2', x: [2, 24, 31, 33], w: [40, 24, 1, 1], stride: 2, padding: 0, dilation: 1, groups: 1 },
  // up to 64 output positions at batch 1: the transposed product
  { name: '3x3/1 pad 1, 40->33, 7x7, batch 1', x: [1, 40, 7, 7], w: [33, 40, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 1 },
  { name: '1x1, 75->70, 6x9, batch 1', x: [1, 75, 6, 9], w: [70, 75, 1, 1], stride: 1, padding: 0, dilation: 1, groups: 1 },
  { name: '3x3/2 pad 1, 30->64, 13x13, batch 1', x: [1, 30, 13, 13], w: [64, 30, 3, 3], stride: 2, padding: 1, dilation: 1, groups: 1 },
  // other small outputs at batch 1, and with groups: image by image
  { name: '1x1, 75->70, 13x15, batch 1', x: [1, 75, 13, 15], w: [70, 75, 1, 1], stride: 1, padding: 0, dilation: 1, groups: 1 },
  { name: '3x3/1 pad 1, 2 groups, 12->10, 6x5, batch 2', x: [2, 12, 6, 5], w: [10, 6, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 2 },
  // small outputs in a batch: one GEMM over the batch's columns
  { name: '1x1, 70->29, 5x9, batch 2', x: [2, 70, 5, 9], w: [29, 70, 1, 1], stride: 1, padding: 0, dilation: 1, groups: 1 },
  { name: '3x3/1 pad 1, 21->37, 9x11, batch 3', x: [3, 21, 9, 11], w: [37, 21, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 1 },
  { name: '3x3/2 pad 1, 9->15, 15x13, batch 5', x: [5, 9, 15, 13], w: [15, 9, 3, 3], stride: 2, padding: 1, dilation: 1, groups: 1 },
  // ... in several GEMMs (at most 1024 columns each: 4 images of 225 or 240 positions)
  { name: '1x1, 5->9, 15x15, batch 6', x: [6, 5, 15, 15], w: [9, 5, 1, 1], stride: 1, padding: 0, dilation: 1, groups: 1 },
  { name: '3x3/1 pad 1, 4->7, 16x15, batch 5', x: [5, 4, 16, 15], w: [7, 4, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 1 },
];

describe('CPU forward convolution with packed weights', () => {
  for (const c of cases) {
    it(`${c.name}: the direct convolution's values, the same bits at 1 and at every thread`, () => {
      const x = rn.randn(c.x), w = rn.mul(rn.randn(c.w), 0.2), b = rn.randn([c.w[0]]);
      const ref = rn.convBiasAct(x, w, b, null, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });
      const z = rn.randn(ref.shape as number[]);
      const options = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, relu: true };
      const before = rn.backends().cpu.threads;
      try {
        rn.setNumThreads(1);
        const one = arr(rn.convBiasAct(x, w, b, z, options));
        rn.setNumThreads(before);
        const all = arr(rn.convBiasAct(x, w, b, z, options));
        expect(all).toEqual(one);
        const want = direct(c, arr(x), arr(w), arr(b), arr(z));
        let worst = 0, scale = 0;
        for (let i = 0; i < want.length; ++i) {
          worst = Math.max(worst, Math.abs(all[i]! - want[i]!));
          scale = Math.max(scale, Math.abs(want[i]!));
        }
        expect(worst / scale).toBeLessThan(1e-5);
      } finally {
        rn.setNumThreads(before);
      }
    });
  }
});
