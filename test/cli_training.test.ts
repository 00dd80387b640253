// `cudnn-resnet train` and `experiment` as a user runs them, in child processes, reading what they
// print: progress lines whose epoch count and totals are what will really run, --max-steps obeyed
// (or refused) everywhere, AdamW with --save-best, --patience and --schedule plateau resumed
// exactly, --topk, and early stopping.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNode } from './helpers/run_node.js';

const bin = fileURLToPath(new URL('../lib/bin.ts', import.meta.url));
const cli = (args: string[]) => runNode([bin, ...args]);
const tmp = () => mkdtempSync(join(tmpdir(), 'cudnn-resnet-cli-training-'));
const records = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l) as { kind: string; iteration: number; loss: number; top1Error: number; lr: number } & Record<string, number>);
/** The progress lines (non-terminal form): label, done/total. */
const progressLines = (stderr: string) => stderr.split('\n').filter((l) => /^epoch \d+\/\d+ \d+\/\d+ loss/.test(l));

// synthetic:96 at batch 16: 6 batches per epoch; 19 test images.
const tiny = ['--model', 'cifar-resnet8', '--data', 'synthetic:96', '--batch-size', '16'];

describe('train: what it says it runs is what it runs', () => {
  it('--max-steps: the progress shows one epoch of 4 steps, the summary 4 iterations and two thirds of an epoch', async () => {
    const out = tmp();
    const r = await cli(['train', ...tiny, '--epochs', '3', '--max-steps', '4', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const lines = progressLines(r.stderr);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^epoch 1\/1 [1-4]\/4 /);
    expect(lines.at(-1)).toMatch(/^epoch 1\/1 4\/4 /);
    expect(r.stderr).toMatch(/; 4 iterations; output in/);
    const summary = JSON.parse(r.stdout) as { iterations: number; epochs: number };
    expect(summary).toMatchObject({ iterations: 4, epochs: 0.667 });
    expect(records(out).filter((rec) => rec.kind === 'train').at(-1)!.iteration).toBe(4);
  }, 120_000);

  it('--topk 3 reports top-3 error in the log, the test line and eval', async () => {
    const out = tmp();
    const r = await cli(['train', ...tiny, '--epochs', '1', '--topk', '3', '--out', out, '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/epoch 1: test loss \d+\.\d{4}, top-1 error \d+\.\d\d%, top-3 \d+\.\d\d%/);
    for (const rec of records(out)) {
      expect(Object.keys(rec).filter((k) => /^top\d+Error$/.test(k))).toEqual(['top1Error', 'top3Error']);
      expect(rec.top3Error!).toBeLessThanOrEqual(rec.top1Error);
    }
    const e = await cli(['eval', '--checkpoint', out, '--topk', '2,3']);
    expect(e.status, e.stderr).toBe(0);
    const evaluation = JSON.parse(e.stdout) as Record<string, number>;
    expect(evaluation.top3Error).toBeCloseTo(records(out).at(-1)!.top3Error!, 6);
    expect(evaluation.top2Error).toBeGreaterThanOrEqual(evaluation.top3Error!);
  }, 120_000);

  it('--patience stops when the test error has not fallen for that many evaluations, and says so', async () => {
    const out = tmp();
    // lr 0: the weights stay put; only the BN statistics move, so the test error soon stops falling.
    const r = await cli(['train', ...tiny, '--epochs', '8', '--lr', '0', '--schedule', 'constant', '--patience', '2', '--out', out, '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    const tests = records(out).filter((rec) => rec.kind === 'test').map((rec) => rec.top1Error);
    let best = Infinity, since = 0, stopAt = tests.length;
    tests.forEach((err, i) => {
      if (err < best) [best, since] = [err, 0];
      else if (++since >= 2 && stopAt === tests.length) stopAt = i + 1;
    });
    expect(stopAt).toBeLessThan(8);
    expect(tests.length).toBe(stopAt);
    const summary = JSON.parse(r.stdout) as { iterations: number; stoppedEarly: boolean; bestTestTop1Error: number };
    expect(summary).toMatchObject({ iterations: 6 * stopAt, stoppedEarly: true, bestTestTop1Error: best });
    expect(r.stderr).toMatch(/early stop: no lower test error in 2 evaluations \(patience 2\)/);
  }, 120_000);

  it('AdamW with --save-best and --schedule plateau: a run resumed mid-way gives the uninterrupted run\'s log, best checkpoint and rates', async () => {
    const flags = [...tiny, '--optimizer', 'adamw', '--lr', '0.001', '--save-best', '--schedule', 'plateau', '--plateau-patience', '1', '--plateau-factor', '0.1',
      '--patience', '3', '--log-every', '1', '--no-progress'];
    const straight = tmp(), resumed = tmp();
    const whole = await cli(['train', ...flags, '--epochs', '5', '--out', straight]);
    expect(whole.status, whole.stderr).toBe(0);
    // Stopped after epoch 3, between two evaluations that did not improve: the resumed run must
    // remember the plateau's count, the best error so far and the rates to reduce on time.
    const first = await cli(['train', ...flags, '--epochs', '3', '--out', resumed]);
    expect(first.status, first.stderr).toBe(0);
    const second = await cli(['train', ...flags, '--epochs', '5', '--out', resumed, '--resume']);
    expect(second.status, second.stderr).toBe(0);
    const strip = (dir: string) => records(dir).map(({ time: _time, imagesPerSecond: _ips, ...rest }) => rest);
    expect(strip(resumed)).toEqual(strip(straight));
    const lrs = records(straight).filter((rec) => rec.kind === 'train').map((rec) => rec.lr);
    expect(new Set(lrs).size, 'the plateau reduced the rate at least once').toBeGreaterThan(1);
    expect(whole.stderr).toMatch(/plateau: the test loss did not improve for 2 evaluations; learning rate now 0.000100/);
    const bestOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'best.json'), 'utf8')) as { iteration: number; optimizer: { kind: string }; best: object };
    expect(bestOf(resumed)).toMatchObject({ iteration: bestOf(straight).iteration, optimizer: { kind: 'AdamW' }, best: bestOf(straight).best });
    const [a, b] = [JSON.parse(whole.stdout), JSON.parse(second.stdout)] as { testLoss: number; bestTestTop1Error: number }[];
    expect(b!.testLoss).toBe(a!.testLoss);
    expect(b!.bestTestTop1Error).toBe(a!.bestTestTop1Error);
    const bestEval = await cli(['eval', '--checkpoint', join(straight, 'best.json')]);
    expect(bestEval.status, bestEval.stderr).toBe(0);
    expect((JSON.parse(bestEval.stdout) as { top1Error: number }).top1Error).toBeCloseTo(a!.bestTestTop1Error, 6);
    const wrong = await cli(['train', ...flags.filter((f) => f !== 'adamw').map((f) => (f === '--optimizer' ? '--optimizer=adam' : f)), '--epochs', '5', '--out', resumed, '--resume']);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/was trained with --optimizer adamw, not adam/);
    expect(existsSync(join(resumed, 'best.safetensors'))).toBe(true);
  }, 240_000);
});

describe('experiment: the budget is the run', () => {
  it('progress lines count the epochs the budget will do, not the --epochs default', async () => {
    const out = tmp();
    const r = await cli(['experiment', 'compare', '--models', 'resnet-8', '--data', 'synthetic:40', '--batch-size', '8', '--budget', '7', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const lines = progressLines(r.stderr);
    expect(lines.some((l) => /^epoch 1\/2 5\/5 /.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^epoch 2\/2 2\/2 /);
    expect(r.stderr).not.toMatch(/\/1000/);
    const capped = await cli(['experiment', 'compare', '--models', 'resnet-8', '--data', 'synthetic:40', '--batch-size', '8', '--budget', '7', '--epochs', '1', '--out', tmp(), '--no-progress']);
    expect(capped.status, capped.stderr).toBe(0);
    expect(capped.stderr).toMatch(/note: --epochs 1 ends cifar-resnet8 after 5 of the 7 iterations of the budget/);
  }, 120_000);

  it('--max-steps is the budget when given alone, and refused when it disagrees with --budget', async () => {
    const out = tmp();
    const r = await cli(['experiment', 'compare', '--models', 'resnet-8', '--data', 'synthetic:40', '--batch-size', '8', '--max-steps', '3', '--out', out, '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    expect(records(join(out, 'cifar-resnet8')).filter((rec) => rec.kind === 'train').at(-1)!.iteration).toBe(3);
    const both = await cli(['experiment', 'degradation', '--max-steps', '3200', '--budget', '300', '--out', tmp()]);
    expect(both.status).toBe(1);
    expect(both.stderr).toMatch(/--max-steps 3200 and --budget 300 disagree/);
    expect(both.stderr).not.toMatch(/device:|== cifar/);
  }, 120_000);
});
