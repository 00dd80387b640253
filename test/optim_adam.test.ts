// Adam, AdamW and ReduceLROnPlateau against PyTorch (test/fixtures/optim_torch.json, made by
// test/fixtures/make_optim_fixture.py): the same parameters and gradients give the same updates;
// state round trips continue exactly; bad options are refused in a sentence.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { announceSkip, expectCuda, runCuda } from './helpers/cuda.js';

announceSkip('Adam CUDA-vs-CPU test');

interface T { shape: number[]; data: number[] }
interface AdamCase {
  name: string;
  optimizer: 'Adam' | 'AdamW';
  defaults: rn.optim.AdamOptions;
  groups: ({ params: number[] } & rn.optim.AdamOptions)[];
  params: T[];
  grads: T[][];
  after: T[][];
}
interface PlateauCase { name: string; options: rn.optim.PlateauOptions; lr: number; metrics: number[]; lrs: number[] }
const fixture = JSON.parse(readFileSync(new URL('./fixtures/optim_torch.json', import.meta.url), 'utf8')) as { adam: AdamCase[]; plateau: PlateauCase[] };

/** Float32 rounding of the same formula; PyTorch's kernels order a few operations differently. */
const TOLERANCE = 2e-6;
const tensorOf = (x: T, device: 'cpu' | 'cuda' = 'cpu') => rn.tensor(Float32Array.from(x.data), x.shape, { requiresGrad: true, device });

function make(c: AdamCase, params: rn.Tensor[]) {
  const groups = c.groups.map(({ params: indices, ...rest }) => ({ ...rest, params: indices.map((i) => params[i]!) }));
  return c.optimizer === 'Adam' ? new rn.optim.Adam(groups, c.defaults) : new rn.optim.AdamW(groups, c.defaults);
}

function runSteps(opt: rn.optim.Optimizer, params: rn.Tensor[], grads: T[][], from: number, to: number, device: 'cpu' | 'cuda' = 'cpu') {
  for (let k = from; k < to; k++) {
    params.forEach((p, i) => {
      p.grad?.dispose();
      p.grad = rn.tensor(Float32Array.from(grads[k]![i]!.data), grads[k]![i]!.shape, { device });
    });
    opt.step();
  }
}

function maxRelativeError(actual: ArrayLike<number>, expected: number[]): number {
  let worst = 0;
  expected.forEach((e, i) => (worst = Math.max(worst, Math.abs(Number(actual[i]) - e) / Math.max(1e-3, Math.abs(e)))));
  return worst;
}

describe('Adam and AdamW match PyTorch on the same gradients', () => {
  for (const c of fixture.adam) {
    it(c.name, () => {
      rn.scope(() => {
        const params = c.params.map((p) => tensorOf(p));
        const opt = make(c, params);
        for (let k = 0; k < c.grads.length; k++) {
          runSteps(opt, params, c.grads, k, k + 1);
          params.forEach((p, i) => expect(maxRelativeError(p.toArray() as Float32Array, c.after[k]![i]!.data), `step ${k + 1} param ${i}`).toBeLessThan(TOLERANCE));
        }
        opt.dispose();
      });
    });
  }

  it('uses PyTorch defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8; weight decay 0 (Adam), 1e-2 (AdamW)', () => {
    rn.scope(() => {
      const p = rn.zeros([2], { requiresGrad: true });
      const adam = new rn.optim.Adam([p]);
      const adamw = new rn.optim.AdamW([p]);
      expect(adam.paramGroups[0]).toMatchObject({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
      expect(adamw.paramGroups[0]).toMatchObject({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2 });
    });
  });

  it('stateDict / loadStateDict continue exactly where the first optimizer stopped', () => {
    rn.scope(() => {
      const c = fixture.adam.find((x) => x.name.startsWith('AdamW lr'))!;
      const straight = c.params.map((p) => tensorOf(p));
      const o1 = make(c, straight);
      runSteps(o1, straight, c.grads, 0, 6);
      const half = c.params.map((p) => tensorOf(p));
      const o2 = make(c, half);
      runSteps(o2, half, c.grads, 0, 3);
      const state = o2.stateDict();
      expect(Object.keys(state.buffers).slice(0, 3)).toEqual(['0.step', '0.exp_avg', '0.exp_avg_sq']);
      const resumed = half.map((p) => rn.tensor(p.toArray() as Float32Array, [...p.shape], { requiresGrad: true }));
      const o3 = make({ ...c, defaults: { lr: 0.5 } }, resumed);
      o3.loadStateDict(state);
      expect(o3.paramGroups[0]!.lr).toBe(0.02);
      runSteps(o3, resumed, c.grads, 3, 6);
      resumed.forEach((p, i) => expect(Array.from(p.toArray(), Number)).toEqual(Array.from(straight[i]!.toArray(), Number)));
      const sgd = new rn.optim.SGD([{ params: [resumed[0]!, resumed[2]!] }, { params: [resumed[1]!] }], { lr: 0.1, momentum: 0.9 });
      expect(() => sgd.loadStateDict(state as unknown as rn.optim.SGDState)).toThrow(/unexpected state '0.step'/);
      expect(() => o3.loadStateDict(sgd.stateDict())).toThrow(/lacks 'betas'/);
      sgd.dispose();
      for (const o of [o1, o2, o3]) o.dispose();
    });
  });

  it('a channels-last parameter (and a gradient in either layout) gets the same update as a contiguous one', () => {
    rn.scope(() => {
      const c = fixture.adam.find((x) => x.name === 'AdamW defaults')!;
      const contiguous = tensorOf(c.params[0]!);
      const channelsLast = rn.tensor(Float32Array.from(c.params[0]!.data), c.params[0]!.shape).to({ memoryFormat: 'channelsLast' });
      channelsLast.requiresGrad = true;
      const [a, b] = [new rn.optim.AdamW([contiguous]), new rn.optim.AdamW([channelsLast])];
      for (let k = 0; k < 3; k++) {
        const g = c.grads[k]![0]!;
        contiguous.grad?.dispose();
        contiguous.grad = rn.tensor(Float32Array.from(g.data), g.shape);
        channelsLast.grad?.dispose();
        const grad = rn.tensor(Float32Array.from(g.data), g.shape);
        channelsLast.grad = k % 2 === 0 ? grad : grad.to({ memoryFormat: 'channelsLast' });
        a.step();
        b.step();
      }
      expect(channelsLast.memoryFormat).toBe('channelsLast');
      expect(b.state.get(channelsLast)!.expAvg.memoryFormat).toBe('channelsLast');
      expect(Array.from(channelsLast.to({ memoryFormat: 'contiguous' }).toArray(), Number)).toEqual(Array.from(contiguous.toArray(), Number));
      a.dispose();
      b.dispose();
    });
  });

  it('refuses bad options in a sentence', () => {
    rn.scope(() => {
      const p = rn.zeros([2], { requiresGrad: true });
      expect(() => new rn.optim.Adam([p], { betas: [0.9, 1] })).toThrow(/betas must be two numbers in \[0, 1\)/);
      expect(() => new rn.optim.AdamW([p], { lr: -1 })).toThrow(/AdamW: lr must be a non-negative number/);
      expect(() => new rn.optim.Adam([p], { momentum: 0.9 } as rn.optim.AdamOptions)).toThrow(/unknown option 'momentum'/);
      expect(() => new rn.optim.Adam([p, p])).toThrow(/more than one group/);
      expect(() => new rn.optim.Adam([rn.zeros([2])])).toThrow(/does not require grad/);
    });
  });

  it.skipIf(!runCuda)('CUDA: the same updates as the CPU', () => {
    expectCuda();
    rn.scope(() => {
      const c = fixture.adam.find((x) => x.name === 'Adam two groups')!;
      const cpu = c.params.map((p) => tensorOf(p));
      const gpu = c.params.map((p) => tensorOf(p, 'cuda'));
      const [oc, og] = [make(c, cpu), make(c, gpu)];
      runSteps(oc, cpu, c.grads, 0, 6);
      runSteps(og, gpu, c.grads, 0, 6, 'cuda');
      cpu.forEach((p, i) => expect(maxRelativeError(gpu[i]!.toArray() as Float32Array, Array.from(p.toArray(), Number))).toBeLessThan(1e-6));
      oc.dispose();
      og.dispose();
    });
  });
});

describe('ReduceLROnPlateau matches PyTorch', () => {
  for (const c of fixture.plateau) {
    it(c.name, () => {
      rn.scope(() => {
        const p = rn.zeros([1], { requiresGrad: true });
        const opt = new rn.optim.SGD([p], { lr: c.lr });
        const plateau = new rn.optim.ReduceLROnPlateau(opt, c.options);
        const lrs = c.metrics.map((m) => {
          plateau.step(m);
          return opt.paramGroups[0]!.lr;
        });
        lrs.forEach((lr, i) => expect(lr, `after metric ${i}`).toBeCloseTo(c.lrs[i]!, 12));
      });
    });
  }

  it('reduces an LRScheduler\'s base rates, saves and restores its state', () => {
    rn.scope(() => {
      const p = rn.zeros([1], { requiresGrad: true });
      const opt = new rn.optim.SGD([p], { lr: 0.1 });
      const sched = new rn.optim.LRScheduler(opt, rn.optim.lrSchedule.linearWarmup(10, rn.optim.lrSchedule.constant(), 0.5));
      const plateau = new rn.optim.ReduceLROnPlateau(sched, { patience: 0 });
      plateau.step(1);
      expect(plateau.step(1)).toBe(true);
      expect(sched.baseLrs[0]).toBeCloseTo(0.01, 12);
      expect(opt.paramGroups[0]!.lr).toBeCloseTo(0.005, 12);
      const again = new rn.optim.ReduceLROnPlateau(sched, { patience: 0 });
      again.loadStateDict(JSON.parse(JSON.stringify(plateau.stateDict())) as rn.optim.PlateauState);
      expect(again.best).toBe(1);
      expect(new rn.optim.ReduceLROnPlateau(sched).stateDict().best).toBeNull();
      expect(() => new rn.optim.ReduceLROnPlateau(opt, { factor: 1 })).toThrow(/factor must be in \(0, 1\)/);
    });
  });
});
