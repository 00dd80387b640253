// Whole-model agreement between devices, the device allocator over many steps, device mixes,
// out-of-memory, and what happens where no GPU is present (the last part runs everywhere).
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { announceSkip, expectCuda, runCuda } from './helpers/cuda.js';
import { relativeError } from './helpers/reference.js';

announceSkip('CUDA training tests');

/** Three SGD steps of ResNet-18 on one batch: the losses, the final logits and parameters. */
function threeSteps(device: rn.Device, seed: number) {
  rn.manualSeed(seed);
  const model = rn.models.createModel({ name: 'resnet18', numClasses: 10, inChannels: 3 });
  rn.manualSeed(seed + 1);
  const x = rn.keep(rn.randn([4, 3, 64, 64]).to(device));
  const labels = rn.keep(rn.tensor([1, 5, 2, 9], [4], { dtype: 'int64' }).to(device));
  model.to(device);
  const opt = new rn.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  const losses: number[] = [];
  let firstGrads: Float32Array[] = [];
  for (let step = 0; step < 3; step++) {
    rn.scope(() => {
      opt.zeroGrad();
      const loss = rn.crossEntropy(model.forward(x), labels);
      loss.backward();
      if (step === 0) firstGrads = model.parameters().map((p) => p.grad!.toArray() as Float32Array);
      losses.push(loss.item());
      opt.step();
    });
  }
  const logits = rn.noGrad(() => model.eval().forward(x)).toArray() as Float32Array;
  const params = model.parameters().map((p) => p.toArray() as Float32Array);
  model.dispose();
  return { losses, logits, params, firstGrads };
}

describe.skipIf(!runCuda)('training on CUDA', () => {
  it('ResNet-18 forward, backward and three SGD steps agree between devices', () => {
    expectCuda();
    rn.cuda.setAllowTf32(false);
    const cpu = threeSteps('cpu', 3), gpu = threeSteps('cuda', 3);
    for (let i = 0; i < 3; i++) expect(Math.abs(gpu.losses[i]! - cpu.losses[i]!) / Math.abs(cpu.losses[i]!)).toBeLessThan(1e-4);
    cpu.firstGrads.forEach((g, i) => expect(relativeError(gpu.firstGrads[i]!, g), `gradient ${i}`).toBeLessThan(1e-3));
    cpu.params.forEach((p, i) => expect(relativeError(gpu.params[i]!, p), `parameter ${i}`).toBeLessThan(1e-4));
    expect(relativeError(gpu.logits, cpu.logits)).toBeLessThan(1e-3);
  });

  it('allocator reuses memory: counters flat over 1,000 steps', () => {
    expectCuda();
    rn.manualSeed(5);
    const model = new rn.nn.Sequential(
      new rn.nn.Conv2d(3, 8, 3, { padding: 1, bias: false }), new rn.nn.BatchNorm2d(8), new rn.nn.ReLU(),
      new rn.nn.MaxPool2d({ kernelSize: 2 }), new rn.nn.Flatten(), new rn.nn.Linear(8 * 8 * 8, 10)).to('cuda');
    const opt = new rn.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const x = rn.keep(rn.randn([16, 3, 16, 16], { device: 'cuda' }));
    const y = rn.keep(rn.tensor(Array.from({ length: 16 }, (_, i) => i % 10), [16], { dtype: 'int64', device: 'cuda' }));
    const step = () => rn.scope(() => {
      opt.zeroGrad();
      rn.crossEntropy(model.forward(x), y).backward();
      opt.step();
    });
    for (let i = 0; i < 10; i++) step();
    const before = rn.cuda.memory(), tensorsBefore = rn.memory().liveTensors;
    for (let i = 0; i < 1000; i++) step();
    rn.cuda.synchronize();
    const after = rn.cuda.memory();
    expect(after.allocatedBytes).toBe(before.allocatedBytes);
    expect(after.reservedBytes).toBe(before.reservedBytes);
    expect(after.deviceMallocs).toBe(before.deviceMallocs);
    expect(after.cacheHits - before.cacheHits).toBe(after.allocations - before.allocations);
    expect(rn.memory().liveTensors).toBe(tensorsBefore);
    model.dispose();
    rn.cuda.emptyCache();
    expect(rn.cuda.memory().reservedBytes).toBe(rn.cuda.memory().allocatedBytes);
  });

  it('channels-last end to end: a ResNet training step makes no layout transposes', () => {
    expectCuda();
    rn.manualSeed(9);
    const model = rn.models.resnet18({ numClasses: 10 }).to({ device: 'cuda', memoryFormat: 'channelsLast' });
    const opt = new rn.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const x = rn.keep(rn.randn([4, 3, 64, 64], { device: 'cuda', memoryFormat: 'channelsLast' }));
    const y = rn.keep(rn.tensor([1, 2, 3, 4], [4], { dtype: 'int64', device: 'cuda' }));
    const step = () => rn.scope(() => {
      opt.zeroGrad();
      rn.crossEntropy(model.forward(x), y).backward();
      opt.step();
    });
    step();  // first step: momentum buffers are created
    const before = rn.memory().layoutConversions;
    step();
    expect(rn.memory().layoutConversions - before).toBe(0);
    for (const p of model.parameters()) if (p.ndim === 4) expect(p.memoryFormat).toBe('channelsLast');
    model.dispose();
  });

  it('rejects tensors of two devices in one op', () => {
    expectCuda();
    const a = rn.randn([2, 3]), b = rn.randn([2, 3], { device: 'cuda' });
    expect(() => rn.add(a, b)).toThrow(TypeError);
    expect(() => rn.matmul(a, rn.randn([3, 2], { device: 'cuda' }))).toThrow(/one device/);
    const conv = new rn.nn.Conv2d(3, 4, 3).to('cuda');
    expect(() => conv.forward(rn.randn([1, 3, 8, 8]))).toThrow(/one device/);
  });

  it('out of memory is an error the program catches, and the GPU stays usable', () => {
    expectCuda();
    expect(() => rn.zeros([2 ** 20, 2 ** 20], { device: 'cuda' })).toThrow(/out of memory/);
    const t = rn.ones([1000], { device: 'cuda' });
    expect(rn.sum(t).item()).toBe(1000);
  });

  it('moves tensors back and forth, keeping dtype and memory format; gradients flow through to()', () => {
    expectCuda();
    const x = rn.randn([2, 3, 4, 5], { memoryFormat: 'channelsLast' });
    x.requiresGrad = true;
    const g = x.to('cuda');
    expect([g.device, g.memoryFormat, g.dtype]).toEqual(['cuda', 'channelsLast', 'float32']);
    rn.sum(rn.mul(g, g)).backward();
    expect(x.grad!.device).toBe('cpu');
    expect(relativeError(x.grad!.toArray() as Float32Array, rn.scale(x, 2).toArray() as Float32Array)).toBeLessThan(1e-6);
  });
});

describe.skipIf(runCuda)('where CUDA is unavailable', () => {
  it('to("cuda") and device: "cuda" throw the reason', () => {
    const reason = rn.backends().cuda.reason!;
    expect(() => rn.zeros([2]).to('cuda')).toThrow(reason);
    expect(() => rn.randn([2], { device: 'cuda' })).toThrow(/CUDA is unavailable/);
    expect(() => new rn.nn.Linear(2, 2).to('cuda')).toThrow(/CUDA is unavailable/);
  });
  it('the device memory counters are zero and the cache calls are harmless', () => {
    rn.cuda.emptyCache();
    rn.cuda.synchronize();
    expect(rn.cuda.memory()).toEqual({ allocatedBytes: 0, reservedBytes: 0, peakAllocatedBytes: 0, allocations: 0, cacheHits: 0, deviceMallocs: 0 });
    expect(rn.cuda.isAvailable()).toBe(false);
  });
});
