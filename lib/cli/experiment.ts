// Model comparisons: several nets, each trained under the same budget on the same data; one
// chart of their training (dashed) and test (solid) error curves, a table and, when the four
// nets of the ResNet paper's degradation experiment (its Figures 1 and 6: plain-20 and plain-56
// against ResNet-20 and ResNet-56) are among them, a short verdict. `experiment degradation` is
// the preset of those four; `experiment compare --models ...` takes any list.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel } from '../models/registry.js';
import type { MetricsRecord } from '../train/metrics_log.js';
import { writeErrorChart, type ErrorPoint } from '../train/plot.js';
import { train } from '../train/trainer.js';
import { setUpRun, tearDown, type RunOptions } from './setup.js';

export interface ExperimentRow {
  model: string;
  parameters: number;
  /** Mean training error (%) over the last fifth of the run's train records. */
  finalTrainError: number;
  finalTestError: number | null;
  imagesPerSecond: number;
}

export interface ExperimentResult {
  rows: ExperimentRow[];
  chart: string;
  verdict: string[];
}

export const DEGRADATION_MODELS = ['cifar-plain20', 'cifar-plain56', 'cifar-resnet20', 'cifar-resnet56'];

const SHORT_NAME = /^(plain|resnet|highway|densenet|preact)-(\d+)$/;

/** A model as `--models` spells it: short (resnet-56 -> cifar-resnet56, densenet-40 -> cifar-densenet40 ...) or a registry name. */
export function modelName(name: string): string {
  const short = SHORT_NAME.exec(name);
  return short ? `cifar-${short[1]}${short[2]}` : name;
}

/** `--models`: comma-separated names, short or full, each at most once. */
export function parseModelList(value: string): string[] {
  const names = value.split(',').map((n) => n.trim()).filter((n) => n.length > 0).map(modelName);
  if (names.length === 0) throw new Error('--models needs at least one model, e.g. --models resnet-20,highway-20,densenet-40');
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated) throw new Error(`--models lists ${repeated} twice; name each model once`);
  return names;
}

function tailMean(records: MetricsRecord[]): number {
  const train = records.filter((r) => r.kind === 'train');
  const tail = train.slice(Math.floor(train.length * 0.8));
  return tail.reduce((s, r) => s + r.top1Error, 0) / Math.max(tail.length, 1);
}

export async function runComparison(models: string[], base: Omit<RunOptions, 'model'>, outDir: string,
  say: (line: string) => void, progress = true): Promise<ExperimentResult> {
  // Build each model once first, so that a bad name or depth fails before any training.
  for (const name of models) createModel({ name, numClasses: 10, inChannels: 3, ...(base.shortcut ? { shortcut: base.shortcut } : {}) }).dispose();
  mkdirSync(outDir, { recursive: true });
  const rows: ExperimentRow[] = [];
  const points: ErrorPoint[] = [];
  for (const name of models) {
    say(`== ${name}`);
    const run = await setUpRun({ ...base, model: name }, say);
    if (base.maxSteps !== undefined && run.totalSteps < base.maxSteps) {
      say(`note: --epochs ${base.epochs} ends ${name} after ${run.totalSteps} of the ${base.maxSteps} iterations of the budget`);
    }
    const records: MetricsRecord[] = [];
    try {
      const summary = await train({
        model: run.model, spec: run.spec, trainLoader: run.trainLoader, testLoader: run.testLoader,
        optimizer: run.optimizer, scheduler: run.scheduler, epochs: base.epochs, maxSteps: base.maxSteps,
        outDir: join(outDir, name), dataSpec: base.data, progress, runName: name,
        logEvery: Math.max(1, Math.floor(run.totalSteps / 50)), onRecord: (r) => records.push(r),
        ...(base.amp ? { amp: base.amp } : {}), channelsLast: base.channelsLast ?? false, cudaGraph: base.cudaGraph ?? false,
        topk: base.topk, plateau: run.plateau, onEvent: say,
      });
      rows.push({
        model: name, parameters: run.model.numParameters(), finalTrainError: tailMean(records),
        finalTestError: summary.lastTest?.top1Error ?? null, imagesPerSecond: summary.imagesPerSecond,
      });
      for (const r of records) points.push({ run: name, split: r.kind, iteration: r.iteration, error: r.top1Error });
    } finally {
      await tearDown(run);
    }
  }
  const chart = join(outDir, 'comparison.svg');
  await writeErrorChart(chart, points, `top-1 error on ${base.data} (dashed: train, solid: test)`);
  writeFileSync(join(outDir, 'comparison.json'), JSON.stringify(rows, null, 2) + '\n');
  return { rows, chart, verdict: verdictOf(rows) };
}

/** The paper's two questions, answered from the rows (when the four nets are present). */
export function verdictOf(rows: ExperimentRow[]): string[] {
  const err = (m: string) => rows.find((r) => r.model === m)?.finalTrainError;
  const lines: string[] = [];
  const [p20, p56, r20, r56] = DEGRADATION_MODELS.map(err);
  if (p20 !== undefined && p56 !== undefined) {
    lines.push(p56 > p20
      ? `degradation: yes — plain-56 trains worse than plain-20 (${p56.toFixed(1)}% vs ${p20.toFixed(1)}% training error)`
      : `degradation: not seen at this budget — plain-56 ${p56.toFixed(1)}% vs plain-20 ${p20.toFixed(1)}% training error`);
  }
  if (r20 !== undefined && r56 !== undefined) {
    lines.push(r56 < r20
      ? `residual learning: yes — ResNet-56 trains better than ResNet-20 (${r56.toFixed(1)}% vs ${r20.toFixed(1)}%)`
      : `residual learning: not seen at this budget — ResNet-56 ${r56.toFixed(1)}% vs ResNet-20 ${r20.toFixed(1)}%`);
  }
  if (p56 !== undefined && r56 !== undefined) {
    lines.push(`at 56 layers the shortcuts ${r56 < p56 ? 'help' : 'did not help yet'}: ResNet-56 ${r56.toFixed(1)}% vs plain-56 ${p56.toFixed(1)}%`);
  }
  return lines;
}

export function formatTable(rows: ExperimentRow[]): string {
  const header = ['model', 'params', 'train err %', 'test err %', 'img/s'];
  const body = rows.map((r) => [r.model, (r.parameters / 1e6).toFixed(2) + 'M', r.finalTrainError.toFixed(2),
    r.finalTestError === null ? '-' : r.finalTestError.toFixed(2), r.imagesPerSecond.toFixed(1)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  return [header, ...body].map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}
