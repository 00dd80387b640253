// Batch normalisation's passes (native/cpu/batchnorm_kernels*.cc) under every ISA this CPU runs
// against the portable kernels: the same bits for batchNorm2d, bnRelu and bnAddRelu, forward (y and
// the running statistics) and backward (every gradient), in training and in evaluation, in both
// memory formats, on channel counts and plane sizes off the vector widths (tails of 8 and 16).
import { afterAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

const cpu = rn.backends().cpu;
const initialIsa = cpu.isa;
afterAll(() => rn.setCpuIsa(initialIsa));

const arr = (t: rn.Tensor) => Array.from(t.toArray() as Float32Array);
const otherIsas = cpu.isasAvailable.filter((i) => i !== 'portable');

// Every output of fn under one ISA, the inputs made once outside it.
function under(isa: rn.CpuIsa, fn: () => rn.Tensor[]): number[][] {
  rn.setCpuIsa(isa);
  try {
    return rn.scope(() => fn().map(arr));
  } finally {
    rn.setCpuIsa(initialIsa);
  }
}

function sameBitsAsPortable(fn: () => rn.Tensor[]) {
  const oracle = under('portable', fn);
  for (const isa of otherIsas) {
    const got = under(isa, fn);
    expect(got.length).toBe(oracle.length);
    got.forEach((g, i) => expect(g, `${isa} output ${i}`).toEqual(oracle[i]));
  }
}

type Op = 'batchNorm2d' | 'bnRelu' | 'bnAddRelu';
const ops: Op[] = ['batchNorm2d', 'bnRelu', 'bnAddRelu'];

// (N, C, H, W) or (N, C): planes of 1, 6, 15, 63 and 561 elements, 3 to 75 channels (rows of few
// channels keep the per-channel values in registers, rows of many do not), and cases on the vector
// widths (8, 16, 24, 32 channels).
const shapes: number[][] = [
  [3, 5, 7, 9], [4, 19, 5, 3], [2, 37, 1, 1], [2, 3, 17, 33], [3, 75, 2, 3], [6, 24, 8, 8], [5, 13], [9, 40],
  [3, 8, 5, 4], [2, 16, 7, 7], [2, 32, 3, 5],
];
const formats: rn.MemoryFormat[] = ['contiguous', 'channelsLast'];

interface Case { op: Op; shape: number[]; format: rn.MemoryFormat; training: boolean; affine: boolean }
const cases: Case[] = [];
for (const shape of shapes)
  for (const format of shape.length === 4 ? formats : (['contiguous'] as const))
    for (const op of ops)
      for (const training of [true, false]) cases.push({ op, shape, format, training, affine: shape[1] !== 5 });
const name = (c: Case) =>
  `${c.op} ${c.training ? 'training' : 'evaluation'} (${c.shape.join(', ')}) ${c.format}${c.affine ? '' : ', no weight or bias'}`;

describe.skipIf(otherIsas.length === 0)('batch-norm passes: each ISA gives the portable kernels\' bits', () => {
  it.each(cases.map((c) => [name(c), c] as const))('%s: y, running statistics and gradients', (_, c) => {
    const channels = c.shape[1]!;
    rn.manualSeed(channels * 101 + c.shape[0]!);
    const x = rn.affine(rn.randn(c.shape, { memoryFormat: c.format }), 1.7, 0.4);
    const residual = rn.randn(c.shape, { memoryFormat: c.format });
    const g = rn.randn(c.shape, { memoryFormat: c.format });
    const w = c.affine ? rn.randn([channels]) : null;
    const b = c.affine ? rn.randn([channels]) : null;
    const runMean = rn.randn([channels]), runVar = rn.affine(rn.rand([channels]), 1, 0.5);
    sameBitsAsPortable(() => {
      const [xs, rs] = [x.detach(), residual.detach()];
      const [ws, bs] = [w?.detach() ?? null, b?.detach() ?? null];
      xs.requiresGrad = rs.requiresGrad = true;
      // In evaluation only the inputs want gradients: the backward pass then skips its reductions.
      if (ws && bs && c.training) ws.requiresGrad = bs.requiresGrad = true;
      const [rm, rv] = [runMean.detach().clone(), runVar.detach().clone()];
      const options = { training: c.training, momentum: 0.2, eps: 1e-3 };
      const y =
        c.op === 'bnAddRelu' ? rn.bnAddRelu(xs, rs, rm, rv, ws, bs, options)
          : c.op === 'bnRelu' ? rn.bnRelu(xs, rm, rv, ws, bs, options)
            : rn.batchNorm2d(xs, rm, rv, ws, bs, options);
      y.backward(g);
      const grads = [xs.grad!, ...(c.op === 'bnAddRelu' ? [rs.grad!] : []), ...(ws?.grad ? [ws.grad, bs!.grad!] : [])];
      return [y, rm, rv, ...grads];
    });
    rn.scope(() => [x, residual, g, runMean, runVar, ...(w ? [w, b!] : [])].forEach((t) => t.dispose()));
  });
});

// With planes (NCHW) and a few channels per thread, the statistics and their use (forward), and the
// backward's sums and dx, run channel by channel; otherwise pass by pass. Three channels take the
// first way on one thread and the second on two: the same bits either way.
const cores = rn.setNumThreads(1 << 16);
describe.skipIf(cores < 2)('batch-norm passes: channel by channel or pass by pass, the same bits', () => {
  afterAll(() => rn.setNumThreads(cores));
  it.each(ops)('%s, training, (4, 3, 9, 7) contiguous', (op) => {
    rn.manualSeed(3);
    const [x, residual, g] = [rn.randn([4, 3, 9, 7]), rn.randn([4, 3, 9, 7]), rn.randn([4, 3, 9, 7])];
    const [w, b] = [rn.randn([3]), rn.randn([3])];
    const run = (threads: number) => {
      rn.setNumThreads(threads);
      return rn.scope(() => {
        const [xs, rs, ws, bs] = [x, residual, w, b].map((t) => t.detach());
        [xs, rs, ws, bs].forEach((t) => (t!.requiresGrad = true));
        const [rm, rv] = [rn.zeros([3]), rn.ones([3])];
        const y = op === 'bnAddRelu' ? rn.bnAddRelu(xs!, rs!, rm, rv, ws, bs, { training: true })
          : op === 'bnRelu' ? rn.bnRelu(xs!, rm, rv, ws, bs, { training: true })
            : rn.batchNorm2d(xs!, rm, rv, ws, bs, { training: true });
        y.backward(g);
        return [y, rm, rv, xs!.grad!, ws!.grad!, bs!.grad!, ...(op === 'bnAddRelu' ? [rs!.grad!] : [])].map(arr);
      });
    };
    expect(run(2)).toEqual(run(1));
    rn.scope(() => [x, residual, g, w, b].forEach((t) => t.dispose()));
  });
});
