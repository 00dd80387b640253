// convBnStats = the prologue relu(x * scale + bias), conv2d, and per-channel Σ y and Σ y² of the
// output: forward against the composition of existing ops, gradients against that composition and
// against finite differences, argument errors, autocast; on a GPU, the fused cuDNN path against the
// CPU (float16 and bfloat16 tolerances) and its plan cache. GPU cases skip with the reason here.
import { beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { convBnStats, type ConvBnStatsOptions, type ConvBnStatsResult } from '../lib/ops/conv_bn_stats.js';
import { announceSkip, expectCuda, runCuda } from './helpers/cuda.js';
import { gradcheck } from './helpers/gradcheck.js';
import { relativeError } from './helpers/reference.js';

const arr = (t: rn.Tensor) => t.toArray() as Float32Array;

interface Case {
  name: string;
  x: number[];
  w: number[];
  options: rn.Conv2dOptions;
  scale: boolean;
  bias: boolean;
  relu: boolean;
}

const cases: Case[] = [
  { name: 'no prologue, 3x3 pad 1', x: [2, 3, 6, 6], w: [4, 3, 3, 3], options: { padding: 1 }, scale: false, bias: false, relu: false },
  { name: 'scale + bias + relu, 3x3 pad 1', x: [2, 4, 5, 5], w: [6, 4, 3, 3], options: { padding: 1 }, scale: true, bias: true, relu: true },
  { name: 'scale only, 1x1 stride 2', x: [3, 4, 7, 7], w: [5, 4, 1, 1], options: { stride: 2 }, scale: true, bias: false, relu: false },
  { name: 'bias + relu, 3x3 stride 2 pad [1, 0]', x: [2, 3, 7, 6], w: [4, 3, 3, 3], options: { stride: 2, padding: [1, 0] }, scale: false, bias: true, relu: true },
  { name: 'relu only, dilated 3x3', x: [1, 2, 8, 8], w: [3, 2, 3, 3], options: { padding: 2, dilation: 2 }, scale: false, bias: false, relu: true },
  { name: 'scale + bias + relu, grouped', x: [2, 4, 5, 5], w: [6, 2, 3, 3], options: { padding: 1, groups: 2 }, scale: true, bias: true, relu: true },
];
const formats: rn.MemoryFormat[] = ['contiguous', 'channelsLast'];

/** The same computation from the public ops, the reference. */
function composed(x: rn.Tensor, w: rn.Tensor, scale: rn.Tensor | null, bias: rn.Tensor | null, relu: boolean, options: rn.Conv2dOptions) {
  const c = x.shape[1]!;
  let z = x;
  if (scale) z = rn.mul(z, rn.reshape(scale, [1, c, 1, 1]));
  if (bias) z = rn.add(z, rn.reshape(bias, [1, c, 1, 1]));
  if (relu) z = rn.relu(z);
  const y = rn.conv2d(z, w, null, options);
  return { y, sum: rn.sum(y, [0, 2, 3]), sqSum: rn.sum(rn.mul(y, y), [0, 2, 3]) };
}

/** x, weight, scale, bias for a case; x's values keep the prologue at least 0.1 away from ReLU's kink. */
function inputs(k: Case, memoryFormat: rn.MemoryFormat, requiresGrad = false) {
  const c = k.x[1]!;
  const scale = k.scale ? rn.affine(rn.rand([c]), 1, 0.5) : null;
  const bias = k.bias ? rn.randn([c]) : null;
  const values = arr(rn.randn(k.x));
  const s = scale ? arr(scale) : new Float32Array(c).fill(1), b = bias ? arr(bias) : new Float32Array(c);
  const plane = k.x[2]! * k.x[3]!;
  values.forEach((v, i) => {
    const ch = Math.floor(i / plane) % c;
    const z = v * s[ch]! + b[ch]!;
    if (Math.abs(z) < 0.1) values[i] = ((z >= 0 ? 0.15 : -0.15) - b[ch]!) / s[ch]!;
  });
  const x = rn.tensor(values, k.x).to({ memoryFormat });
  const w = rn.randn(k.w);
  for (const t of [x, w, scale, bias]) if (t && requiresGrad) t.requiresGrad = true;
  return { x, w, scale, bias };
}

beforeAll(() => rn.manualSeed(31));

describe('convBnStats forward (CPU) equals the composition of existing ops', () => {
  for (const k of cases) for (const memoryFormat of formats) {
    it(`${k.name}, ${memoryFormat}`, () => {
      rn.scope(() => {
        const { x, w, scale, bias } = inputs(k, memoryFormat);
        const fused = convBnStats(x, w, { ...k.options, scale, bias, relu: k.relu });
        const reference = composed(x, w, scale, bias, k.relu, k.options);
        expect(fused.y.shape).toEqual(reference.y.shape);
        expect(fused.y.memoryFormat).toBe(memoryFormat);
        expect(fused.sum.shape).toEqual([k.w[0]]);
        expect(fused.sqSum.shape).toEqual([k.w[0]]);
        expect(fused.sum.dtype).toBe('float32');
        expect(relativeError(arr(fused.y), arr(reference.y))).toBeLessThan(1e-6);
        expect(relativeError(arr(fused.sum), arr(reference.sum))).toBeLessThan(1e-5);
        expect(relativeError(arr(fused.sqSum), arr(reference.sqSum))).toBeLessThan(1e-5);
        expect(arr(fused.sqSum).every((v) => v >= 0)).toBe(true);
      });
    });
  }

  it('records nothing without inputs that require grad, and frees everything', () => {
    const before = rn.memory().liveTensors;
    rn.scope(() => {
      const { x, w, scale, bias } = inputs(cases[1]!, 'channelsLast');
      const r = convBnStats(x, w, { padding: 1, scale, bias, relu: true });
      expect(r.y.requiresGrad || r.sum.requiresGrad || r.sqSum.requiresGrad).toBe(false);
    });
    expect(rn.memory().liveTensors).toBe(before);
  });
});

describe('convBnStats gradients (CPU)', () => {
  for (const k of cases) for (const memoryFormat of formats) {
    it(`${k.name}, ${memoryFormat}: dx, dweight, dscale, dbias equal the composition's`, () => {
      rn.scope(() => {
        const { x, w, scale, bias } = inputs(k, memoryFormat, true);
        const leaves = [x, w, scale, bias].filter((t): t is rn.Tensor => t !== null);
        const fused = convBnStats(x, w, { ...k.options, scale, bias, relu: k.relu });
        const upstream = { y: rn.randn([...fused.y.shape]), sum: rn.randn([k.w[0]!]), sqSum: rn.randn([k.w[0]!]) };
        const loss = (r: ConvBnStatsResult) =>
          rn.add(rn.add(rn.sum(rn.mul(r.y, upstream.y)), rn.sum(rn.mul(r.sum, upstream.sum))), rn.sum(rn.mul(r.sqSum, upstream.sqSum)));
        loss(fused).backward();
        expect(x.grad!.memoryFormat).toBe(memoryFormat);
        const ours = leaves.map((t) => Float32Array.from(arr(t.grad!)));
        for (const t of leaves) {
          t.grad!.dispose();
          t.grad = null;
        }
        loss(composed(x, w, scale, bias, k.relu, k.options)).backward();
        leaves.forEach((t, i) => {
          expect(t.grad!.shape).toEqual([...t.shape]);
          expect(relativeError(ours[i]!, arr(t.grad!)), `gradient of input ${i}`).toBeLessThan(1e-5);
        });
      });
    });
  }

  const small: Case = { name: 'small', x: [2, 2, 4, 4], w: [3, 2, 3, 3], options: { padding: 1, stride: 2 }, scale: true, bias: true, relu: true };
  const outputs = { y: (r: ConvBnStatsResult) => r.y, sum: (r: ConvBnStatsResult) => r.sum, sqSum: (r: ConvBnStatsResult) => r.sqSum };
  for (const [name, pick] of Object.entries(outputs)) {
    it(`${name}: x, weight, scale and bias against finite differences`, () => {
      rn.scope(() => {
        const { x, w, scale, bias } = inputs(small, 'contiguous', true);
        gradcheck((xi, wi, si, bi) => pick(convBnStats(xi!, wi!, { ...small.options, scale: si!, bias: bi!, relu: true })),
          [x, w, scale!, bias!], { eps: 1e-2, tolerance: 2e-2 });
      });
    });
  }
  it('y, sum and sqSum together, without a prologue, against finite differences', () => {
    rn.scope(() => {
      const k = { ...small, scale: false, bias: false, relu: false };
      const { x, w } = inputs(k, 'channelsLast', true);
      gradcheck((xi, wi) => {
        const r = convBnStats(xi!, wi!, k.options);
        return rn.concat([rn.flatten(r.y, 0), r.sum, r.sqSum], 0);
      }, [x, w], { eps: 1e-2, tolerance: 2e-2 });
    });
  });
});

describe('convBnStats under autocast (CPU emulation)', () => {
  it('rounds x, weight and y to bfloat16 and gives float32 results close to float32', () => {
    rn.scope(() => {
      const k = cases[1]!;
      const { x, w, scale, bias } = inputs(k, 'channelsLast', true);
      const options = { ...k.options, scale, bias, relu: true };
      const exact = rn.noGrad(() => convBnStats(x, w, options));
      const low = rn.autocast({ dtype: 'bfloat16' }, () => convBnStats(x, w, options));
      expect(low.y.dtype).toBe('float32');
      expect(low.sum.dtype).toBe('float32');
      expect(relativeError(arr(low.y), arr(exact.y))).toBeLessThan(2e-2);
      expect(relativeError(arr(low.sqSum), arr(exact.sqSum))).toBeLessThan(2e-2);
      rn.sum(low.sqSum).backward();
      for (const t of [x, w, scale!, bias!]) expect(t.grad?.dtype).toBe('float32');
    });
  });
});

describe('convBnStats argument errors name the argument', () => {
  const x = rn.keep(rn.randn([2, 4, 5, 5])), w = rn.keep(rn.randn([6, 4, 3, 3]));
  const errorCases: [string, () => unknown, RegExp][] = [
    ['x not a tensor', () => convBnStats([1, 2] as unknown as rn.Tensor, w), /convBnStats: input must be a Tensor, got an array/],
    ['float16 x', () => convBnStats(x.to({ dtype: 'float16' }), w), /convBnStats: input must be float32, got float16/],
    ['3-D weight', () => convBnStats(x, rn.randn([6, 4, 3])), /convBnStats: weight must be 4-D/],
    ['weight channels', () => convBnStats(x, rn.randn([6, 3, 3, 3])), /convBnStats: weight \[6,3,3,3\] expects 3 input channels/],
    ['scale shape', () => convBnStats(x, w, { scale: rn.ones([6]) }), /convBnStats: scale must have shape \[4\], got \[6\]/],
    ['bias dtype', () => convBnStats(x, w, { bias: rn.zeros([4], { dtype: 'bfloat16' }) }), /convBnStats: bias must be float32, got bfloat16/],
    ['scale not a tensor', () => convBnStats(x, w, { scale: 2 as unknown as rn.Tensor }), /convBnStats: scale must be a Tensor, got number/],
    ['relu not a boolean', () => convBnStats(x, w, { relu: 1 as unknown as boolean }), /convBnStats: relu must be a boolean, got 1/],
    ['unknown option', () => convBnStats(x, w, { eps: 1e-5 } as ConvBnStatsOptions), /convBnStats: unknown option 'eps'/],
    ['negative padding', () => convBnStats(x, w, { padding: -1 }), /convBnStats: padding must be at least 0, got -1/],
    ['empty output', () => convBnStats(x, rn.randn([6, 4, 7, 7])), /convBnStats: input \[2,4,5,5\] with kernel 7x7, .* gives an empty output/],
  ];
  for (const [name, call, message] of errorCases) {
    it(name, () => {
      expect(call).toThrow(message);
    });
  }
  it('bad arguments are TypeError or RangeError', () => {
    expect(() => convBnStats(x, w, { scale: rn.ones([6]) })).toThrow(RangeError);
    expect(() => convBnStats(x, w, { relu: 'yes' as unknown as boolean })).toThrow(TypeError);
  });
});

announceSkip('convBnStats GPU tests');

describe.skipIf(!runCuda)('convBnStats on the GPU', () => {
  const device = rn.backends().cuda.devices[0];
  // cuDNN documents the fused pattern for float16 on compute capability 8.0 and newer except 8.9.
  const documented = device !== undefined && Number(device.computeCapability.split('.')[0]) >= 8 && device.computeCapability !== '8.9';
  beforeAll(() => {
    expectCuda();
    rn.cuda.setAllowTf32(false);
  });

  /** The op on the GPU (channelsLast, under autocast to `dtype` when given) against float32 on the CPU. */
  function compare(k: Case, dtype: 'float16' | 'bfloat16' | null, tolerance: number, memoryFormat: rn.MemoryFormat = 'channelsLast') {
    rn.scope(() => {
      const cpu = inputs(k, memoryFormat, true);
      const gpu = rn.noGrad(() => ({
        x: cpu.x.to('cuda'), w: cpu.w.to('cuda'), scale: cpu.scale?.to('cuda') ?? null, bias: cpu.bias?.to('cuda') ?? null,
      }));
      for (const t of Object.values(gpu)) if (t) t.requiresGrad = true;
      const run = (t: typeof gpu) => convBnStats(t.x, t.w, { ...k.options, scale: t.scale, bias: t.bias, relu: k.relu });
      const expected = run(cpu);
      const got = dtype ? rn.autocast({ dtype }, () => run(gpu)) : run(gpu);
      expect(got.y.device).toBe('cuda');
      expect(got.y.dtype).toBe('float32');
      expect(got.y.memoryFormat).toBe(memoryFormat);
      for (const key of ['y', 'sum', 'sqSum'] as const) {
        const e = relativeError(arr(got[key]), arr(expected[key]));
        expect(e, `${k.name}: ${key} differs by ${e.toExponential(2)} (relative)`).toBeLessThan(tolerance);
      }
      const upstream = rn.randn([k.w[0]!]);
      const loss = (r: ConvBnStatsResult, u: rn.Tensor) => rn.add(rn.sum(rn.mul(r.sum, u)), rn.sum(rn.mul(r.sqSum, rn.affine(u, 0.01, 0))));
      loss(expected, upstream).backward();
      loss(got, upstream.to('cuda')).backward();
      for (const key of ['x', 'w', 'scale', 'bias'] as const) {
        const g = gpu[key]?.grad, c = cpu[key]?.grad;
        if (!c) continue;
        const e = relativeError(arr(g!), arr(c));
        expect(e, `${k.name}: d${key} differs by ${e.toExponential(2)} (relative)`).toBeLessThan(5 * tolerance);
      }
    });
  }

  const full: Case = { name: 'scale + bias + relu, 3x3 pad 1', x: [4, 32, 8, 8], w: [64, 32, 3, 3], options: { padding: 1 }, scale: true, bias: true, relu: true };
  const plain: Case = { name: 'no prologue, 1x1 stride 2', x: [4, 64, 8, 8], w: [32, 64, 1, 1], options: { stride: 2 }, scale: false, bias: false, relu: false };

  for (const k of [full, plain]) {
    it(`float16, ${k.name}: the fused plan runs and agrees with the CPU`, () => {
      const before = rn.cuda.fusedConvPlans();
      compare(k, 'float16', 1e-2);
      const after = rn.cuda.fusedConvPlans();
      if (documented) expect(after.plans, `no fused plan was built: ${after.lastReason}`).toBeGreaterThan(before.plans);
      else console.log(`convBnStats: compute capability ${device?.computeCapability}: fused plans ${after.plans}, ${after.lastReason}`);
      // Which dtype the prologue's intermediates took (float32 is tried first): printed for the run's record.
      if (after.plans > 0) expect(after.intermediates).toMatch(/^(float32|float16|bfloat16)( and (float32|float16|bfloat16))*$/);
      console.log(`convBnStats ${k.name}: plans ${after.plans}, intermediates '${after.intermediates}'`);
    });
  }

  it('bfloat16 (fused where an engine takes it, composed otherwise) agrees with the CPU to bfloat16 precision', () => {
    compare(full, 'bfloat16', 3e-2);
  });

  it('a second call of one configuration reuses its cached plan', () => {
    compare(full, 'float16', 1e-2);
    const before = rn.cuda.fusedConvPlans();
    compare(full, 'float16', 1e-2);
    const after = rn.cuda.fusedConvPlans();
    expect(after.plans).toBe(before.plans);
    expect(after.unsupported).toBe(before.unsupported);
    if (documented) expect(after.hits).toBe(before.hits + 1);
  });

  it('float32 and contiguous inputs take the composition, with float32 precision, caching nothing', () => {
    const before = rn.cuda.fusedConvPlans();
    compare(full, null, 1e-4);
    compare(full, 'float16', 1e-2, 'contiguous');
    const after = rn.cuda.fusedConvPlans();
    expect([after.plans, after.unsupported, after.hits]).toEqual([before.plans, before.unsupported, before.hits]);
  });
});
