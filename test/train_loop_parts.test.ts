// The training loop's parts on their own (lib/train/train_step.ts, train_log.ts, test_phase.ts):
// one step against the same step written out, when train records are due, and the evaluation's
// record, best checkpoint, plateau and early-stop sentences.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { setUpRun, tearDown, type RunOptions } from '../lib/cli/setup.js';
import { TestTracker } from '../lib/train/early_stop.js';
import { EpochProgress } from '../lib/train/progress.js';
import { testPhase } from '../lib/train/test_phase.js';
import { TrainLog } from '../lib/train/train_log.js';
import { trainStep } from '../lib/train/train_step.js';
import { TrainWindow } from '../lib/train/train_window.js';
import type { TestRecord, TrainRecord } from '../lib/train/metrics_log.js';

const values = (t: rn.Tensor) => Array.from(t.toArray() as Float32Array);

describe('trainStep', () => {
  it('is zeroGrad, forward, cross-entropy, backward and the optimizer step', () => {
    rn.scope(() => {
      const make = () => {
        rn.manualSeed(3);
        const model = new rn.nn.Linear(4, 3);
        return { model, optimizer: new rn.optim.SGD(model.parameters(), { lr: 0.5, momentum: 0.9 }) };
      };
      const ours = make(), written = make();
      const x = rn.randn([5, 4]), labels = rn.tensor([0, 1, 2, 1, 0], [5], { dtype: 'int64' });
      const step = trainStep(ours.model, ours.optimizer);
      for (let i = 0; i < 3; i++) {
        const { loss, logits } = step(x, labels);
        written.optimizer.zeroGrad();
        const expectedLogits = written.model.forward(x);
        const expectedLoss = rn.crossEntropy(expectedLogits, labels);
        expectedLoss.backward();
        written.optimizer.step();
        expect(loss.item()).toBe(expectedLoss.item());
        expect(values(logits)).toEqual(values(expectedLogits));
      }
      expect(values(ours.model.weight)).toEqual(values(written.model.weight));
      expect(values(ours.model.bias!)).toEqual(values(written.model.bias!));
    });
  });
});

describe('TrainLog', () => {
  it('writes a record every logEvery iterations, at the end of each epoch and at the last step', () => {
    const records: TrainRecord[] = [];
    const log = new TrainLog(new TrainWindow([1], 2), { logEvery: 2, batchesPerEpoch: 5, maxSteps: 7, emit: (r) => records.push(r) });
    const progress = new EpochProgress('test', 5, process.stderr, false);
    for (let iteration = 1; iteration <= 7; iteration++) {
      const batchInEpoch = ((iteration - 1) % 5) + 1;
      log.account({ epoch: Math.floor((iteration - 1) / 5), iteration, batchInEpoch, lr: 0.1, n: 2, labels: Int32Array.from([0, 1]),
        startedAt: performance.now() }, iteration, Float32Array.from([1, 0, 1, 0]), progress);
    }
    progress.stop();
    expect(records.map((r) => r.iteration)).toEqual([2, 4, 5, 6, 7]);
    expect(records.map((r) => r.loss)).toEqual([1.5, 3.5, 5, 6, 7]);  // the mean over the window's steps
    expect(records.every((r) => r.top1Error === 50)).toBe(true);
    expect(log.last).toBe(records[4]);
  });
});

describe('testPhase', () => {
  it('emits the test record first, then saves the best, steps the plateau and says when patience is spent', async () => {
    const options: RunOptions = {
      model: 'cifar-resnet8', data: 'synthetic:64', epochs: 1, batchSize: 32, lr: 0.1, momentum: 0.9, weightDecay: 0,
      nesterov: false, bnWeightDecay: false, schedule: 'multistep', warmup: 0, device: 'cpu', seed: 5,
    };
    const run = await setUpRun(options, () => {});
    try {
      const happened: string[] = [];
      const tracker = new TestTracker(1);
      const plateau = new rn.optim.ReduceLROnPlateau(run.optimizer, { patience: 0 });
      const phase = {
        model: run.model, testLoader: run.testLoader!, numClasses: run.spec.numClasses, topk: [1], tracker, optimizer: run.optimizer, plateau,
        saveBest: { outDir: '/nowhere', save: () => happened.push('saved') },
        emit: (r: TestRecord) => happened.push(`record ${r.iteration}`), onEvent: (line: string) => happened.push(line.split(':')[0]!),
      };
      const first = await testPhase(phase, 0, 10);
      expect(first.stop).toBe(false);
      expect(first.record).toMatchObject({ kind: 'test', epoch: 0, iteration: 10 });
      expect(happened).toEqual(['record 10', 'saved', 'best so far']);
      happened.length = 0;
      const second = await testPhase(phase, 1, 20);  // same weights: no lower error, no lower loss
      expect(second.record.top1Error).toBe(first.record.top1Error);
      expect(second.stop).toBe(true);
      expect(happened).toEqual(['record 20', 'plateau', 'early stop']);
      expect(run.optimizer.paramGroups[0]!.lr).toBeCloseTo(0.01, 12);
    } finally {
      await tearDown(run);
    }
  });
});
