// convBiasAct, the fused inference convolution act(conv(x, w) + bias + z): on the CPU against the
// composition of the existing ops (conv2d with the bias, add, relu) on both convolution paths
// (im2col + GEMM, Winograd) and both memory formats; its argument errors; its autograd fallback;
// folded ResNets that run it (counted on the binding) and give the unfolded model's logits; and
// on the GPU (cuDNN's fused call or its fallback) against the CPU, skipped with the reason here.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as rn from '../lib/index.js';
import { native } from '../lib/binding.js';
import { announceSkip, compareOnDevices, expectCuda, param, runCuda } from './helpers/cuda.js';
import { relativeError } from './helpers/reference.js';
import { randomiseBatchNorms } from './helpers/batch_norms.js';

const savedConvPath = process.env.CUDNN_RESNET_CONV;
beforeAll(() => rn.manualSeed(1234));
afterAll(() => {
  if (savedConvPath === undefined) delete process.env.CUDNN_RESNET_CONV;
  else process.env.CUDNN_RESNET_CONV = savedConvPath;
});
afterEach(() => vi.restoreAllMocks());

const arr = (t: rn.Tensor) => t.toArray() as Float32Array;

/** act(conv2d(x, w, b) + z) from the existing ops. */
function composed(x: rn.Tensor, w: rn.Tensor, b: rn.Tensor | null, z: rn.Tensor | null, options: rn.ConvBiasActOptions): rn.Tensor {
  const { relu, ...convOptions } = options;
  let out = rn.conv2d(x, w, b, convOptions);
  if (z) out = rn.add(out, z);
  return relu ? rn.relu(out) : out;
}

interface Case {
  name: string;
  x: number[];
  w: number[];
  options: rn.ConvBiasActOptions;
  bias?: boolean;
  z?: boolean;
  format?: rn.MemoryFormat;
  zFormat?: rn.MemoryFormat;
}

const cases: Case[] = [
  { name: 'bias only', x: [2, 8, 10, 10], w: [16, 8, 3, 3], options: { padding: 1 }, bias: true },
  { name: 'bias + z', x: [2, 8, 10, 10], w: [16, 8, 3, 3], options: { padding: 1 }, bias: true, z: true },
  { name: 'bias + ReLU', x: [2, 8, 10, 10], w: [16, 8, 3, 3], options: { padding: 1, relu: true }, bias: true },
  { name: 'bias + z + ReLU', x: [2, 8, 10, 10], w: [16, 8, 3, 3], options: { padding: 1, relu: true }, bias: true, z: true },
  { name: 'z + ReLU without bias', x: [2, 8, 9, 9], w: [12, 8, 3, 3], options: { padding: 1, relu: true }, z: true },
  { name: 'batch 1 (threads share the GEMM)', x: [1, 16, 14, 14], w: [32, 16, 3, 3], options: { padding: 1, relu: true }, bias: true, z: true },
  { name: 'stride 2', x: [3, 8, 11, 9], w: [12, 8, 3, 3], options: { stride: 2, padding: 1, relu: true }, bias: true, z: true },
  { name: '1x1 (the image is its own column matrix)', x: [2, 16, 8, 8], w: [24, 16, 1, 1], options: { relu: true }, bias: true, z: true },
  { name: '1x1 stride 2 projection', x: [2, 16, 8, 8], w: [32, 16, 1, 1], options: { stride: 2 }, bias: true },
  { name: '7x7 stride 2 stem', x: [1, 3, 32, 32], w: [16, 3, 7, 7], options: { stride: 2, padding: 3, relu: true }, bias: true },
  { name: 'groups 4', x: [2, 8, 9, 9], w: [8, 2, 3, 3], options: { padding: 1, groups: 4, relu: true }, bias: true, z: true },
  { name: 'dilation 2, rectangular', x: [2, 4, 12, 10], w: [6, 4, 3, 3], options: { padding: [2, 1], dilation: [2, 1], relu: true }, bias: true, z: true },
  { name: 'channelsLast', x: [2, 8, 10, 10], w: [16, 8, 3, 3], options: { padding: 1, relu: true }, bias: true, z: true, format: 'channelsLast', zFormat: 'channelsLast' },
  { name: 'channelsLast x, contiguous z', x: [2, 8, 10, 10], w: [16, 8, 3, 3], options: { padding: 1, relu: true }, bias: true, z: true, format: 'channelsLast' },
  { name: 'contiguous x, channelsLast z', x: [2, 16, 8, 8], w: [8, 16, 1, 1], options: { relu: true }, bias: true, z: true, zFormat: 'channelsLast' },
];

/** The inputs of a case: x, weight, bias or null, z or null. */
function inputs(c: Case): { x: rn.Tensor; w: rn.Tensor; b: rn.Tensor | null; z: rn.Tensor | null } {
  const x = rn.randn(c.x, { memoryFormat: c.format ?? 'contiguous' });
  const w = rn.randn(c.w);
  const b = c.bias ? rn.randn([c.w[0]!]) : null;
  const outShape = rn.noGrad(() => rn.convBiasAct(x, w, null, null, c.options)).shape;
  const z = c.z ? rn.randn([...outShape], { memoryFormat: c.zFormat ?? 'contiguous' }) : null;
  return { x, w, b, z };
}

describe('convBiasAct on the CPU equals conv2d + add + relu', () => {
  for (const path of ['im2col', 'winograd'] as const) {
    for (const c of cases) {
      it(`${c.name} (${path})`, () => {
        process.env.CUDNN_RESNET_CONV = path;
        rn.scope(() => {
          const { x, w, b, z } = inputs(c);
          const fused = rn.noGrad(() => rn.convBiasAct(x, w, b, z, c.options));
          const reference = rn.noGrad(() => composed(x, w, b, z, c.options));
          expect(fused.shape).toEqual(reference.shape);
          expect(fused.memoryFormat).toBe(x.memoryFormat);
          expect(relativeError(arr(fused), arr(reference))).toBeLessThan(1e-5);
          if (c.options.relu) expect(arr(fused).every((v) => v >= 0)).toBe(true);
        });
      });
    }
  }

  it.skipIf(!rn.backends().cpu.openblas.available)('with the OpenBLAS GEMM (the epilogue in one pass after it)', () => {
    process.env.CUDNN_RESNET_CONV = 'im2col';
    rn.setGemmBackend('openblas');
    try {
      for (const c of cases) {
        rn.scope(() => {
          const { x, w, b, z } = inputs(c);
          const fused = rn.noGrad(() => rn.convBiasAct(x, w, b, z, c.options));
          const reference = rn.noGrad(() => composed(x, w, b, z, c.options));
          expect(relativeError(arr(fused), arr(reference)), c.name).toBeLessThan(1e-5);
        });
      }
    } finally {
      rn.setGemmBackend('builtin');
    }
  });

  it('keeps NaN through the ReLU, as relu does', () => {
    delete process.env.CUDNN_RESNET_CONV;
    rn.scope(() => {
      const x = rn.randn([1, 2, 4, 4]), w = rn.randn([3, 2, 1, 1]);
      const zValues = new Float32Array(3 * 16).fill(-1e6);
      zValues[5] = Number.NaN;
      const z = rn.tensor(zValues, [1, 3, 4, 4]);
      const fused = arr(rn.noGrad(() => rn.convBiasAct(x, w, null, z, { relu: true })));
      expect(Number.isNaN(fused[5]!)).toBe(true);
      expect(fused.filter((v) => v === 0).length).toBe(3 * 16 - 1);
    });
  });
});

describe('convBiasAct arguments', () => {
  const x = rn.keep(rn.randn([2, 4, 6, 6])), w = rn.keep(rn.randn([8, 4, 3, 3])), b = rn.keep(rn.randn([8]));
  const z = rn.keep(rn.randn([2, 8, 6, 6]));

  it('names the argument that is wrong', () => {
    expect(() => rn.convBiasAct(x, w, b, rn.randn([2, 8, 4, 4]), { padding: 1 }))
      .toThrow(/convBiasAct: z must have shape \[2,8,6,6\], got \[2,8,4,4\]/);
    expect(() => rn.convBiasAct(x, w, b, rn.randn([2, 8, 6, 6]).to({ dtype: 'float16' }), { padding: 1 }))
      .toThrow(/convBiasAct: z must be float32, got float16/);
    expect(() => rn.convBiasAct(x, w, rn.randn([7]), z, { padding: 1 })).toThrow(/convBiasAct: bias must have shape \[8\]/);
    expect(() => rn.convBiasAct(x, rn.randn([8, 3, 3, 3]), b, z, { padding: 1 })).toThrow(RangeError);
    expect(() => rn.convBiasAct(x, w, b, z, { padding: 1, relu: 1 as unknown as boolean }))
      .toThrow(/convBiasAct: relu must be a boolean/);
    expect(() => rn.convBiasAct(x, w, b, z, { padding: 1, act: 'relu' } as rn.ConvBiasActOptions))
      .toThrow(/convBiasAct: unknown option 'act'/);
    expect(() => rn.convBiasAct(x, w, b, [1, 2] as unknown as rn.Tensor, { padding: 1 })).toThrow(/convBiasAct: z must be a Tensor/);
    const gone = rn.randn([2, 8, 6, 6]);
    gone.dispose();
    expect(() => rn.convBiasAct(x, w, b, gone, { padding: 1 })).toThrow(/convBiasAct: z .* was disposed/);
  });

  it('is checked in the native layer too', () => {
    const wrongZ = rn.randn([2, 8, 5, 6]);
    expect(() => native.convBiasAct(x.handle, w.handle, b.handle, wrongZ.handle, true, { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 }))
      .toThrow(/convBiasAct: z must have shape/);
  });

  it('falls back to conv2d, add and relu when autograd needs a gradient, with the same values and gradients', () => {
    const spy = vi.spyOn(native, 'convBiasAct');
    rn.scope(() => {
      const xs = x.detach(), ws = w.detach(), bs = b.detach(), zs = z.detach();
      for (const t of [xs, ws, bs, zs]) t.requiresGrad = true;
      const out = rn.convBiasAct(xs, ws, bs, zs, { padding: 1, relu: true });
      expect(spy).not.toHaveBeenCalled();
      expect(out.requiresGrad).toBe(true);
      rn.sum(out).backward();
      const grads = [xs, ws, bs, zs].map((t) => arr(t.grad!));
      const xr = x.detach(), wr = w.detach(), br = b.detach(), zr = z.detach();
      for (const t of [xr, wr, br, zr]) t.requiresGrad = true;
      const reference = composed(xr, wr, br, zr, { padding: 1, relu: true });
      expect(relativeError(arr(out), arr(reference))).toBeLessThan(1e-6);
      rn.sum(reference).backward();
      [xr, wr, br, zr].forEach((t, i) => expect(relativeError(grads[i]!, arr(t.grad!))).toBeLessThan(1e-6));
      // Under rn.noGrad the same call runs the fused op.
      const inference = rn.noGrad(() => rn.convBiasAct(xs, ws, bs, zs, { padding: 1, relu: true }));
      expect(spy).toHaveBeenCalledTimes(1);
      expect(relativeError(arr(inference), arr(reference))).toBeLessThan(1e-5);
    });
  });
});

const COUNTED = ['convBiasAct', 'conv2d', 'relu', 'binary', 'batchNorm2d', 'bnRelu', 'bnAddRelu'] as const;
type Counts = Record<(typeof COUNTED)[number], number>;

/** Runs fn with calls of the binding's convolution, BN, ReLU and add entries counted. */
function counted<T>(fn: () => T): { result: T; calls: Counts } {
  const spies = COUNTED.map((name) => vi.spyOn(native, name));
  try {
    const result = fn();
    return { result, calls: Object.fromEntries(COUNTED.map((name, i) => [name, spies[i]!.mock.calls.length])) as Counts };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

describe('folded models run convBiasAct in eval mode', () => {
  // [name, model, input shape, conv-BN-ReLU (+ add) sequences, projection shortcuts (conv + BN, no ReLU)]
  const models: [string, () => rn.nn.Module, number[], number, number][] = [
    ['ResNet-18', () => rn.models.resnet18({ numClasses: 10 }), [1, 3, 64, 64], 1 + 8 * 2, 3],
    ['ResNet-50', () => rn.models.resnet50({ numClasses: 10 }), [1, 3, 64, 64], 1 + 16 * 3, 4],
    ['CIFAR ResNet-20 (option A)', () => rn.models.cifarResNet({ depth: 20 }), [2, 3, 32, 32], 1 + 9 * 2, 0],
    ['CIFAR ResNet-20 (option B)', () => rn.models.cifarResNet({ depth: 20, shortcut: 'B' }), [2, 3, 32, 32], 1 + 9 * 2, 2],
    ['plain-20', () => rn.models.cifarResNet({ depth: 20, plain: true }), [2, 3, 32, 32], 1 + 9 * 2, 0],
  ];
  for (const [name, make, shape, fusedCalls, projections] of models) {
    it(`${name}: the unfolded model's logits, with every conv-BN(-add)-ReLU as one call`, () => {
      delete process.env.CUDNN_RESNET_CONV;
      rn.manualSeed(5);
      const model = make();
      randomiseBatchNorms(model);
      const x = rn.keep(rn.randn(shape));
      const before = counted(() => rn.noGrad(() => model.eval().forward(x)));
      expect(before.calls.convBiasAct).toBe(0);  // not folded: the ops of before
      expect(before.calls.conv2d).toBe(fusedCalls + projections);
      rn.nn.fuseForInference(model);
      const after = counted(() => rn.noGrad(() => model.forward(x)));
      expect(after.calls).toEqual({
        convBiasAct: fusedCalls, conv2d: projections, relu: 0, binary: before.calls.binary, batchNorm2d: 0, bnRelu: 0, bnAddRelu: 0,
      });
      expect(relativeError(arr(after.result), arr(before.result))).toBeLessThan(1e-5);
      // With autograd on (the parameters require grad), the same logits from the unfused ops.
      const recorded = counted(() => model.forward(x));
      expect(recorded.calls.convBiasAct).toBe(0);
      expect(relativeError(arr(recorded.result), arr(after.result))).toBeLessThan(1e-5);
      model.train();
      expect(() => model.forward(x)).toThrow(/eval mode/);
      model.dispose();
      x.dispose();
    });
  }

  it('a channels-last folded ResNet-18 keeps its logits', () => {
    rn.manualSeed(6);
    const model = rn.models.resnet18({ numClasses: 5 }).to({ memoryFormat: 'channelsLast' });
    randomiseBatchNorms(model);
    const x = rn.keep(rn.randn([1, 3, 48, 48], { memoryFormat: 'channelsLast' }));
    const before = rn.noGrad(() => model.eval().forward(x));
    rn.nn.fuseForInference(model);
    const after = counted(() => rn.noGrad(() => model.forward(x)));
    expect(after.calls.convBiasAct).toBe(17);
    expect(relativeError(arr(after.result), arr(before))).toBeLessThan(1e-5);
    model.dispose();
    x.dispose();
  });
});

announceSkip('CUDA convBiasAct tests');

describe.skipIf(!runCuda)('convBiasAct on CUDA agrees with the CPU', () => {
  beforeAll(() => {
    expectCuda();
    rn.cuda.setAllowTf32(false);
    delete process.env.CUDNN_RESNET_CONV;
  });

  for (const c of cases) {
    it(c.name, () => {
      const { x, w, b, z } = inputs(c);
      const named: Record<string, rn.Tensor> = { x: rn.keep(x), w: rn.keep(w) };
      if (b) named.b = rn.keep(b);
      if (z) named.z = rn.keep(z);
      compareOnDevices(`convBiasAct ${c.name}`, named,
        (t) => rn.noGrad(() => rn.convBiasAct(t.x!, t.w!, t.b ?? null, t.z ?? null, c.options)), { forwardOnly: true });
    });
  }

  for (const dtype of ['float16', 'bfloat16'] as const) {
    it(`under autocast (${dtype}): the CPU's rounding points, within ${dtype}'s precision`, () => {
      const x = param([2, 8, 10, 10], { requiresGrad: false }), w = param([16, 8, 3, 3], { requiresGrad: false });
      const b = param([16], { requiresGrad: false }), z = param([2, 16, 10, 10], { requiresGrad: false });
      compareOnDevices(`convBiasAct autocast ${dtype}`, { x, w, b, z },
        (t) => rn.noGrad(() => rn.autocast({ dtype }, () => rn.convBiasAct(t.x!, t.w!, t.b!, t.z!, { padding: 1, relu: true }))),
        { forwardOnly: true, tolerance: dtype === 'float16' ? 5e-3 : 2e-2 });
    });
  }

  it('a folded ResNet-18 on the GPU: the CPU logits, every conv-BN(-add)-ReLU as one call', () => {
    rn.manualSeed(8);
    const model = rn.models.resnet18({ numClasses: 10 });
    randomiseBatchNorms(model);
    model.eval();
    rn.nn.fuseForInference(model);
    const x = rn.keep(rn.randn([2, 3, 64, 64]));
    const cpu = rn.noGrad(() => model.forward(x));
    model.to('cuda');
    const xGpu = rn.keep(x.to('cuda'));
    const gpu = counted(() => rn.noGrad(() => model.forward(xGpu)));
    expect(gpu.calls.convBiasAct).toBe(17);
    expect(relativeError(arr(gpu.result), arr(cpu))).toBeLessThan(1e-3);
    model.dispose();
  });
});
