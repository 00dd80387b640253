// Every op on the GPU against the same op on the CPU: forward output and the gradient of every
// input, on fresh random inputs, ‖cuda − cpu‖ / ‖cpu‖ < 1e-4 in float32 with TF32 off. Skipped
// with the reason where no GPU with cuDNN and cuBLAS is present; a failure under
// CUDNN_RESNET_REQUIRE_CUDA=1.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { announceSkip, compareOnDevices, expectCuda, param, runCuda } from './helpers/cuda.js';

announceSkip('CUDA op tests');

describe.skipIf(!runCuda)('ops on CUDA agree with the CPU', () => {
  beforeAll(() => {
    expectCuda();
    rn.cuda.setAllowTf32(false);
    rn.manualSeed(7);
  });
  afterEach(() => rn.cuda.setBatchNormKernels('fused'));

  const convCases: [string, number[], number[], rn.Conv2dOptions, boolean, rn.MemoryFormat][] = [
    ['3x3 stride 1 pad 1', [2, 8, 10, 10], [16, 8, 3, 3], { padding: 1 }, false, 'contiguous'],
    ['3x3 stride 2 pad 1 + bias', [2, 8, 11, 9], [12, 8, 3, 3], { stride: 2, padding: 1 }, true, 'contiguous'],
    ['1x1 stride 2 (projection shortcut)', [3, 16, 8, 8], [32, 16, 1, 1], { stride: 2 }, false, 'contiguous'],
    ['7x7 stride 2 pad 3 (stem)', [2, 3, 32, 32], [8, 3, 7, 7], { stride: 2, padding: 3 }, false, 'contiguous'],
    ['grouped 3x3 (ResNeXt)', [2, 8, 9, 9], [8, 2, 3, 3], { padding: 1, groups: 4 }, true, 'contiguous'],
    ['dilated 3x3', [2, 4, 12, 12], [6, 4, 3, 3], { padding: 2, dilation: 2 }, false, 'contiguous'],
    ['3x3 channelsLast', [2, 8, 10, 10], [16, 8, 3, 3], { padding: 1 }, true, 'channelsLast'],
    ['1x1 channelsLast stride 2', [2, 16, 8, 8], [8, 16, 1, 1], { stride: 2 }, false, 'channelsLast'],
  ];
  for (const [name, xs, ws, options, withBias, format] of convCases) {
    it(`conv2d ${name}`, () => {
      const inputs: Record<string, rn.Tensor> = { x: param(xs, { memoryFormat: format }), w: param(ws) };
      if (withBias) inputs.b = param([ws[0]!]);
      compareOnDevices(`conv2d ${name}`, inputs, (t) => rn.conv2d(t.x!, t.w!, t.b ?? null, options));
    });
  }

  for (const kernels of ['fused', 'cudnn'] as const) for (const format of ['contiguous', 'channelsLast'] as const) {
    it(`batchNorm2d training, ${format}, ${kernels} kernels: output, gradients and running statistics`, () => {
      rn.cuda.setBatchNormKernels(kernels);
      const x = param([4, 6, 5, 5], { memoryFormat: format }), w = param([6]), b = param([6]);
      const stats = { cpu: [rn.zeros([6]), rn.ones([6])], gpu: [rn.zeros([6], { device: 'cuda' }), rn.ones([6], { device: 'cuda' })] };
      compareOnDevices(`batchNorm2d ${format}`, { x, w, b }, (t) => {
        const [rm, rv] = t.x!.device === 'cuda' ? stats.gpu : stats.cpu;
        return rn.batchNorm2d(t.x!, rm!, rv!, t.w!, t.b!, { training: true, momentum: 0.1, eps: 1e-5 });
      });
      for (let i = 0; i < 2; i++) {
        const cpu = stats.cpu[i]!.toArray() as Float32Array, gpu = stats.gpu[i]!.toArray() as Float32Array;
        for (let c = 0; c < 6; c++) expect(gpu[c]!).toBeCloseTo(cpu[c]!, 5);
      }
    });
  }

  it('batchNorm2d evaluation (running statistics)', () => {
    const x = param([3, 5, 4, 4]), w = param([5]), b = param([5]);
    const rm = rn.keep(rn.randn([5])), rv = rn.keep(rn.affine(rn.rand([5]), 1, 0.5));
    const rmGpu = rn.keep(rm.to('cuda')), rvGpu = rn.keep(rv.to('cuda'));
    compareOnDevices('batchNorm2d eval', { x, w, b }, (t) => {
      const gpu = t.x!.device === 'cuda';
      return rn.batchNorm2d(t.x!, gpu ? rmGpu : rm, gpu ? rvGpu : rv, t.w!, t.b!, { training: false });
    });
  });

  it('batchNorm2d on (N, C) inputs, both kernel kinds', () => {
    for (const kernels of ['fused', 'cudnn'] as const) {
      rn.cuda.setBatchNormKernels(kernels);
      compareOnDevices(`batchNorm2d 2-D ${kernels}`, { x: param([8, 5]), w: param([5]), b: param([5]) },
        (t) => rn.batchNorm2d(t.x!, null, null, t.w!, t.b!, { training: true }));
    }
    rn.cuda.setBatchNormKernels('fused');
  });

  it('fused batch-norm kernels: 16-byte loads (C % 4 == 0, NHWC) and odd sizes agree with cuDNN and the CPU', () => {
    for (const [shape, format] of [[[8, 64, 7, 7], 'channelsLast'], [[3, 5, 9, 11], 'channelsLast'], [[4, 8, 16, 16], 'contiguous'], [[2, 3, 5, 7], 'contiguous']] as const) {
      for (const kernels of ['fused', 'cudnn'] as const) {
        rn.cuda.setBatchNormKernels(kernels);
        const x = param([...shape], { memoryFormat: format }), r = param([...shape], { memoryFormat: format });
        compareOnDevices(`bnAddRelu ${shape} ${format} ${kernels}`, { x, r, w: param([shape[1]]), b: param([shape[1]]) },
          (t) => rn.bnAddRelu(t.x!, t.r!, null, null, t.w!, t.b!, { training: true }));
      }
    }
    rn.cuda.setBatchNormKernels('fused');
  });

  for (const kernels of ['fused', 'cudnn'] as const) for (const format of ['contiguous', 'channelsLast'] as const) {
    it(`bnAddRelu training, ${format}, ${kernels} kernels`, () => {
      rn.cuda.setBatchNormKernels(kernels);
      compareOnDevices(`bnAddRelu ${format}`,
        { x: param([4, 6, 5, 5], { memoryFormat: format }), r: param([4, 6, 5, 5], { memoryFormat: format }), w: param([6]), b: param([6]) },
        (t) => rn.bnAddRelu(t.x!, t.r!, null, null, t.w!, t.b!, { training: true }));
    });
  }

  for (const format of ['contiguous', 'channelsLast'] as const) {
    it(`bnRelu training, ${format}: output, gradients and running statistics`, () => {
      const stats = { cpu: [rn.zeros([6]), rn.ones([6])], gpu: [rn.zeros([6], { device: 'cuda' }), rn.ones([6], { device: 'cuda' })] };
      compareOnDevices(`bnRelu ${format}`,
        { x: param([4, 6, 5, 5], { memoryFormat: format }), w: param([6]), b: param([6]) },
        (t) => {
          const [rm, rv] = t.x!.device === 'cuda' ? stats.gpu : stats.cpu;
          return rn.bnRelu(t.x!, rm!, rv!, t.w!, t.b!, { training: true, momentum: 0.1, eps: 1e-5 });
        });
      for (let i = 0; i < 2; i++) {
        const cpu = stats.cpu[i]!.toArray() as Float32Array, gpu = stats.gpu[i]!.toArray() as Float32Array;
        for (let c = 0; c < 6; c++) expect(gpu[c]!).toBeCloseTo(cpu[c]!, 5);
      }
    });
  }

  it('bnRelu evaluation, and on (N, C) inputs', () => {
    const rm = rn.keep(rn.randn([5])), rv = rn.keep(rn.affine(rn.rand([5]), 1, 0.5));
    const rmGpu = rn.keep(rm.to('cuda')), rvGpu = rn.keep(rv.to('cuda'));
    compareOnDevices('bnRelu eval', { x: param([3, 5, 4, 4]), w: param([5]), b: param([5]) }, (t) => {
      const gpu = t.x!.device === 'cuda';
      return rn.bnRelu(t.x!, gpu ? rmGpu : rm, gpu ? rvGpu : rv, t.w!, t.b!, { training: false });
    });
    compareOnDevices('bnRelu 2-D', { x: param([8, 5]), w: param([5]), b: param([5]) },
      (t) => rn.bnRelu(t.x!, null, null, t.w!, t.b!, { training: true }));
  });

  it('relu, sigmoid, affine, scale', () => {
    const x = param([3, 4, 5, 6]);
    compareOnDevices('relu', { x }, (t) => rn.relu(t.x!));
    compareOnDevices('sigmoid', { x }, (t) => rn.sigmoid(t.x!));
    compareOnDevices('affine', { x }, (t) => rn.affine(t.x!, -1.5, 0.25));
    compareOnDevices('scale', { x }, (t) => rn.scale(t.x!, 3));
  });

  it('add, sub, mul, div with broadcasting', () => {
    const a = param([2, 3, 4, 5]), b = param([3, 1, 5]), c = param([5]);
    const positive = rn.keep(rn.affine(rn.rand([3, 1, 5]), 1, 0.5));
    positive.requiresGrad = true;
    compareOnDevices('add', { a, b }, (t) => rn.add(t.a!, t.b!));
    compareOnDevices('sub', { a, c }, (t) => rn.sub(t.a!, t.c!));
    compareOnDevices('mul', { a, b }, (t) => rn.mul(t.a!, t.b!));
    compareOnDevices('div', { a, positive }, (t) => rn.div(t.a!, t.positive!));
  });

  it('add of channelsLast tensors keeps the format', () => {
    compareOnDevices('add channelsLast', { a: param([2, 3, 4, 5], { memoryFormat: 'channelsLast' }), b: param([2, 3, 4, 5], { memoryFormat: 'channelsLast' }) },
      (t) => rn.add(t.a!, t.b!));
  });

  it('sum and mean over dimensions', () => {
    const x = param([4, 5, 6, 7]);
    compareOnDevices('sum all', { x }, (t) => rn.sum(t.x!));
    compareOnDevices('sum dim 1', { x }, (t) => rn.sum(t.x!, 1));
    compareOnDevices('mean [2, 3] keepDim', { x }, (t) => rn.mean(t.x!, [2, 3], true));
    compareOnDevices('mean channelsLast', { x: param([4, 5, 6, 7], { memoryFormat: 'channelsLast' }) }, (t) => rn.mean(t.x!, [0, 2, 3]));
    compareOnDevices('sum of a million', { x: param([1000, 1000]) }, (t) => rn.sum(t.x!));
  });

  it('concat, narrow, flatten', () => {
    const a = param([2, 3, 4, 4]), b = param([2, 5, 4, 4]);
    compareOnDevices('concat', { a, b }, (t) => rn.concat([t.a!, t.b!], 1));
    compareOnDevices('narrow', { b }, (t) => rn.narrow(t.b!, 1, 1, 3));
    compareOnDevices('flatten', { a }, (t) => rn.flatten(t.a!));
  });

  it('option-A shortcut', () => {
    compareOnDevices('shortcutA', { x: param([2, 4, 9, 9]) }, (t) => rn.shortcutA(t.x!, 8, 2));
  });

  for (const format of ['contiguous', 'channelsLast'] as const) {
    it(`pooling, ${format}`, () => {
      const x = param([2, 3, 11, 11], { memoryFormat: format });
      compareOnDevices('maxPool2d 3/2/1', { x }, (t) => rn.maxPool2d(t.x!, { kernelSize: 3, stride: 2, padding: 1 }));
      compareOnDevices('maxPool2d ceilMode', { x }, (t) => rn.maxPool2d(t.x!, { kernelSize: 2, stride: 2, ceilMode: true }));
      compareOnDevices('avgPool2d pad countIncludePad', { x }, (t) => rn.avgPool2d(t.x!, { kernelSize: 3, stride: 2, padding: 1 }));
      compareOnDevices('avgPool2d pad excluded', { x }, (t) => rn.avgPool2d(t.x!, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }));
      compareOnDevices('adaptiveAvgPool2d 1', { x }, (t) => rn.adaptiveAvgPool2d(t.x!, 1));
      compareOnDevices('adaptiveAvgPool2d 3x4', { x }, (t) => rn.adaptiveAvgPool2d(t.x!, [3, 4]));
    });
  }

  it('matmul and linear (cuBLAS)', () => {
    compareOnDevices('matmul', { a: param([7, 13]), b: param([13, 5]) }, (t) => rn.matmul(t.a!, t.b!));
    compareOnDevices('linear', { x: param([9, 64]), w: param([10, 64]), b: param([10]) }, (t) => rn.linear(t.x!, t.w!, t.b!));
    compareOnDevices('large matmul', { a: param([256, 512]), b: param([512, 384]) }, (t) => rn.matmul(t.a!, t.b!));
  });

  it('cross-entropy with and without label smoothing, int32 and int64 labels', () => {
    const logits = param([16, 10]);
    for (const dtype of ['int32', 'int64'] as const) {
      const labels = rn.keep(rn.tensor(Array.from({ length: 16 }, (_, i) => (i * 7) % 10), [16], { dtype }));
      const labelsGpu = rn.keep(labels.to('cuda'));
      for (const labelSmoothing of [0, 0.1]) {
        compareOnDevices(`crossEntropy ${dtype} ${labelSmoothing}`, { logits },
          (t) => rn.crossEntropy(t.logits!, t.logits!.device === 'cuda' ? labelsGpu : labels, { labelSmoothing }));
      }
    }
  });

  it('cross-entropy rejects a label out of range on the GPU too', () => {
    const logits = rn.randn([2, 3], { device: 'cuda' });
    const labels = rn.tensor([0, 3], [2], { dtype: 'int64', device: 'cuda' });
    expect(() => rn.crossEntropy(logits, labels)).toThrow(RangeError);
  });

  it('SGD steps (momentum, Nesterov, weight decay) agree', () => {
    for (const o of [{ lr: 0.1 }, { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }, { lr: 0.05, momentum: 0.9, nesterov: true }]) {
      const start = rn.keep(rn.randn([33, 17]));
      const grads = [0, 1, 2].map(() => rn.keep(rn.randn([33, 17])));
      const finals = (['cpu', 'cuda'] as const).map((device) => {
        const p = rn.keep(device === 'cpu' ? start.clone() : start.to(device));
        p.requiresGrad = true;
        const opt = new rn.optim.SGD([p], o);
        for (const g of grads) {
          p.grad?.dispose();
          p.grad = rn.keep(device === 'cpu' ? g.clone() : g.to(device));  // the step owns its gradient
          opt.step();
        }
        return p.toArray() as Float32Array;
      });
      let worst = 0;
      for (let i = 0; i < finals[0]!.length; i++) worst = Math.max(worst, Math.abs(finals[0]![i]! - finals[1]![i]!));
      expect(worst, `SGD ${JSON.stringify(o)}`).toBeLessThan(1e-5);
    }
  });

  it('casts give bit-identical float16 / bfloat16 and memory-format copies match', () => {
    const x = rn.keep(rn.randn([2, 3, 4, 5]));
    const xg = rn.keep(x.to('cuda'));
    for (const dtype of ['float16', 'bfloat16', 'int32'] as const) {
      expect(xg.to({ dtype }).toArray()).toEqual(x.to({ dtype }).toArray());
    }
    const last = xg.to({ memoryFormat: 'channelsLast' });
    expect(last.memoryFormat).toBe('channelsLast');
    expect(last.toArray()).toEqual(x.toArray());
    expect(last.to({ memoryFormat: 'contiguous' }).toArray()).toEqual(x.toArray());
  });

  it('rand gives the same values on both devices for one seed, randn the same up to libm rounding', () => {
    for (const make of [rn.rand, rn.randn]) {
      rn.manualSeed(11);
      const cpu = make([1001]).toArray() as Float32Array;
      rn.manualSeed(11);
      const gpu = make([1001], { device: 'cuda' });
      expect(gpu.device).toBe('cuda');
      const values = gpu.toArray() as Float32Array;
      if (make === rn.rand) expect(values).toEqual(cpu);
      // Box-Muller uses the device's double log / sin / cos, which may differ from glibc's in the last bit.
      else for (let i = 0; i < cpu.length; i++) expect(Math.abs(values[i]! - cpu[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(cpu[i]!)));
    }
  });

  it('await t.data() reads a GPU tensor without blocking', async () => {
    const x = rn.randn([64, 64], { device: 'cuda' });
    const viaData = await x.data();
    expect(viaData).toEqual(x.toArray());
  });
});
