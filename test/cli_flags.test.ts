// Flags the `cudnn-resnet` command refuses, each in one sentence before any work (no device line,
// no data read, no training), and data that does not fit a checkpoint, refused by `eval` and
// `train --resume` before the model sees it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { idxSplit, writeIdxSplit } from './helpers/data_files.js';
import { runNode } from './helpers/run_node.js';

const bin = fileURLToPath(new URL('../lib/bin.ts', import.meta.url));
const cli = (args: string[]) => runNode([bin, ...args]);
const tmp = () => mkdtempSync(join(tmpdir(), 'cudnn-resnet-cli-flags-'));

describe('flags refused before any work', () => {
  const cases: [string, string[], RegExp][] = [
    ['an unknown model', ['train', '--model', 'nope'], /unknown model 'nope'/],
    ['a bad depth', ['train', '--model', 'cifar-resnet21'], /depth must be 6n \+ 2/],
    ['--momentum with Adam', ['train', '--optimizer', 'adam', '--momentum', '0.5'], /--momentum applies to SGD; --optimizer adam has --betas/],
    ['--nesterov with AdamW', ['train', '--optimizer', 'adamw', '--nesterov'], /--nesterov applies to SGD, not --optimizer adamw/],
    ['--betas with SGD', ['train', '--betas', '0.9,0.99'], /--betas applies to --optimizer adam or adamw, not sgd/],
    ['--plateau-patience without the plateau schedule', ['train', '--plateau-patience', '2'], /--plateau-patience applies to --schedule plateau, not multistep/],
    ['--milestones with cosine', ['train', '--schedule', 'cosine', '--milestones', '10,20'], /--milestones applies to --schedule multistep, not cosine/],
    ['--cuda-graph on the CPU', ['train', '--device', 'cpu', '--cuda-graph'], /--cuda-graph needs the model on the GPU/],
    ['--cuda-graph with Adam', ['train', '--optimizer', 'adam', '--cuda-graph'], /--cuda-graph replays SGD steps only/],
    ['a resume with nothing to resume', ['train', '--resume'], /train --resume: nothing to resume: .*checkpoint\.json does not exist/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await cli([...args, '--out', tmp(), '--no-progress']);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr, 'nothing is done before the check').not.toMatch(/device:|parameters;/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }

  it('a bad --topk for the data, and bad values for the parsers', async () => {
    const topk = await cli(['train', '--data', 'synthetic:40', '--topk', '1,20', '--out', tmp()]);
    expect(topk.status).toBe(1);
    expect(topk.stderr).toMatch(/--topk: top-20 error needs at least 20 classes; the data has 10/);
    expect(topk.stderr).not.toMatch(/device:/);
    const betas = await cli(['train', '--optimizer', 'adam', '--betas', '0.9']);
    expect(betas.status).not.toBe(0);
    expect(betas.stderr).toMatch(/expected two numbers in \[0, 1\)/);
    const optimizer = await cli(['train', '--optimizer', 'rmsprop']);
    expect(optimizer.stderr).toMatch(/Allowed choices are sgd, adam, adamw/);
  });
});

describe('data that does not fit a checkpoint', () => {
  it('eval and train --resume say the checkpoint\'s image shape and the data\'s in one sentence', async () => {
    const out = tmp();
    const trained = await cli(['train', '--model', 'cifar-resnet8', '--data', 'synthetic:40', '--batch-size', '8', '--max-steps', '2', '--out', out, '--no-progress']);
    expect(trained.status, trained.stderr).toBe(0);
    const digits = tmp();
    writeIdxSplit(digits, 'train', idxSplit(30));
    writeIdxSplit(digits, 't10k', idxSplit(10));
    const sentence = /holds cifar-resnet8 trained on 3×32×32 images in 10 classes \(synthetic:40\), but idx:.* has 1×28×28 images in 10 classes/;

    const e = await cli(['eval', '--checkpoint', join(out, 'checkpoint.json'), '--data', `idx:${digits}`]);
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(/^cudnn-resnet: eval: /);
    expect(e.stderr).toMatch(sentence);
    expect(e.stderr).not.toMatch(/conv2d/);

    const r = await cli(['train', '--model', 'cifar-resnet8', '--data', `idx:${digits}`, '--batch-size', '8', '--max-steps', '4', '--out', out, '--resume', '--no-progress']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/train --resume: /);
    expect(r.stderr).toMatch(sentence);
    expect(r.stderr).not.toMatch(/parameters;|conv2d/);

    const model = await cli(['train', '--model', 'cifar-resnet14', '--data', 'synthetic:40', '--out', out, '--resume', '--no-progress']);
    expect(model.status).toBe(1);
    expect(model.stderr).toMatch(/holds cifar-resnet8; pass --model cifar-resnet8/);
  }, 120_000);
});
