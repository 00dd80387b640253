// The `cudnn-resnet` command end to end, in child processes: --help everywhere, a tiny train
// run followed by eval and a resume, info, errors, and the degradation experiment on a tiny budget.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNode } from './helpers/run_node.js';

const bin = fileURLToPath(new URL('../lib/bin.ts', import.meta.url));
const cli = (args: string[]) => runNode([bin, ...args]);
const tmp = () => mkdtempSync(join(tmpdir(), 'cudnn-resnet-cli-'));

describe('cudnn-resnet command', () => {
  it('has --help on every subcommand', async () => {
    for (const args of [[], ['train'], ['eval'], ['info'], ['experiment'], ['experiment', 'degradation']]) {
      const r = await cli([...args, '--help']);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^Usage: cudnn-resnet/);
    }
    expect((await cli(['train', '--help'])).stdout).toMatch(/--model <name>[\s\S]*--resume/);
  });

  it('info says why CUDA is or is not available', async () => {
    const r = await cli(['info']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^cudnn-resnet \d+\.\d+\.\d+/);
    expect(r.stdout).toMatch(/cuda: (available|unavailable — .+)/);
  });

  it('trains a tiny model, evaluates its checkpoint, and resumes it', async () => {
    const out = tmp();
    const args = ['train', '--model', 'cifar-resnet8', '--data', 'synthetic:96', '--batch-size', '16', '--epochs', '1', '--out', out, '--no-progress', '--log-every', '2'];
    const r = await cli(args);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { iterations: number; testTop1Error: number; outDir: string };
    expect(summary.iterations).toBe(6);
    expect(summary.testTop1Error).toBeGreaterThanOrEqual(0);
    for (const f of ['metrics.jsonl', 'checkpoint.json', 'checkpoint.safetensors', 'errors.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    const records = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
    expect(records.map((rec) => rec.kind)).toEqual(['train', 'train', 'train', 'test']);

    const e = await cli(['eval', '--checkpoint', join(out, 'checkpoint.json')]);
    expect(e.status, e.stderr).toBe(0);
    const evaluation = JSON.parse(e.stdout) as { model: string; split: string; top1Error: number; images: number };
    expect(evaluation).toMatchObject({ model: 'cifar-resnet8', split: 'test', images: 19 });
    expect(evaluation.top1Error).toBeCloseTo(summary.testTop1Error, 6);

    const more = await cli([...args.map((a) => (a === '1' ? '2' : a)), '--resume']);
    expect(more.status, more.stderr).toBe(0);
    expect((JSON.parse(more.stdout) as { iterations: number }).iterations).toBe(12);
  }, 120_000);

  it('reports bad arguments in a sentence and exits 1', async () => {
    const unknown = await cli(['train', '--model', 'resnet9', '--out', tmp(), '--no-progress']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/unknown model 'resnet9'/);
    const depth = await cli(['train', '--model', 'cifar-resnet21', '--out', tmp(), '--no-progress']);
    expect(depth.stderr).toMatch(/depth must be 6n \+ 2/);
    const data = await cli(['train', '--data', 'mnist', '--out', tmp(), '--no-progress']);
    expect(data.stderr).toMatch(/--data must be synthetic/);
    const choice = await cli(['train', '--shortcut', 'D']);
    expect(choice.status).not.toBe(0);
    expect(choice.stderr).toMatch(/Allowed choices are A, B, C/);
    const graph = await cli(['train', '--device', 'cpu', '--cuda-graph', '--data', 'synthetic:40', '--max-steps', '1', '--out', tmp(), '--no-progress']);
    expect(graph.status).toBe(1);
    expect(graph.stderr).toMatch(/--cuda-graph needs the model on the GPU/);
  });

  it('runs the degradation experiment on a tiny budget: four nets, one chart, a verdict', async () => {
    const out = tmp();
    const r = await cli(['experiment', 'degradation', '--data', 'synthetic:40', '--batch-size', '8', '--budget', '2', '--out', out, '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    for (const model of ['cifar-plain20', 'cifar-plain56', 'cifar-resnet20', 'cifar-resnet56']) expect(r.stdout).toContain(model);
    expect(r.stdout).toMatch(/degradation: /);
    expect(r.stdout).toMatch(/residual learning: /);
    expect(readFileSync(join(out, 'comparison.svg'), 'utf8')).toMatch(/^<svg/);
    const rows = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as { model: string; parameters: number }[];
    expect(rows.map((row) => row.parameters)).toEqual([269722, 853018, 269722, 853018]);
  }, 300_000);
});
