// The image pipeline of the command line, end to end in child processes: `train` on a folder of
// JPEGs and PNGs of many sizes (resized and centre-cropped by default), `eval`'s per-class table
// and confusion matrix, `predict` with the checkpoint's class names and preprocessing (checked
// against the model run here on the same preprocessing), `predict --model` on bare safetensors
// weights with ImageNet's classes, and the errors: a corrupt image, no class names.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { idxSplit, removeDir, tempDir, writeIdxSplit } from './helpers/data_files.js';
import { runNode } from './helpers/run_node.js';

const bin = fileURLToPath(new URL('../lib/bin.ts', import.meta.url));
const cli = (args: string[]) => runNode([bin, ...args]);
const dir = tempDir('cli-predict');
afterAll(() => removeDir(dir));

interface Prediction {
  image: string;
  top: { index: number; label: string; probability: number }[];
}

/** Two classes of flat colour, images of varied sizes, JPEG and PNG, in train/ and test/. */
async function makeFolder(root: string): Promise<void> {
  const colours = { blues: [20, 40, 220], reds: [220, 30, 20] };
  for (const split of ['train', 'test']) {
    for (const [name, [r, g, b]] of Object.entries(colours) as [string, number[]][]) {
      mkdirSync(join(root, split, name), { recursive: true });
      for (let i = 0; i < (split === 'train' ? 6 : 3); i++) {
        const image = sharp({ create: { width: 40 + 3 * i, height: 36 + 10 * (i % 2), channels: 3, background: { r: r! + 5 * i, g: g!, b: b! - 5 * i } } });
        await (i % 2 ? image.png() : image.jpeg()).toFile(join(root, split, name, `${i}.${i % 2 ? 'png' : 'jpg'}`));
      }
    }
  }
}

function softmax(logits: Float32Array): number[] {
  const max = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

describe('folder data, eval and predict from the command line', () => {
  const data = join(dir, 'colours');
  const run = join(dir, 'run');
  beforeAll(() => makeFolder(data));

  it('predict --help lists its options; train --help has --image-size', async () => {
    const help = await cli(['predict', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: cudnn-resnet predict \[options\] <images\.\.\.>[\s\S]*--checkpoint <file>[\s\S]*--model <name>[\s\S]*--topk <k>[\s\S]*--json/);
    expect((await cli(['train', '--help'])).stdout).toMatch(/--image-size <n>/);
  });

  it('train resizes folder images of many sizes; eval prints per-class accuracy and a confusion matrix (JSON and SVG)', async () => {
    const t = await cli(['train', '--model', 'cifar-resnet8', '--data', `folder:${data}`, '--epochs', '1', '--batch-size', '4',
      '--image-size', '24', '--out', run, '--no-progress']);
    expect(t.status, t.stderr).toBe(0);
    const state = JSON.parse(readFileSync(join(run, 'checkpoint.json'), 'utf8')) as { settings: { inference: { classNames: string[]; transforms: { name: string }[] } } };
    expect(state.settings.inference.classNames).toEqual(['blues', 'reds']);
    expect(state.settings.inference.transforms).toMatchObject([{ name: 'resize', size: 24 }, { name: 'centerCrop', size: [24, 24] },
      { name: 'toTensor' }, { name: 'normalize' }]);

    const e = await cli(['eval', '--checkpoint', join(run, 'checkpoint.json')]);
    expect(e.status, e.stderr).toBe(0);
    const report = JSON.parse(e.stdout) as { images: number; top1Error: number; perClass: { name: string; images: number; correct: number }[]; confusionMatrix: number[][]; confusionSvg: string };
    expect(report.images).toBe(6);
    expect(report.perClass.map((c) => [c.name, c.images])).toEqual([['blues', 3], ['reds', 3]]);
    expect(report.confusionMatrix.map((row) => row.reduce((a, b) => a + b, 0))).toEqual([3, 3]);
    const wrong = report.confusionMatrix[0]![1]! + report.confusionMatrix[1]![0]!;
    expect((100 * wrong) / 6).toBeCloseTo(report.top1Error, 6);
    expect(report.perClass.map((c) => c.correct)).toEqual([report.confusionMatrix[0]![0], report.confusionMatrix[1]![1]]);
    expect(e.stderr).toMatch(/class\s+images\s+correct\s+accuracy[\s\S]*blues\s+3[\s\S]*confusion matrix \(rows: true class/);
    expect(readFileSync(report.confusionSvg, 'utf8')).toMatch(/^<svg[\s\S]*blues[\s\S]*reds/);
  }, 180_000);

  it('predict prints the top-k classes with the probabilities of the model on the recorded preprocessing', async () => {
    const images = [join(data, 'test', 'blues', '0.jpg'), join(data, 'test', 'reds', '1.png')];
    const p = await cli(['predict', '--checkpoint', run, ...images, '--topk', '2', '--json']);
    expect(p.status, p.stderr).toBe(0);
    const predictions = JSON.parse(p.stdout) as Prediction[];
    expect(predictions.map((x) => x.image)).toEqual(images);

    // The same here: the checkpoint's weights, its recorded transforms, softmax.
    const state = rn.train.readCheckpointState(run).state;
    const record = state.settings.inference as { transforms: rn.vision.transforms.TransformSpec[] };
    const model = rn.models.createModel(state.model);
    rn.train.loadCheckpoint(run, model);
    model.eval();
    const preprocess = rn.vision.transforms.fromSpec(record.transforms);
    for (const [i, file] of images.entries()) {
      const x = await preprocess(file);
      const logits = rn.noGrad(() => model.forward(x.reshape([1, ...x.shape])));
      const probabilities = softmax(logits.toArray('float32'));
      const order = [0, 1].sort((a, b) => probabilities[b]! - probabilities[a]!);
      expect(predictions[i]!.top.map((t) => t.label)).toEqual(order.map((k) => ['blues', 'reds'][k]));
      predictions[i]!.top.forEach((t) => expect(t.probability).toBeCloseTo(probabilities[t.index]!, 6));
      x.dispose();
      logits.dispose();
    }
    model.dispose();

    const text = await cli(['predict', '--checkpoint', run, images[0]!, '--topk', '1']);
    expect(text.stdout).toMatch(/0\.jpg\n\s+\d+\.\d\d%\s+(blues|reds) \([01]\)\n?$/);
  }, 120_000);

  it('a corrupt image, a checkpoint without class names and weights without --model get clear errors', async () => {
    const bad = join(dir, 'broken.jpg');
    writeFileSync(bad, Buffer.from('this is not a JPEG'));
    const corrupt = await cli(['predict', '--checkpoint', run, bad]);
    expect(corrupt.status).toBe(1);
    expect(corrupt.stderr).toMatch(/cannot decode .*broken\.jpg as an image/);

    // IDX digits carry no class names (and are grey: predict reads the image with one channel).
    const digits = join(dir, 'digits');
    mkdirSync(digits);
    writeIdxSplit(digits, 'train', idxSplit(20));
    writeIdxSplit(digits, 't10k', idxSplit(10));
    const trained = join(dir, 'digits-run');
    const t = await cli(['train', '--model', 'cifar-resnet8', '--data', `idx:${digits}`, '--max-steps', '1', '--batch-size', '4', '--out', trained, '--no-progress']);
    expect(t.status, t.stderr).toBe(0);
    const image = join(data, 'test', 'reds', '0.jpg');
    const nameless = await cli(['predict', '--checkpoint', trained, image]);
    expect(nameless.status).toBe(1);
    expect(nameless.stderr).toMatch(/records no class names \(it was trained on idx:.*pass --classes FILE/);
    const classes = join(dir, 'classes.txt');
    writeFileSync(classes, Array.from({ length: 10 }, (_, i) => `digit ${i}`).join('\n'));
    const named = await cli(['predict', '--checkpoint', trained, image, '--classes', classes, '--json', '--topk', '3']);
    expect(named.status, named.stderr).toBe(0);
    expect((JSON.parse(named.stdout) as Prediction[])[0]!.top.map((x) => x.label)).toEqual(expect.arrayContaining([expect.stringMatching(/^digit \d$/)]));
    expect((JSON.parse(named.stdout) as Prediction[])[0]!.top).toHaveLength(3);

    const weights = join(dir, 'weights.safetensors');
    await rn.io.saveSafetensors(weights, rn.models.cifarResNet({ depth: 8 }).stateDict());
    const noModel = await cli(['predict', '--checkpoint', weights, image]);
    expect(noModel.stderr).toMatch(/holds weights only; name their architecture with --model/);
    const noNames = await cli(['predict', '--checkpoint', weights, '--model', 'cifar-resnet8', image]);
    expect(noNames.stderr).toMatch(/records no class names .* not ImageNet's 1000; pass --classes FILE/);
    // Class names and preprocessing in the file's metadata are used.
    const described = join(dir, 'described.safetensors');
    const names = Array.from({ length: 10 }, (_, i) => `kind ${i}`);
    const spec = rn.vision.transforms.compose([rn.vision.transforms.resize(16), rn.vision.transforms.centerCrop(16), rn.vision.transforms.toTensor()]).spec;
    await rn.io.saveSafetensors(described, rn.models.cifarResNet({ depth: 8 }).stateDict(), { classes: JSON.stringify(names), transforms: JSON.stringify(spec) });
    const withNames = await cli(['predict', '--checkpoint', described, '--model', 'cifar-resnet8', image, '--json', '--topk', '10']);
    expect(withNames.status, withNames.stderr).toBe(0);
    expect((JSON.parse(withNames.stdout) as Prediction[])[0]!.top.map((x) => x.label).sort()).toEqual(names);
  }, 180_000);
});

describe('predict --model on safetensors weights (torchvision names, ImageNet classes)', () => {
  it('a ResNet-18 state dict with 1000 classes: ImageNet names, torchvision preprocessing, the model\'s probabilities', async () => {
    rn.manualSeed(3);
    const model = rn.models.resnet18().eval();
    const weights = join(dir, 'resnet18.safetensors');
    await rn.io.saveSafetensors(weights, model.stateDict());
    const photo = join(dir, 'photo.jpg');
    const pixels = Uint8Array.from({ length: 320 * 240 * 3 }, (_, i) => (i * 37 + (i >> 7)) % 256);
    await sharp(pixels, { raw: { width: 320, height: 240, channels: 3 } }).jpeg({ quality: 90 }).toFile(photo);

    const r = await cli(['predict', '--model', 'resnet18', '--checkpoint', weights, photo, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const [prediction] = JSON.parse(r.stdout) as Prediction[];
    const x = await rn.vision.transforms.imagenet()(photo);
    const logits = rn.noGrad(() => model.forward(x.reshape([1, 3, 224, 224])));
    const probabilities = softmax(logits.toArray('float32'));
    const expected = probabilities.map((p, index) => ({ index, p })).sort((a, b) => b.p - a.p).slice(0, 5);
    expect(prediction!.top.map((t) => t.index)).toEqual(expected.map((e) => e.index));
    expect(prediction!.top.map((t) => t.label)).toEqual(expected.map((e) => rn.vision.imagenetClasses[e.index]));
    prediction!.top.forEach((t, i) => expect(t.probability).toBeCloseTo(expected[i]!.p, 6));
    expect(existsSync(weights)).toBe(true);
    x.dispose();
    logits.dispose();
    model.dispose();
  }, 120_000);
});
