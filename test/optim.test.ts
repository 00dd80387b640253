// SGD parameter groups and state, learning-rate schedules and the scheduler.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

const { lrSchedule } = rn.optim;

describe('learning-rate schedules', () => {
  it('multiStep divides by 10 at the paper\'s 32k and 48k iterations', () => {
    const s = lrSchedule.multiStep([32000, 48000], 0.1);
    expect([0, 31999, 32000, 47999, 48000, 64000].map(s)).toEqual([1, 1, 0.1, 0.1, 0.1 ** 2, 0.1 ** 2]);
    expect(() => lrSchedule.multiStep([10, 5])).toThrow(/increase/);
  });
  it('cosine goes from 1 to minFactor; linearWarmup rises then hands over', () => {
    const c = lrSchedule.cosine(100, 0.1);
    expect(c(0)).toBeCloseTo(1);
    expect(c(50)).toBeCloseTo(0.55);
    expect(c(100)).toBeCloseTo(0.1);
    expect(c(500)).toBeCloseTo(0.1);
    const w = lrSchedule.linearWarmup(10, lrSchedule.multiStep([5]), 0);
    expect([0, 5, 10, 14, 15].map(w)).toEqual([0, 0.5, 1, 1, 0.1]);
  });
  it('LRScheduler scales every group from its own base rate and saves its state', () => {
    rn.scope(() => {
      const a = rn.zeros([2], { requiresGrad: true });
      const b = rn.zeros([2], { requiresGrad: true });
      const opt = new rn.optim.SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
      const sched = new rn.optim.LRScheduler(opt, lrSchedule.multiStep([2], 0.1));
      expect(sched.lastLr()).toEqual([0.1, 0.5]);
      sched.step();
      sched.step();
      expect(sched.lastLr().map((v) => +v.toFixed(6))).toEqual([0.01, 0.05]);
      const again = new rn.optim.LRScheduler(opt, lrSchedule.multiStep([2], 0.1));
      again.loadStateDict(sched.stateDict());
      expect(again.iteration).toBe(2);
      expect(again.lastLr().map((v) => +v.toFixed(6))).toEqual([0.01, 0.05]);
    });
  });
});

describe('SGD', () => {
  it('parameter groups: a group with weightDecay 0 is not decayed', () => {
    rn.scope(() => {
      const conv = rn.ones([3], { requiresGrad: true });
      const bn = rn.ones([3], { requiresGrad: true });
      const opt = new rn.optim.SGD([{ params: [conv] }, { params: [bn], weightDecay: 0 }], { lr: 0.1, weightDecay: 0.5 });
      conv.grad = rn.zeros([3]);
      bn.grad = rn.zeros([3]);
      opt.step();
      expect(Array.from(conv.toArray(), Number).map((v) => +v.toFixed(6))).toEqual([0.95, 0.95, 0.95]);
      expect(Array.from(bn.toArray(), Number)).toEqual([1, 1, 1]);
      opt.dispose();
    });
  });

  it('stateDict / loadStateDict continue exactly where the first optimizer stopped', () => {
    rn.scope(() => {
      const run = (opt: rn.optim.SGD, p: rn.Tensor, steps: number, from: number) => {
        for (let i = from; i < from + steps; i++) {
          p.grad?.dispose();
          p.grad = rn.full([4], Math.sin(i));
          opt.step();
        }
      };
      const p1 = rn.zeros([4], { requiresGrad: true });
      const o1 = new rn.optim.SGD([p1], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 });
      run(o1, p1, 6, 0);
      const p2 = rn.zeros([4], { requiresGrad: true });
      const o2 = new rn.optim.SGD([p2], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 });
      run(o2, p2, 3, 0);
      const p3 = rn.tensor(p2.toArray() as Float32Array, [4], { requiresGrad: true });
      const o3 = new rn.optim.SGD([p3], { lr: 0.5, momentum: 0.9, nesterov: true, weightDecay: 1e-3 });
      o3.loadStateDict(o2.stateDict());
      expect(o3.paramGroups[0]!.lr).toBe(0.1);
      run(o3, p3, 3, 3);
      expect(Array.from(p3.toArray(), Number)).toEqual(Array.from(p1.toArray(), Number));
      expect(Object.keys(o2.stateDict().buffers)).toEqual(['0.momentum_buffer']);
      for (const o of [o1, o2, o3]) o.dispose();
    });
  });
});
