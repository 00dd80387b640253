// `cudnn-resnet experiment compare` end to end, in child processes: --help, a tiny comparison of
// three nets named in the short form and one by its registry name (one chart, a table, one log
// folder per net), and model lists it refuses before training anything.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { modelName, parseModelList } from '../lib/cli/experiment.js';
import { runNode } from './helpers/run_node.js';

const bin = fileURLToPath(new URL('../lib/bin.ts', import.meta.url));
const cli = (args: string[]) => runNode([bin, ...args]);
const tmp = () => mkdtempSync(join(tmpdir(), 'cudnn-resnet-compare-'));

describe('experiment compare', () => {
  it('maps short names to registry names and keeps full ones', async () => {
    expect(['plain-20', 'resnet-56', 'highway-56', 'densenet-40', 'preact-110', 'cifar-resnet20', 'densenet121'].map(modelName))
      .toEqual(['cifar-plain20', 'cifar-resnet56', 'cifar-highway56', 'cifar-densenet40', 'cifar-preact110', 'cifar-resnet20', 'densenet121']);
    expect(parseModelList(' resnet-8, highway-8 ')).toEqual(['cifar-resnet8', 'cifar-highway8']);
    expect(() => parseModelList('resnet-8,cifar-resnet8')).toThrow(/lists cifar-resnet8 twice/);
    expect(() => parseModelList(',')).toThrow(/needs at least one model/);
  });

  it('has --help', async () => {
    const r = await cli(['experiment', 'compare', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: cudnn-resnet experiment compare/);
    expect(r.stdout).toMatch(/--models <list>[\s\S]*--budget <iterations>[\s\S]*--out <dir>/);
  });

  it('trains each net under the same tiny budget: one chart, a table, a log per net', async () => {
    const out = tmp();
    const r = await cli(['experiment', 'compare', '--models', 'resnet-8,highway-8,densenet-10,cifar-preact8', '--budget', '2', '--batch-size', '8',
      '--data', 'synthetic:40', '--out', out, '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    const models = ['cifar-resnet8', 'cifar-highway8', 'cifar-densenet10', 'cifar-preact8'];
    const table = r.stdout.split('\n');
    expect(table[0]).toMatch(/^model\s+params\s+train err %\s+test err %\s+img\/s/);
    models.forEach((model, i) => expect(table[i + 1]).toMatch(new RegExp(`^${model}\\s+\\d+\\.\\d\\dM\\s+\\d+\\.\\d\\d\\s+\\d+\\.\\d\\d\\s+\\d+\\.\\d`)));
    expect(r.stdout).not.toMatch(/degradation: /);
    expect(r.stdout).toContain(`chart: ${join(out, 'comparison.svg')}`);
    const svg = readFileSync(join(out, 'comparison.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    for (const model of models) {
      expect(svg).toContain(model);
      expect(existsSync(join(out, model, 'metrics.jsonl')), model).toBe(true);
    }
    const rows = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as { model: string; parameters: number; finalTestError: number }[];
    expect(rows.map((row) => row.model)).toEqual(models);
    expect(rows.map((row) => row.parameters)).toEqual([75_290, 103_498, 20_902, 77_850]);
    for (const row of rows) expect(row.finalTestError).toBeGreaterThanOrEqual(0);
  }, 300_000);

  it('refuses an unknown model, a bad depth or a repeated name before training anything', async () => {
    const unknown = await cli(['experiment', 'compare', '--models', 'resnet-8,wide-16', '--out', tmp(), '--no-progress']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/unknown model 'wide-16'/);
    expect(unknown.stderr).not.toMatch(/== cifar-resnet8/);
    const depth = await cli(['experiment', 'compare', '--models', 'resnet-8,densenet-12', '--out', tmp(), '--no-progress']);
    expect(depth.status).toBe(1);
    expect(depth.stderr).toMatch(/depth must be 6n \+ 4/);
    const twice = await cli(['experiment', 'compare', '--models', 'resnet-8,cifar-resnet8', '--out', tmp()]);
    expect(twice.status).not.toBe(0);
    expect(twice.stderr).toMatch(/lists cifar-resnet8 twice; name each model once/);
    const missing = await cli(['experiment', 'compare', '--out', tmp()]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/required option '--models <list>' not specified/);
  });
});
