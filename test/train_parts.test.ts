// The parts of the training loop on their own: the train window's images per second over a real
// interval, the best-and-patience tracker, the ranks of the reported errors, and the error chart
// (legend with both dash styles, a dot per test evaluation).
import { describe, expect, it } from 'vitest';
import { checkDataFitsCheckpoint } from '../lib/cli/checkpoint_fit.js';
import type { DataSource } from '../lib/cli/data_spec.js';
import type { CheckpointState } from '../lib/train/checkpoint.js';
import { TestTracker } from '../lib/train/early_stop.js';
import { topKList } from '../lib/train/evaluate.js';
import { errorChartSvg } from '../lib/train/plot.js';
import { formatRate } from '../lib/train/progress.js';
import { TrainWindow, type StepRecord } from '../lib/train/train_window.js';

const step = (startedAt: number, n = 4): StepRecord => ({ epoch: 0, iteration: 1, batchInEpoch: 1, lr: 0.1, n, labels: Int32Array.from({ length: n }, (_, i) => i % 2), startedAt });
const logits = (n: number) => Float32Array.from({ length: n * 2 }, (_, i) => (i % 2 === 0 ? 1 : 0));

describe('TrainWindow', () => {
  it('counts images per second from the start of the window\'s first step, however soon the results are counted', () => {
    const w = new TrainWindow([1], 2);
    const start = performance.now() - 200;  // the step began 200 ms ago; its results are counted now
    w.add(step(start), 0.5, logits(4));
    expect(w.imagesPerSecond).toBeGreaterThan(0);
    expect(w.imagesPerSecond).toBeLessThanOrEqual(4 / 0.2);
    w.add(step(start + 100), 0.5, logits(4));
    expect(w.imagesPerSecond, 'two steps over at least 200 ms').toBeLessThanOrEqual(8 / 0.2);
    w.reset();
    const next = performance.now() - 50;
    w.add(step(next), 0.5, logits(4));
    expect(w.imagesPerSecond, 'a new window starts at its own first step').toBeLessThanOrEqual(4 / 0.05);
    expect(w.imagesPerSecond).toBeGreaterThan(4 / 10);
  });

  it('averages the loss and errors over the images of the window', () => {
    const w = new TrainWindow([1, 2], 2);
    w.add(step(performance.now(), 4), 1, logits(4));  // class 0 predicted: labels 0,1,0,1 -> 50% top-1
    w.add(step(performance.now(), 2), 4, Float32Array.from([0, 1, 0, 1]));  // class 1: labels 0,1 -> 50%
    expect(w.loss).toBeCloseTo((4 * 1 + 2 * 4) / 6, 12);
    expect(w.errors).toEqual({ top1Error: 50, top2Error: 0 });
  });
});

describe('TestTracker', () => {
  it('keeps the lowest error and stops after `patience` evaluations without a lower one', () => {
    const t = new TestTracker(2);
    const at = (top1Error: number, iteration: number) => t.observe({ top1Error, loss: 1, epoch: 0, iteration });
    expect(at(50, 10)).toEqual({ improved: true, stop: false });
    expect(at(50, 20)).toEqual({ improved: false, stop: false });
    expect(at(40, 30)).toEqual({ improved: true, stop: false });
    expect(at(45, 40)).toEqual({ improved: false, stop: false });
    expect(at(41, 50)).toEqual({ improved: false, stop: true });
    expect(t.best).toMatchObject({ top1Error: 40, iteration: 30, evaluationsSinceBest: 2 });
    expect(new TestTracker().observe({ top1Error: 1, loss: 1, epoch: 0, iteration: 1 }).stop).toBe(false);
    expect(() => new TestTracker(0)).toThrow(/patience must be a positive integer/);
  });
});

describe('top-k ranks', () => {
  it('top-1 first, then the ranks asked for, each once; default top-5 beyond five classes', () => {
    expect(topKList(undefined, 10)).toEqual([1, 5]);
    expect(topKList(undefined, 5)).toEqual([1]);
    expect(topKList([3, 1, 3], 10)).toEqual([1, 3]);
    expect(() => topKList([6], 5, '--topk')).toThrow(/--topk: top-6 error needs at least 6 classes; the data has 5/);
  });
});

describe('progress', () => {
  it('prints rates in three digits, small ones with an exponent', () => {
    expect([0.1, 0.001, 1e-5, 0].map(formatRate)).toEqual(['0.100', '0.00100', '1.00e-5', '0']);
  });
});

describe('checkDataFitsCheckpoint', () => {
  const data = (shape: [number, number, number], numClasses = 10) => ({ spec: 'idx:/digits', numClasses, train: { imageShape: shape } }) as unknown as DataSource;
  const state = (imageShape?: [number, number, number]) => ({
    model: { name: 'cifar-resnet20', numClasses: 10, inChannels: 3 }, data: { spec: 'cifar10:/c', seed: 0, batchSize: 128, ...(imageShape ? { imageShape } : {}) },
  }) as unknown as CheckpointState;
  it('passes data of the trained shape and refuses other sizes, channels or class counts', () => {
    expect(() => checkDataFitsCheckpoint(state([3, 32, 32]), data([3, 32, 32]), 'c.json', 'eval')).not.toThrow();
    expect(() => checkDataFitsCheckpoint(state([3, 32, 32]), data([3, 28, 28]), 'c.json', 'eval')).toThrow(/eval: c.json holds cifar-resnet20 trained on 3×32×32 images in 10 classes \(cifar10:\/c\), but idx:\/digits has 3×28×28 images/);
    expect(() => checkDataFitsCheckpoint(state([3, 32, 32]), data([3, 32, 32], 100), 'c.json', 'eval')).toThrow(/in 100 classes/);
  });
  it('checks the channels of a checkpoint written before image shapes were kept', () => {
    expect(() => checkDataFitsCheckpoint(state(), data([3, 28, 28]), 'old.json', 'eval')).not.toThrow();
    expect(() => checkDataFitsCheckpoint(state(), data([1, 28, 28]), 'old.json', 'eval')).toThrow(/trained on 3-channel images in 10 classes/);
  });
});

describe('error chart', () => {
  it('has a legend with the train and test dash styles, and a dot for each test evaluation', async () => {
    const points = ['a', 'b'].flatMap((run) => [
      ...[10, 20, 30, 40].map((iteration) => ({ run, split: 'train' as const, iteration, error: 50 - iteration / 2 })),
      ...[20, 40].map((iteration) => ({ run, split: 'test' as const, iteration, error: 60 - iteration / 2 })),
    ]);
    const svg = await errorChartSvg(points, 'two runs');
    const legend = svg.slice(svg.indexOf("Symbol legend titled 'set'"));
    const symbols = [...legend.matchAll(/role-legend-symbol"[^>]*><path ([^>]*)\/>/g)].slice(0, 2).map((m) => m[1]!);
    expect(symbols).toHaveLength(2);
    expect(symbols[0]).toMatch(/stroke-dasharray="4,3"/);
    expect(symbols[1]).toMatch(/stroke-dasharray="1,0"/);
    for (const s of symbols) expect(s).toMatch(/d="M-\d+,0L\d+,0"/);  // a stroke, not a dot
    const dots = svg.match(/aria-roledescription="point"/g) ?? [];
    expect(dots).toHaveLength(4);
  });
});
