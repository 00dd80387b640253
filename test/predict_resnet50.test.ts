// torchvision's ResNet-50 end to end, against PyTorch: its state dict as safetensors (seeded
// random weights: no pretrained ones offline), an image, torchvision's ImageNet preprocessing.
// Made at test time by test/fixtures/make_resnet50_predict.py (see there; ~100 MB, not
// committed) when /usr/bin/python3 has torch, else skipped with the reason. Checks:
//   - rn.vision.transforms.imagenet() gives torchvision's input tensor for the image;
//   - our logits, and onnxruntime's on our ONNX export, equal PyTorch's (1e-5 of their scale);
//   - `cudnn-resnet predict --model resnet50` prints PyTorch's top-5 classes and probabilities.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { removeDir, tempDir } from './helpers/data_files.js';
import { relativeError, runOnnx } from './helpers/onnx_runtime.js';
import { runNode } from './helpers/run_node.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./fixtures/make_resnet50_predict.py', import.meta.url));
const bin = fileURLToPath(new URL('../lib/bin.ts', import.meta.url));

function torchMissing(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import numpy, torch, torchvision, PIL'], { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 ? null : `${PYTHON} cannot import torch, torchvision and PIL: ${(r.stderr ?? '').trim().split('\n').pop()}`;
}
const missing = torchMissing();
if (missing) console.log(`predict_resnet50: skipped: ${missing}`);

describe.skipIf(missing !== null)('torchvision ResNet-50 weights: preprocessing, logits, ONNX and predict against PyTorch', () => {
  let dir = '';
  let input: rn.Tensor;
  let torchLogits: Float32Array;
  const model = rn.models.resnet50();

  beforeAll(async () => {
    dir = tempDir('resnet50');
    const r = spawnSync(PYTHON, [SCRIPT, dir], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`${SCRIPT} failed: ${r.stderr}`);
    const expected = await rn.io.loadSafetensors(join(dir, 'expected.safetensors'));
    input = expected.tensors.get('input')!;
    torchLogits = expected.tensors.get('logits')!.toArray('float32');
    model.loadStateDict((await rn.io.loadSafetensors(join(dir, 'resnet50.safetensors'))).tensors);
    model.eval();
  }, 300_000);
  afterAll(() => {
    model.dispose();
    input?.dispose();
    removeDir(dir);
  });

  it('our ImageNet preprocessing of the image is torchvision\'s', async () => {
    const ours = await rn.vision.transforms.imagenet()(join(dir, 'image.png'));
    expect(ours.shape).toEqual([3, 224, 224]);
    expect(relativeError(ours.toArray('float32'), input.toArray('float32'))).toBeLessThan(1e-6);
    ours.dispose();
  });

  it('our logits and onnxruntime\'s on the exported file equal PyTorch\'s', async () => {
    const ours = rn.noGrad(() => model.forward(input));
    const ourError = relativeError(ours.toArray('float32'), torchLogits);
    ours.dispose();
    const path = join(dir, 'resnet50.onnx');
    rn.onnx.exportModel(model, path, { inputShape: [1, 3, 224, 224] });
    const { logits } = await runOnnx(path, input.toArray('float32'), [1, 3, 224, 224]);
    const ortError = relativeError(logits, torchLogits);
    console.log(`ResNet-50 vs PyTorch: ours ${ourError.toExponential(2)}, onnxruntime on our export ${ortError.toExponential(2)}`);
    expect(ourError).toBeLessThan(1e-5);
    expect(ortError).toBeLessThan(1e-5);
  }, 120_000);

  it('predict --model resnet50 prints PyTorch\'s top-5 ImageNet classes and probabilities', async () => {
    const r = await runNode([bin, 'predict', '--model', 'resnet50', '--checkpoint', join(dir, 'resnet50.safetensors'),
      join(dir, 'image.png'), '--topk', '5', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const [prediction] = JSON.parse(r.stdout) as { image: string; top: { index: number; label: string; probability: number }[] }[];
    const max = Math.max(...torchLogits);
    const exps = Array.from(torchLogits, (v) => Math.exp(v - max));
    const total = exps.reduce((a, b) => a + b, 0);
    const expected = exps.map((e, index) => ({ index, probability: e / total })).sort((a, b) => b.probability - a.probability).slice(0, 5);
    expect(prediction!.top.map((t) => t.index)).toEqual(expected.map((e) => e.index));
    expect(prediction!.top.map((t) => t.label)).toEqual(expected.map((e) => rn.vision.imagenetClasses[e.index]));
    prediction!.top.forEach((t, i) => expect(t.probability).toBeCloseTo(expected[i]!.probability, 5));
  }, 120_000);
});
