// The CPU kernels' run-time instruction-set choice: what rn.backends().cpu reports, the
// CUDNN_RESNET_CPU_ISA switch in a fresh process, and every ISA this machine runs against the
// portable kernels (the oracle) on the ops whose kernels the ISA changes: GEMM (matmul, linear),
// convolution by im2col + GEMM and by Winograd, forward and both gradients, convBiasAct, and a
// small ResNet's forward and backward. The op test files also run whole under each ISA (the
// isa-* projects of vitest.config.ts).
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { relativeError } from './helpers/reference.js';
import { runNode } from './helpers/run_node.js';

const cpu = rn.backends().cpu;
const initialIsa = cpu.isa;
afterAll(() => rn.setCpuIsa(initialIsa));

const arr = (t: rn.Tensor) => Array.from(t.toArray() as Float32Array);

describe('CPU instruction set report', () => {
  it('names the ISA in force among those available, and what the CPU has', () => {
    expect(cpu.isasAvailable[0]).toBe('portable');
    expect(cpu.isasAvailable).toContain(cpu.isa);
    const has = (f: string) => cpu.features.includes(f);
    expect(cpu.isasAvailable.includes('avx2')).toBe(has('avx2') && has('fma'));
    expect(cpu.isasAvailable.includes('avx512')).toBe(['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every(has));
    expect(cpu.gemmIsa).toBe({ portable: 'portable', avx2: 'avx2-fma', avx512: 'avx512' }[cpu.isa]);
  });

  it('setCpuIsa switches every kernel and checks its argument', () => {
    for (const isa of cpu.isasAvailable) {
      rn.setCpuIsa(isa);
      expect(rn.backends().cpu.isa).toBe(isa);
    }
    rn.setCpuIsa(initialIsa);
    expect(() => rn.setCpuIsa('sse4' as rn.CpuIsa)).toThrow(TypeError);
    for (const isa of (['avx2', 'avx512'] as const).filter((i) => !cpu.isasAvailable.includes(i)))
      expect(() => rn.setCpuIsa(isa)).toThrow(/cannot run on this CPU: it lacks/);
  });
});

describe('CUDNN_RESNET_CPU_ISA in a fresh process', () => {
  const child = fileURLToPath(new URL('./helpers/gemm_child.ts', import.meta.url));
  const { CUDNN_RESNET_CPU_ISA: _isa, CUDNN_RESNET_GEMM_ISA: _gemmIsa, ...base } = process.env;
  const run = (env: Record<string, string>) => runNode([child], { env: { ...base, CUDNN_RESNET_GEMM: 'builtin', ...env } });

  it('forces each available ISA', async () => {
    for (const isa of cpu.isasAvailable) {
      const r = await run({ CUDNN_RESNET_CPU_ISA: isa });
      expect(r.status, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { backend: rn.Backends['cpu'] }).backend.isa).toBe(isa);
    }
  });

  it('an unknown name, or an ISA the CPU lacks, stops the load with a TypeError that says so', async () => {
    const bad = await run({ CUDNN_RESNET_CPU_ISA: 'sse4' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/TypeError: CUDNN_RESNET_CPU_ISA=sse4: it expects 'portable', 'avx2' or 'avx512'/);
    for (const isa of (['avx2', 'avx512'] as const).filter((i) => !cpu.isasAvailable.includes(i))) {
      const r = await run({ CUDNN_RESNET_CPU_ISA: isa });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/cannot run on this CPU: it lacks/);
    }
  });

  it('the older CUDNN_RESNET_GEMM_ISA=portable still means portable', async () => {
    const r = await run({ CUDNN_RESNET_GEMM_ISA: 'portable' });
    expect((JSON.parse(r.stdout) as { backend: rn.Backends['cpu'] }).backend.isa).toBe('portable');
  });
});

// Every output of fn under one ISA, with the inputs made once (fixed seed) outside it.
function under(isa: rn.CpuIsa, fn: () => rn.Tensor[]): number[][] {
  rn.setCpuIsa(isa);
  try {
    return rn.scope(() => fn().map(arr));
  } finally {
    rn.setCpuIsa(initialIsa);
  }
}

interface ConvCase { name: string; x: number[]; w: number[]; stride?: number; padding?: number; groups?: number; dilation?: number }
const convCases: ConvCase[] = [
  { name: '3x3 pad 1 (Winograd where the ISA has it)', x: [4, 16, 20, 20], w: [24, 16, 3, 3], padding: 1 },
  { name: '3x3 stride 2', x: [2, 8, 17, 15], w: [12, 8, 3, 3], stride: 2, padding: 1 },
  { name: '1x1 pointwise, widths off the tile sizes', x: [3, 37, 9, 7], w: [45, 37, 1, 1] },
  { name: '7x7 stride 2 pad 3', x: [1, 3, 33, 33], w: [16, 3, 7, 7], stride: 2, padding: 3 },
  { name: 'grouped dilated', x: [2, 12, 11, 11], w: [18, 4, 3, 3], groups: 3, dilation: 2, padding: 2 },
];

const otherIsas = cpu.isasAvailable.filter((i) => i !== 'portable');

describe.skipIf(otherIsas.length === 0)('each ISA against the portable kernels', () => {
  const tolerance = 2e-6;
  const compare = (fn: () => rn.Tensor[]) => {
    const oracle = under('portable', fn);
    for (const isa of otherIsas) {
      const got = under(isa, fn);
      got.forEach((g, i) => expect(relativeError(g, oracle[i]!), `${isa} output ${i}`).toBeLessThan(tolerance));
    }
  };

  it.each([[1, 1, 1], [13, 29, 31], [64, 100, 33], [200, 300, 129]])('matmul m=%i k=%i n=%i and its gradients', (m, k, n) => {
    rn.manualSeed(m + k + n);
    const a = rn.randn([m, k]), b = rn.randn([k, n]), g = rn.randn([m, n]);
    compare(() => {
      const aa = a.detach(), bb = b.detach();
      aa.requiresGrad = bb.requiresGrad = true;
      rn.matmul(aa, bb).backward(g);
      return [rn.matmul(a, b), aa.grad!, bb.grad!];
    });
    rn.scope(() => [a, b, g].forEach((t) => t.dispose()));
  });

  it.each([[1, 2055, 1000], [1, 5, 3]])('linear at batch 1 (m=%i k=%i n=%i): the dot-product path', (m, k, n) => {
    rn.manualSeed(k);
    const x = rn.randn([m, k]), w = rn.randn([n, k]), b = rn.randn([n]);
    compare(() => [rn.linear(x, w, b)]);
    [x, w, b].forEach((t) => t.dispose());
  });

  for (const c of convCases) {
    it(`conv2d ${c.name}: y, dx, dw, db`, () => {
      rn.manualSeed(7);
      const x = rn.randn(c.x), w = rn.randn(c.w), b = rn.randn([c.w[0]!]);
      const opts = { stride: c.stride ?? 1, padding: c.padding ?? 0, groups: c.groups ?? 1, dilation: c.dilation ?? 1 };
      const y0 = rn.noGrad(() => rn.conv2d(x, w, b, opts));
      const g = rn.randn(y0.shape);
      compare(() => {
        const xs = x.detach(), ws = w.detach(), bs = b.detach();
        xs.requiresGrad = ws.requiresGrad = bs.requiresGrad = true;
        const y = rn.conv2d(xs, ws, bs, opts);
        y.backward(g);
        const fused = rn.noGrad(() => rn.convBiasAct(x, w, b, g, { ...opts, relu: true }));
        return [y, xs.grad!, ws.grad!, bs.grad!, fused];
      });
      [x, w, b, y0, g].forEach((t) => t.dispose());
    });
  }

  it('a CIFAR ResNet-8: forward in eval mode, and a training step\'s loss and gradients', () => {
    rn.manualSeed(11);
    const model = rn.models.cifarResNet({ depth: 8, numClasses: 10 });
    const x = rn.randn([4, 3, 32, 32]);
    const labels = rn.tensor([1, 3, 5, 7], [4], { dtype: 'int64' });
    // Eval first: the training passes update the running statistics (the same way under every ISA).
    model.eval();
    compare(() => [rn.noGrad(() => model.forward(x))]);
    model.train();
    compare(() => {
      for (const p of model.parameters()) p.grad = null;
      const loss = rn.crossEntropy(model.forward(x), labels);
      loss.backward();
      return [loss, ...model.parameters().map((p) => p.grad!)];
    });
  });
});
