// rn.onnx.exportModel: every model of the registry, exported and run in onnxruntime-node, gives
// our own eval-mode logits within 1e-5 of their scale (max |ort − ours| / max |ours|); BN folded
// or not, batch fixed or dynamic. Bad input gets a clear error.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { randomiseAllBatchNorms, relativeError, runOnnx } from './helpers/onnx_runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOLERANCE = 1e-5;

/** Exports `model` for inputs of `shape`, runs the file in onnxruntime and compares with our forward. */
async function roundTrip(name: string, model: rn.nn.Module, shape: [number, number, number, number],
  options: { fold?: boolean; dynamicBatch?: boolean; runBatch?: number } = {}): Promise<number> {
  rn.manualSeed(1);
  randomiseAllBatchNorms(model);
  model.eval();
  if (options.fold) expect(rn.nn.fuseForInference(model)).toBeGreaterThan(0);
  const path = join(dir, `${name}.onnx`);
  rn.onnx.exportModel(model, path, { inputShape: shape, dynamicBatch: options.dynamicBatch ?? true });
  const runShape = [options.runBatch ?? shape[0], shape[1], shape[2], shape[3]];
  const x = rn.randn(runShape);
  const ours = rn.noGrad(() => model.forward(x));
  const reference = ours.toArray('float32');
  const { logits, dims } = await runOnnx(path, x.toArray('float32'), runShape);
  expect(dims).toEqual(ours.shape);
  x.dispose();
  ours.dispose();
  rmSync(path);
  const error = relativeError(logits, reference);
  console.log(`${name}: max |ort - ours| / max |ours| = ${error.toExponential(2)}`);
  return error;
}

describe('every registry model exports to ONNX and runs in onnxruntime with our logits', () => {
  const cases: [string, [number, number, number, number]][] = [
    ['resnet18', [2, 3, 64, 64]], ['resnet34', [1, 3, 64, 64]], ['resnet50', [1, 3, 64, 64]],
    ['resnet101', [1, 3, 64, 64]], ['resnet152', [1, 3, 64, 64]], ['plain18', [2, 3, 64, 64]], ['plain34', [1, 3, 64, 64]],
    ['densenet121', [1, 3, 64, 64]],
    ['cifar-resnet20', [2, 3, 32, 32]], ['cifar-plain20', [2, 3, 32, 32]], ['cifar-highway20', [2, 3, 32, 32]],
    ['cifar-densenet40', [2, 3, 32, 32]], ['cifar-preact20', [2, 3, 32, 32]], ['cifar-preact164', [1, 3, 32, 32]],
  ];
  for (const [name, shape] of cases) {
    it(name, async () => {
      const model = rn.models.createModel({ name, numClasses: 10, inChannels: 3 });
      expect(await roundTrip(name, model, shape)).toBeLessThan(TOLERANCE);
    }, 120_000);
  }
  for (const shortcut of ['A', 'B', 'C'] as const) {
    it(`cifar-resnet20 with shortcut option ${shortcut}, BN folded and not`, async () => {
      const make = () => rn.models.createModel({ name: 'cifar-resnet20', numClasses: 10, inChannels: 3, shortcut });
      expect(await roundTrip(`cifar-${shortcut}`, make(), [2, 3, 32, 32])).toBeLessThan(TOLERANCE);
      expect(await roundTrip(`cifar-${shortcut}-folded`, make(), [2, 3, 32, 32], { fold: true })).toBeLessThan(TOLERANCE);
    }, 60_000);
  }
  it('a folded ResNet-50; a dynamic batch runs at another batch size, a fixed one is declared so', async () => {
    expect(await roundTrip('resnet50-folded', rn.models.resnet50({ numClasses: 7 }), [1, 3, 64, 64], { fold: true, runBatch: 3 }))
      .toBeLessThan(TOLERANCE);
    const model = rn.models.cifarResNet({ depth: 8 }).eval();
    const fixed = join(dir, 'fixed.onnx');
    rn.onnx.exportModel(model, fixed, { inputShape: [2, 3, 32, 32], dynamicBatch: false });
    await expect(runOnnx(fixed, new Float32Array(3 * 3 * 32 * 32), [3, 3, 32, 32])).rejects.toThrow(/dimension|Got: 3/i);
    expect((await runOnnx(fixed, new Float32Array(2 * 3 * 32 * 32), [2, 3, 32, 32])).dims).toEqual([2, 10]);
  }, 120_000);
});

describe('exportModel errors', () => {
  it('names what is wrong: training mode, bad shapes and options, an unsupported module', () => {
    const model = rn.models.cifarResNet({ depth: 8 });
    const path = join(dir, 'bad.onnx');
    expect(() => rn.onnx.exportModel(model, path, { inputShape: [1, 3, 32, 32] })).toThrow(/training mode; call model.eval\(\)/);
    model.eval();
    expect(() => rn.onnx.exportModel(model, path, { inputShape: [1, 3, 32] as never })).toThrow(RangeError);
    expect(() => rn.onnx.exportModel(model, path, { inputShape: [1, 1, 32, 32] })).toThrow(/1 channels but the model's first convolution takes 3/);
    expect(() => rn.onnx.exportModel(model, path, { inputShape: [1, 3, 32, 32], opset: 9 } as never)).toThrow(/unknown option 'opset'/);
    const dense = rn.models.densenet({ depth: 10 }).eval();
    expect(() => rn.onnx.exportModel(dense, path, { inputShape: [1, 3, 2, 2] })).toThrow(/too small/);
    class Doubler extends rn.nn.Module {
      forward(x: rn.Tensor): rn.Tensor {
        return rn.scale(x, 2);
      }
    }
    const custom = new rn.nn.Sequential(new rn.nn.Conv2d(3, 4, 3), new Doubler()).eval();
    expect(() => rn.onnx.exportModel(custom, path, { inputShape: [1, 3, 8, 8] })).toThrow(/1 \(a Doubler\) has no ONNX export \(supported: ResNet/);
    expect(() => rn.onnx.exportModel({} as never, path, { inputShape: [1, 3, 8, 8] })).toThrow(TypeError);
  });

  it('writes the metadata given and an ONNX header onnxruntime reads', async () => {
    const model = rn.models.cifarResNet({ depth: 8 }).eval();
    const path = join(dir, 'meta.onnx');
    rn.onnx.exportModel(model, path, { inputShape: [1, 3, 32, 32], metadata: { classes: '["a","b"]' } });
    const bytes = readFileSync(path);
    expect(bytes.includes(Buffer.from('cudnn-resnet'))).toBe(true);
    expect(bytes.includes(Buffer.from('["a","b"]'))).toBe(true);
    expect((await runOnnx(path, new Float32Array(3 * 32 * 32), [1, 3, 32, 32])).dims).toEqual([1, 10]);
  });
});
