// Mixed precision: autocast (CPU emulation of the low-precision path here, the real one on the
// GPU) and the dynamic loss scaler.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { expectCuda, runCuda } from './helpers/cuda.js';
import { relativeError } from './helpers/reference.js';

const f32 = (t: rn.Tensor) => t.toArray() as Float32Array;

/** Unit roundoff of each low-precision type: 2^-(mantissa bits + 1). */
const ROUNDOFF = { bfloat16: 2 ** -8, float16: 2 ** -11 } as const;

describe('autocast', () => {
  for (const dtype of ['bfloat16', 'float16'] as const) {
    it(`conv2d and linear in ${dtype}: float32 in and out, within ${dtype} rounding of float32, gradients too`, () => {
      rn.manualSeed(1);
      const x = rn.randn([2, 8, 9, 9]), w = rn.scale(rn.randn([16, 8, 3, 3]), 0.2);
      x.requiresGrad = true;
      w.requiresGrad = true;
      const reference = rn.conv2d(x, w, null, { padding: 1 });
      const low = rn.autocast({ dtype }, () => rn.conv2d(x, w, null, { padding: 1 }));
      expect(low.dtype).toBe('float32');
      const error = relativeError(f32(low), f32(reference));
      expect(error).toBeLessThan(8 * ROUNDOFF[dtype]);
      expect(error).toBeGreaterThan(0);  // the low-precision path really ran

      const g = rn.randn([...reference.shape]);
      rn.sum(rn.mul(reference, g)).backward();
      const [dx32, dw32] = [f32(x.grad!), f32(w.grad!)];
      x.grad = null;
      w.grad = null;
      rn.sum(rn.mul(low, g)).backward();
      expect(relativeError(f32(x.grad!), dx32)).toBeLessThan(8 * ROUNDOFF[dtype]);
      expect(relativeError(f32(w.grad!), dw32)).toBeLessThan(8 * ROUNDOFF[dtype]);
      expect(x.grad!.dtype).toBe('float32');

      const a = rn.randn([5, 64]), weight = rn.randn([7, 64]), bias = rn.randn([7]);
      const lin = rn.autocast({ dtype }, () => rn.linear(a, weight, bias));
      expect(relativeError(f32(lin), f32(rn.linear(a, weight, bias)))).toBeLessThan(8 * ROUNDOFF[dtype]);
      const mm = rn.autocast({ dtype }, () => rn.matmul(a, rn.randn([64, 3])));
      expect(mm.dtype).toBe('float32');
    });
  }

  it('leaves batch norm, the loss and element-wise ops in float32 exactly', () => {
    const x = rn.randn([4, 3, 5, 5]);
    const plain = rn.relu(rn.batchNorm2d(x, null, null, null, null, { training: true }));
    const inside = rn.autocast({ dtype: 'bfloat16' }, () => rn.relu(rn.batchNorm2d(x, null, null, null, null, { training: true })));
    expect(f32(inside)).toEqual(f32(plain));
  });

  it('nests, and enabled: false restores float32 exactly', () => {
    const x = rn.randn([3, 16]), w = rn.randn([4, 16]);
    const exact = f32(rn.linear(x, w));
    const inner = rn.autocast({ dtype: 'bfloat16' }, () => {
      expect(rn.amp.autocastDtype()).toBe('bfloat16');
      return rn.autocast({ enabled: false }, () => rn.linear(x, w));
    });
    expect(f32(inner)).toEqual(exact);
    expect(rn.amp.autocastDtype()).toBeNull();
    expect(() => rn.autocast({ dtype: 'float64' as never }, () => 0)).toThrow(TypeError);
    expect(() => rn.autocast({ dtype: 'bfloat16' }, () => { throw new Error('inside'); })).toThrow('inside');
    expect(rn.amp.autocastDtype()).toBeNull();
  });

  it.skipIf(!runCuda)('on the GPU matches the CPU emulation of the same rounding', () => {
    expectCuda();
    rn.cuda.setAllowTf32(false);
    for (const dtype of ['bfloat16', 'float16'] as const) {
      const x = rn.randn([2, 8, 9, 9]), w = rn.scale(rn.randn([16, 8, 3, 3]), 0.2);
      const cpu = rn.autocast({ dtype }, () => rn.conv2d(x, w, null, { padding: 1 }));
      const gpu = rn.autocast({ dtype }, () => rn.conv2d(x.to('cuda'), w.to('cuda'), null, { padding: 1 }));
      expect(gpu.dtype).toBe('float32');
      expect(relativeError(f32(gpu), f32(cpu))).toBeLessThan(4 * ROUNDOFF[dtype]);
    }
  });
});

describe('GradScaler', () => {
  function setup() {
    const p = rn.tensor([1, 2, 3, 4], [4]);
    p.requiresGrad = true;
    const opt = new rn.optim.SGD([p], { lr: 0.5 });
    return { p, opt };
  }

  it('scales the loss, unscales the gradients exactly, and steps', () => {
    const { p, opt } = setup();
    const scaler = new rn.amp.GradScaler({ initScale: 1024 });
    const loss = rn.sum(rn.mul(p, p));
    const scaled = scaler.scale(loss);
    expect(scaled.item()).toBe(loss.item() * 1024);
    scaled.backward();
    expect(Array.from(f32(p.grad!))).toEqual([2048, 4096, 6144, 8192]);
    expect(scaler.step(opt)).toBe(true);
    expect(Array.from(f32(p.grad!))).toEqual([2, 4, 6, 8]);
    expect(Array.from(f32(p))).toEqual([0, 0, 0, 0]);
    scaler.update();
    expect(scaler.getScale()).toBe(1024);
  });

  it('skips the step and backs off on an injected inf or NaN', () => {
    for (const bad of [Infinity, NaN]) {
      const { p, opt } = setup();
      const scaler = new rn.amp.GradScaler({ initScale: 256 });
      p.grad = rn.tensor([1, bad, 3, 4], [4]);
      expect(scaler.step(opt)).toBe(false);
      expect(Array.from(f32(p))).toEqual([1, 2, 3, 4]);
      expect(scaler.skippedSteps).toBe(1);
      scaler.update();
      expect(scaler.getScale()).toBe(128);
    }
  });

  it('grows the scale after growthInterval good steps in a row', () => {
    const { p, opt } = setup();
    const scaler = new rn.amp.GradScaler({ initScale: 8, growthInterval: 3, growthFactor: 2 });
    for (let i = 0; i < 3; i++) {
      p.grad = rn.tensor([0, 0, 0, 0], [4]);
      scaler.step(opt);
      scaler.update();
      expect(scaler.getScale()).toBe(i < 2 ? 8 : 16);
    }
    p.grad = rn.tensor([Infinity, 0, 0, 0], [4]);
    scaler.step(opt);
    scaler.update();
    expect(scaler.getScale()).toBe(8);
    expect(scaler.stateDict()).toEqual({ scale: 8, growthFactor: 2, backoffFactor: 0.5, growthInterval: 3, growthTracker: 0 });
  });

  it('rejects bad settings and out-of-order calls, and restores its state', () => {
    expect(() => new rn.amp.GradScaler({ initScale: NaN })).toThrow(RangeError);
    expect(() => new rn.amp.GradScaler({ growthFactor: 1 })).toThrow(RangeError);
    expect(() => new rn.amp.GradScaler({ growthInterval: 0 })).toThrow(RangeError);
    expect(() => new rn.amp.GradScaler({ initscale: 2 } as never)).toThrow(TypeError);
    const { p, opt } = setup();
    const scaler = new rn.amp.GradScaler();
    p.grad = rn.tensor([1, 1, 1, 1], [4]);
    scaler.unscale(opt);
    expect(() => scaler.unscale(opt)).toThrow(/already called/);
    scaler.step(opt);
    expect(() => scaler.step(opt)).toThrow(/already called/);
    scaler.update();
    expect(() => scaler.update(NaN)).toThrow(RangeError);
    const other = new rn.amp.GradScaler();
    other.loadStateDict({ ...scaler.stateDict(), scale: 3 });
    expect(other.getScale()).toBe(3);
    expect(() => other.loadStateDict({ ...scaler.stateDict(), scale: NaN })).toThrow(RangeError);
    const off = new rn.amp.GradScaler({ enabled: false });
    expect(off.getScale()).toBe(1);
  });
});

describe('training in mixed precision', () => {
  for (const amp of ['bfloat16', 'float16'] as const) {
    it(`train({ amp: '${amp}', channelsLast: true }) learns a small problem, and float16 keeps its scaler in the checkpoint`, async () => {
      const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      rn.manualSeed(4);
      const spec = { name: 'cifar-resnet8', numClasses: 10, inChannels: 3 };
      const model = rn.models.createModel(spec).to({ memoryFormat: 'channelsLast' });
      const data = rn.data.synthetic({ size: 64, seed: 1 });
      const trainLoader = new rn.data.DataLoader(data, { batchSize: 16, shuffle: true, seed: 1 });
      const optimizer = new rn.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const scheduler = new rn.optim.LRScheduler(optimizer, rn.optim.lrSchedule.constant());
      const outDir = mkdtempSync(join(tmpdir(), 'amp-train-'));
      try {
        const summary = await rn.train.train({
          model, spec, trainLoader, optimizer, scheduler, epochs: 6, dataSpec: 'synthetic', outDir, progress: false, logEvery: 4,
          amp, channelsLast: true,
        });
        const log = readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss: number });
        expect(log.at(-1)!.loss).toBeLessThan(log[0]!.loss);
        expect(Number.isFinite(summary.lastTrain!.loss)).toBe(true);
        const checkpoint = JSON.parse(readFileSync(join(outDir, 'checkpoint.json'), 'utf8')) as { scaler?: { scale: number } };
        if (amp === 'float16') expect(checkpoint.scaler!.scale).toBeGreaterThan(0);
        else expect(checkpoint.scaler).toBeUndefined();
      } finally {
        await trainLoader.close();
        rmSync(outDir, { recursive: true, force: true });
      }
    });
  }
});
