// The built-in GEMM (AVX-512, AVX2/FMA and portable kernels) against OpenBLAS's sgemm and against a
// float64 reference, through every transpose combination that matmul, linear and their
// gradients use.
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { relativeError } from './helpers/reference.js';
import { runNode } from './helpers/run_node.js';

const openblas = rn.backends().cpu.openblas;
const initial = rn.backends().cpu.gemm;
afterAll(() => rn.setGemmBackend(initial));

// The product in float64 and, per element, the forward-error bound of any float32 summation order
// (FMA or not, blocked or not): |c_float - c| <= gamma_k * sum_p |a_ip| |b_pj|, gamma_k = k u / (1 - k u),
// u = 2^-24. A dropped or doubled term, a wrong edge tile or a stale panel is far outside it; a
// relative-error threshold on few outputs is not, since outputs that nearly cancel can exceed it.
interface Reference { c: Float64Array; bound: Float64Array }
function reference(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Reference {
  const c = new Float64Array(m * n), bound = new Float64Array(m * n);
  const gamma = (k * 2 ** -24) / (1 - k * 2 ** -24);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) {
    const av = a[i * k + p]!;
    for (let j = 0; j < n; j++) {
      c[i * n + j]! += av * b[p * n + j]!;
      bound[i * n + j]! += Math.abs(av * b[p * n + j]!);
    }
  }
  for (let i = 0; i < bound.length; i++) bound[i]! *= gamma;
  return { c, bound };
}

// The largest |actual - c| / bound over the elements (<= 1 for a correct float32 product; `slack`
// widens the bound, e.g. 2 when comparing two float32 products with each other).
function expectWithinBound(actual: ArrayLike<number>, ref: Reference, slack = 1): void {
  expect(actual.length).toBe(ref.c.length);
  let worst = 0, at = -1;
  for (let i = 0; i < ref.c.length; i++) {
    const e = Math.abs(actual[i]! - ref.c[i]!), allowed = slack * ref.bound[i]!;
    const ratio = e === 0 ? 0 : allowed === 0 ? Infinity : e / allowed;
    if (ratio > worst) { worst = ratio; at = i; }
  }
  expect(worst, `element ${at}: ${actual[at]} vs ${ref.c[at]} (bound ${slack * (ref.bound[at] ?? 0)})`).toBeLessThanOrEqual(1);
}

// Edge tiles of every AVX-512 variant (rows left in the last 14-row panel: 1..4, 5..8, 9..13; columns
// in the last 32-wide panel: 1..16, 17..31): [3, 5, 7] 3x7, [17, 64, 9] 3x9, [22, 19, 45] 8x13,
// [60, 70, 50] 4x18, [257, 300, 129] 5x1, [96, 130, 33] 12x1, [512, 512, 512] 8x32.
const sizes: [number, number, number][] = [
  [1, 1, 1], [3, 5, 7], [17, 64, 9], [22, 19, 45], [60, 70, 50], [96, 130, 33], [257, 300, 129], [512, 512, 512],
];

describe('built-in GEMM', () => {
  for (const [m, k, n] of sizes) {
    it(`matmul (${m}x${k}) @ (${k}x${n}) matches a float64 reference`, () => {
      rn.setGemmBackend('builtin');
      rn.scope(() => {
        const a = rn.randn([m, k]);
        const b = rn.randn([k, n]);
        const c = rn.matmul(a, b).toArray() as Float32Array;
        expectWithinBound(c, reference(a.toArray() as Float32Array, b.toArray() as Float32Array, m, k, n));
      });
    });
  }

  it.each([[1, 7], [37, 3], [2055, 1000]])('linear at batch 1 (one row times W^T, K=%i, N=%i) matches a float64 reference', (k, n) => {
    rn.setGemmBackend('builtin');
    rn.scope(() => {
      const x = rn.randn([1, k]);
      const w = rn.randn([n, k]);
      const y = rn.linear(x, w).toArray() as Float32Array;
      const ws = w.toArray() as Float32Array, wT = new Float32Array(k * n);
      for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) wT[p * n + j] = ws[j * k + p]!;
      expectWithinBound(y, reference(x.toArray() as Float32Array, wT, 1, k, n));
    });
  });

  it('gradients through linear use the transposed forms and agree with the reference', () => {
    rn.setGemmBackend('builtin');
    rn.scope(() => {
      const x = rn.randn([37, 53], { requiresGrad: true });
      const w = rn.randn([29, 53], { requiresGrad: true });
      const g = rn.randn([37, 29]);
      rn.linear(x, w).backward(g);
      const xs = x.toArray() as Float32Array, ws = w.toArray() as Float32Array, gs = g.toArray() as Float32Array;
      // dx = g (37x29) @ w (29x53); dw = g^T (29x37) @ x (37x53)
      const gT = new Float32Array(29 * 37);
      for (let i = 0; i < 37; i++) for (let j = 0; j < 29; j++) gT[j * 37 + i] = gs[i * 29 + j]!;
      expectWithinBound(x.grad!.toArray() as Float32Array, reference(gs, ws, 37, 29, 53));
      expectWithinBound(w.grad!.toArray() as Float32Array, reference(gT, xs, 29, 37, 53));
    });
  });
});

describe.skipIf(!openblas.available)('built-in GEMM vs OpenBLAS', () => {
  it.each(sizes)('agree on m=%i k=%i n=%i', (m, k, n) => {
    rn.scope(() => {
      const a = rn.randn([m, k]);
      const b = rn.randn([k, n]);
      rn.setGemmBackend('openblas');
      expect(rn.backends().cpu.gemm).toBe('openblas');
      const viaOpenBlas = rn.matmul(a, b).toArray() as Float32Array;
      rn.setGemmBackend('builtin');
      const viaBuiltin = rn.matmul(a, b).toArray() as Float32Array;
      // Each is within the bound of the exact product, so they are within twice it of each other.
      const exact = reference(a.toArray() as Float32Array, b.toArray() as Float32Array, m, k, n);
      expectWithinBound(viaBuiltin, { c: Float64Array.from(viaOpenBlas), bound: exact.bound }, 2);
    });
  });
});

describe('GEMM selection in a fresh process', () => {
  const child = fileURLToPath(new URL('./helpers/gemm_child.ts', import.meta.url));
  const run = async (env: Record<string, string>) => {
    const r = await runNode([child], { env: { ...process.env, ...env } });
    if (r.status !== 0) throw new Error(`gemm_child failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as { backend: rn.Backends['cpu']; results: number[][] };
  };

  it('each ISA forced in a fresh process (CUDNN_RESNET_CPU_ISA) gives the portable kernel\'s results', async () => {
    const portable = await run({ CUDNN_RESNET_GEMM: 'builtin', CUDNN_RESNET_CPU_ISA: 'portable' });
    expect(portable.backend.gemm).toBe('builtin');
    expect(portable.backend.gemmIsa).toBe('portable');
    for (const isa of rn.backends().cpu.isasAvailable.filter((i) => i !== 'portable')) {
      const other = await run({ CUDNN_RESNET_GEMM: 'builtin', CUDNN_RESNET_CPU_ISA: isa });
      expect(other.backend.isa).toBe(isa);
      portable.results.forEach((r, i) => expect(relativeError(other.results[i]!, r)).toBeLessThan(1e-6));
    }
  });

  it('the built-in GEMM is the default; CUDNN_RESNET_GEMM picks the initial backend', async () => {
    const { CUDNN_RESNET_GEMM: _unset, ...withoutChoice } = process.env;
    expect((await runNode([child], { env: withoutChoice })).stdout).toMatch(/"gemm":"builtin"/);
    expect((await run({ CUDNN_RESNET_GEMM: 'builtin' })).backend.gemm).toBe('builtin');
    const chosen = (await run({ CUDNN_RESNET_GEMM: 'openblas' })).backend;
    expect(chosen.gemm).toBe(openblas.available ? 'openblas' : 'builtin');
  });

  it.skipIf(openblas.available)('selecting OpenBLAS when it is missing is an error', () => {
    expect(() => rn.setGemmBackend('openblas')).toThrow(TypeError);
  });
});
