// Training: a ResNet-20 overfits a small batch, checkpoints round-trip, and a run resumed from
// a mid-epoch checkpoint reproduces the uninterrupted run's losses exactly (CPU).
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { setUpRun, tearDown, type RunOptions } from '../lib/cli/setup.js';
import { overfitLosses } from './helpers/overfit.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'cudnn-resnet-train-'));

const base: RunOptions = {
  model: 'cifar-resnet8', data: 'synthetic:224', epochs: 2, batchSize: 32, lr: 0.1, momentum: 0.9, weightDecay: 1e-4,
  nesterov: false, bnWeightDecay: false, schedule: 'multistep', warmup: 0, device: 'cpu', seed: 5,
};

async function runTraining(outDir: string, options: { maxSteps?: number; resume?: boolean }): Promise<rn.train.TrainSummary> {
  const run = await setUpRun({ ...base, maxSteps: undefined }, () => {});
  try {
    return await rn.train.train({
      model: run.model, spec: run.spec, trainLoader: run.trainLoader, testLoader: run.testLoader, optimizer: run.optimizer,
      scheduler: run.scheduler, epochs: base.epochs, maxSteps: options.maxSteps, outDir, resume: options.resume,
      dataSpec: base.data, logEvery: 1, progress: false,
    });
  } finally {
    await tearDown(run);
  }
}

const trainLosses = (dir: string) => new rn.train.MetricsLog(join(dir, 'metrics.jsonl')).read().filter((r) => r.kind === 'train').map((r) => [r.iteration, r.loss]);

describe('metrics', () => {
  it('topKErrors counts each k from one pass; ties go to the lower class index', () => {
    rn.scope(() => {
      const logits = rn.tensor([[3, 1, 2], [0, 5, 1], [4, 4, 0]]);
      const labels = rn.tensor([2, 1, 1], [3], { dtype: 'int64' });
      expect(rn.train.topKErrors(logits, labels, [1, 2, 3])).toEqual([2, 0, 0]);
      expect(() => rn.train.topKErrors(logits, labels, [4])).toThrow(/exceeds the number of classes/);
    });
  });
});

describe('training', () => {
  it('a CIFAR ResNet-20 overfits 32 synthetic images: the loss falls below a tenth of its start within 60 steps', () => {
    rn.manualSeed(0);
    const model = rn.models.cifarResNet({ depth: 20 });
    const losses = overfitLosses(model, { images: 32, seed: 1, lr: 0.05, maxSteps: 60, stopBelowFraction: 10 });
    expect(losses[0]).toBeGreaterThan(1.5);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! / 10);
    model.dispose();
  });

  it('writes the log, checkpoint and chart; a run resumed mid-epoch gives the uninterrupted run\'s losses exactly', async () => {
    const straight = tmp();
    const whole = await runTraining(straight, {});
    expect(whole.iterations).toBe(14);
    for (const f of ['metrics.jsonl', 'checkpoint.json', 'checkpoint.safetensors', 'errors.svg']) expect(existsSync(join(straight, f)), f).toBe(true);
    expect(readFileSync(join(straight, 'errors.svg'), 'utf8')).toMatch(/^<svg/);

    const interrupted = tmp();
    const first = await runTraining(interrupted, { maxSteps: 10 });
    expect(first.iterations).toBe(10);
    const state = rn.train.readCheckpointState(interrupted).state;
    expect([state.epoch, state.batchInEpoch, state.iteration]).toEqual([1, 3, 10]);
    const resumed = await runTraining(interrupted, { resume: true });
    expect(resumed.iterations).toBe(14);
    expect(trainLosses(interrupted)).toEqual(trainLosses(straight));
    expect(resumed.lastTest?.loss).toBe(whole.lastTest?.loss);
  });

  it('a checkpoint loads into a fresh model with identical weights, buffers and optimizer state', async () => {
    const dir = tmp();
    await runTraining(dir, { maxSteps: 3 });
    const run = await setUpRun(base, () => {});
    const again = await setUpRun(base, () => {});
    try {
      rn.train.loadCheckpoint(dir, run.model, run.optimizer, run.scheduler);
      const saved = rn.io.loadSafetensorsSync(join(dir, 'checkpoint.safetensors')).tensors;
      for (const [key, t] of Object.entries(run.model.stateDict())) {
        expect(Array.from(t.toArray(), Number), key).toEqual(Array.from(saved.get(key)!.toArray(), Number));
      }
      expect(Number(run.model.stateDict()['bn1.num_batches_tracked']!.item())).toBe(3);
      expect(run.scheduler.iteration).toBe(3);
      expect(Object.keys(run.optimizer.stateDict().buffers).length).toBe(run.model.parameters().length);
      expect(() => rn.train.loadCheckpoint(dir, rn.models.cifarResNet({ depth: 14 }))).toThrow(/missing keys/);
      for (const t of saved.values()) t.dispose();
    } finally {
      await tearDown(run);
      await tearDown(again);
    }
  });

  it('refuses saveBest, patience and plateau without test data, and saveBest without outDir', async () => {
    const run = await setUpRun(base, () => {});
    try {
      const options = { model: run.model, spec: run.spec, trainLoader: run.trainLoader, optimizer: run.optimizer, scheduler: run.scheduler, epochs: 1, dataSpec: base.data, progress: false };
      await expect(rn.train.train({ ...options, saveBest: true })).rejects.toThrow(/saveBest follows the test error, and there is no test data/);
      await expect(rn.train.train({ ...options, patience: 2 })).rejects.toThrow(/patience follows the test error/);
      await expect(rn.train.train({ ...options, plateau: new rn.optim.ReduceLROnPlateau(run.optimizer) })).rejects.toThrow(/plateau follows the test error/);
      await expect(rn.train.train({ ...options, testLoader: run.testLoader, saveBest: true })).rejects.toThrow(/saveBest needs outDir/);
      expect(run.scheduler.iteration, 'nothing ran').toBe(0);
    } finally {
      await tearDown(run);
    }
  });

  it('an Adam run through the API keeps best.json and resumes its moments', async () => {
    const dir = tmp();
    const adam = { ...base, optimizer: 'adam' as const, lr: 0.01, momentum: undefined };
    const go = async (maxSteps: number | undefined, resume: boolean) => {
      const run = await setUpRun(adam, () => {});
      try {
        return await rn.train.train({
          model: run.model, spec: run.spec, trainLoader: run.trainLoader, testLoader: run.testLoader, optimizer: run.optimizer,
          scheduler: run.scheduler, epochs: adam.epochs, maxSteps, outDir: dir, resume, dataSpec: adam.data, progress: false, saveBest: true,
        });
      } finally {
        await tearDown(run);
      }
    };
    await go(3, false);
    const state = rn.train.readCheckpointState(dir).state;
    expect(state.optimizer.kind).toBe('Adam');
    expect(state.data.imageShape).toEqual([3, 32, 32]);
    const saved = rn.io.loadSafetensorsSync(join(dir, 'checkpoint.safetensors')).tensors;
    expect(Number(saved.get('optimizer.0.step')!.item())).toBe(3);
    for (const t of saved.values()) t.dispose();
    const summary = await go(undefined, true);
    expect(summary.iterations).toBe(14);
    expect(existsSync(join(dir, 'best.json'))).toBe(true);
    expect(rn.train.readCheckpointState(join(dir, 'best.json')).state.iteration).toBe(summary.best!.iteration);
  });

  it('rejects a resume with nothing to resume and a checkpoint of another format', async () => {
    await expect(runTraining(tmp(), { resume: true })).rejects.toThrow(/nothing to resume/);
    expect(() => rn.train.readCheckpointState(join(tmp(), 'missing.json'))).toThrow(/does not exist/);
  });
});
