// Deterministic memory: dispose, scopes, `using`, and 10,000 training iterations of a small
// network leaving the counters flat.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

describe('memory', () => {
  it('dispose frees at once and is idempotent; a disposed tensor is refused', () => {
    const before = rn.memory();
    const t = rn.zeros([256, 256]);
    expect(rn.memory().liveBytes).toBe(before.liveBytes + 256 * 256 * 4);
    t.dispose();
    t.dispose();
    expect(rn.memory()).toMatchObject({ liveBytes: before.liveBytes, liveTensors: before.liveTensors });
    expect(() => t.toArray()).toThrow(/disposed/);
    expect(() => rn.relu(t)).toThrow(TypeError);
  });

  it('scope frees what it did not return, keeps what it returned (also inside arrays and objects)', () => {
    const before = rn.memory();
    const { a, list } = rn.scope(() => {
      rn.ones([10]);
      const a = rn.ones([3]);
      return { a, list: [rn.zeros([2]), 5] };
    });
    expect(a.disposed).toBe(false);
    expect((list[0] as rn.Tensor).disposed).toBe(false);
    expect(rn.memory().liveTensors).toBe(before.liveTensors + 2);
    a.dispose();
    (list[0] as rn.Tensor).dispose();
    expect(rn.memory().liveTensors).toBe(before.liveTensors);
  });

  it('scope frees everything when its function throws, and refuses async functions', () => {
    const before = rn.memory();
    expect(() => rn.scope(() => {
      rn.ones([100]);
      throw new Error('boom');
    })).toThrow('boom');
    expect(() => rn.scope(async () => rn.ones([1]))).toThrow(/synchronous/);
    expect(rn.memory().liveTensors).toBe(before.liveTensors);
  });

  it('keep() lets a tensor outlive its scope', () => {
    let kept: rn.Tensor | undefined;
    rn.scope(() => {
      kept = rn.keep(rn.ones([4]));
    });
    expect(kept!.disposed).toBe(false);
    kept!.dispose();
  });

  it('`using` disposes at the end of the block', () => {
    const before = rn.memory().liveTensors;
    {
      using t = rn.ones([8]);
      expect(t.disposed).toBe(false);
      expect(rn.memory().liveTensors).toBe(before + 1);
    }
    expect(rn.memory().liveTensors).toBe(before);
  });

  it('large blocks freed and allocated again are reused: the process does not grow (resident memory flat)', () => {
    const x = rn.randn([32, 16, 32, 32]);  // 2 MiB
    const step = () => rn.scope(() => {
      rn.relu(rn.add(rn.relu(x), x));
    });
    for (let i = 0; i < 20; i++) step();
    const settled = process.memoryUsage().rss;
    for (let i = 0; i < 300; i++) step();
    const grown = process.memoryUsage().rss - settled;
    expect(grown, `resident memory grew by ${(grown / 2 ** 20).toFixed(1)} MiB over 300 steps`).toBeLessThan(48 * 2 ** 20);
    expect(rn.memory().cachedBytes).toBeGreaterThan(0);
    rn.emptyCache();
    expect(rn.memory().cachedBytes).toBe(0);
    x.dispose();
  });

  it('10,000 forward/backward/step iterations of a small net leave the counters flat', async () => {
    rn.manualSeed(7);
    const w1 = rn.randn([4, 1, 3, 3], { requiresGrad: true });
    const gamma = rn.ones([4], { requiresGrad: true });
    const beta = rn.zeros([4], { requiresGrad: true });
    const runningMean = rn.zeros([4]);
    const runningVar = rn.ones([4]);
    const fc = rn.randn([3, 4], { requiresGrad: true });
    const opt = new rn.optim.SGD([w1, gamma, beta, fc], { lr: 0.01, momentum: 0.9 });
    const x = rn.randn([2, 1, 4, 4]);
    const labels = rn.tensor([0, 2], [2], { dtype: 'int64' });
    const step = () => rn.scope(() => {
      opt.zeroGrad();
      const h = rn.conv2d(x, w1, null, { padding: 1 });
      const r = rn.bnAddRelu(h, h.detach(), runningMean, runningVar, gamma, beta, { training: true });
      const logits = rn.linear(rn.flatten(rn.adaptiveAvgPool2d(r, 1)), fc);
      const loss = rn.crossEntropy(logits, labels);
      loss.backward();
      opt.step();
    });
    for (let i = 0; i < 20; i++) step();
    const settled = rn.memory();
    for (let i = 0; i < 10_000; i++) {
      step();
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));  // let the test worker answer its runner
    }
    const after = rn.memory();
    expect(after.liveTensors).toBe(settled.liveTensors);
    expect(after.liveBytes).toBe(settled.liveBytes);
    expect(after.liveStorages).toBe(settled.liveStorages);
    for (const t of [w1, gamma, beta, fc, runningMean, runningVar, x, labels]) t.dispose();
    opt.zeroGrad();
    for (const b of opt.momentumBuffers.values()) b.dispose();
  });
});
