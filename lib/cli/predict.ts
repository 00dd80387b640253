// `cudnn-resnet predict`: images in, the top-k classes with their probabilities out, from a
// training checkpoint (class names and preprocessing as recorded at training time) or from bare
// weights in safetensors (torchvision's state dict names) with --model.
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { noGrad } from '../autograd.js';
import { loadSafetensorsSync } from '../io/safetensors.js';
import { createModel, isCifarModel, MODEL_NAMES, type ModelSpec } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import { concat } from '../ops/shape.js';
import type { Tensor } from '../tensor.js';
import { loadCheckpoint, readCheckpointState } from '../train/checkpoint.js';
import { imagenetClasses } from '../vision/imagenet_classes.js';
import {
  IMAGENET_MEAN, IMAGENET_STD, centerCrop, fromSpec, normalize, resize, toTensor, compose, type Composed, type TransformSpec,
} from '../vision/transforms.js';
import type { DataSource } from './data_spec.js';
import { resolveDevice } from './setup.js';

/** What a checkpoint records for `predict` (under settings.inference): class names and preprocessing. */
export interface InferenceRecord {
  classNames?: string[];
  transforms: TransformSpec[];
  channels: 1 | 3;
}

/**
 * The preprocessing that gives an image what the training data looked like: its shorter side to
 * the training images' height, the central crop of their size, then the training set's
 * per-channel normalisation; and the data's class names when it has them.
 */
export function inferenceRecord(data: DataSource): InferenceRecord {
  const [channels, height, width] = data.train.imageShape;
  const preprocess = compose([resize(data.imageSize ?? Math.min(height, width)), centerCrop([height, width]), toTensor(),
    normalize(data.mean, data.std)], { channels: channels === 1 ? 1 : 3 });
  return {
    ...(data.train.classNames ? { classNames: [...data.train.classNames] } : {}),
    transforms: preprocess.spec,
    channels: preprocess.channels,
  };
}

export interface Prediction {
  image: string;
  top: { index: number; label: string; probability: number }[];
}

interface Predictor {
  model: Module;
  classNames: string[];
  preprocess: Composed;
  source: string;
}

/** The class names of a --classes file: a JSON array of strings, or one name per line. */
function readClassNames(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const names = text.trimStart().startsWith('[') ? JSON.parse(text) as unknown : text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw new TypeError(`--classes ${file}: expected a JSON array of strings or one name per line`);
  return names;
}

function checkClassCount(names: string[], numClasses: number, where: string): string[] {
  if (names.length !== numClasses) throw new RangeError(`predict: ${where} lists ${names.length} class names but the model has ${numClasses} outputs`);
  return names;
}

/** A JSON value of a safetensors file's metadata; a malformed one is an error naming the file and key. */
function metadataJson(file: string, metadata: Record<string, string>, key: string): unknown {
  try {
    return JSON.parse(metadata[key]!);
  } catch (err) {
    throw new Error(`predict: the "${key}" metadata of ${file} is not valid JSON (${(err as Error).message})`);
  }
}

/** The classes and input channels a torchvision-style state dict implies. */
function specFromWeights(name: string, tensors: Map<string, Tensor>, file: string): ModelSpec {
  const head = tensors.get('fc.weight') ?? tensors.get('classifier.weight');
  const stem = tensors.get('conv1.weight') ?? tensors.get('features.conv0.weight');
  if (!head || !stem) throw new Error(`predict: ${file} has no fc.weight / classifier.weight or stem convolution; is it a state dict of --model ${name}?`);
  return { name, numClasses: head.shape[0]!, inChannels: stem.shape[1]! };
}

function loadWeights(file: string, modelName: string | undefined, classesFile: string | undefined): Predictor {
  if (!modelName) throw new TypeError(`predict: ${file} holds weights only; name their architecture with --model (one of ${MODEL_NAMES.join(', ')})`);
  const { tensors, metadata } = loadSafetensorsSync(file);
  try {
    const spec = specFromWeights(modelName, tensors, file);
    const model = createModel(spec);
    model.loadStateDict(tensors, { castDtypes: true });
    const classNames = classesFile ? readClassNames(classesFile)
      : metadata.classes ? metadataJson(file, metadata, 'classes')
        : spec.numClasses === 1000 ? [...imagenetClasses] : null;
    if (classNames !== null && (!Array.isArray(classNames) || !classNames.every((n) => typeof n === 'string'))) {
      throw new TypeError(`predict: the "classes" metadata of ${file} must be a JSON array of strings`);
    }
    if (!classNames) {
      throw new Error(`predict: ${file} records no class names (no "classes" in its metadata) and its ${spec.numClasses} outputs are not ImageNet's 1000; pass --classes FILE`);
    }
    const side = isCifarModel(modelName) ? 32 : 224;
    const preprocess = metadata.transforms
      ? fromSpec(metadataJson(file, metadata, 'transforms') as TransformSpec[], { channels: spec.inChannels === 1 ? 1 : 3 })
      : compose([resize(side === 224 ? 256 : side), centerCrop(side), toTensor(), normalize(IMAGENET_MEAN, IMAGENET_STD)],
        { channels: spec.inChannels === 1 ? 1 : 3 });
    return { model, classNames: checkClassCount(classNames, spec.numClasses, file), preprocess, source: `${modelName} weights from ${file}` };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

function loadTrained(path: string, classesFile: string | undefined): Predictor {
  const { state } = readCheckpointState(path);
  const record = state.settings?.inference as InferenceRecord | undefined;
  if (!record) {
    throw new Error(`predict: ${path} records no preprocessing (it was written before predict existed); train again, or save the weights with rn.io.saveSafetensors and use --model`);
  }
  const classNames = classesFile ? readClassNames(classesFile) : record.classNames;
  if (!classNames) {
    throw new Error(`predict: ${path} records no class names (it was trained on ${state.data.spec}, whose classes have none); pass --classes FILE`);
  }
  const model = createModel(state.model);
  loadCheckpoint(path, model);
  return {
    model, classNames: checkClassCount(classNames, state.model.numClasses, classesFile ?? path),
    preprocess: fromSpec(record.transforms, { channels: record.channels }), source: `${state.model.name} from ${path}`,
  };
}

/** Softmax of one row of logits, then the k most probable classes. */
function topK(logits: Float32Array, k: number, classNames: string[]): Prediction['top'] {
  const max = logits.reduce((a, b) => Math.max(a, b), -Infinity);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e, index) => ({ index, label: classNames[index]!, probability: e / total }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, k);
}

/** Classifies `images` (files) in batches; the model is in eval mode on `device`. */
export async function predictImages(p: Predictor, images: string[], options: { topk: number; batchSize: number; device: 'cpu' | 'cuda' }): Promise<Prediction[]> {
  p.model.eval();
  p.model.to({ device: options.device });
  const out: Prediction[] = [];
  for (let start = 0; start < images.length; start += options.batchSize) {
    const files = images.slice(start, start + options.batchSize);
    const inputs: Tensor[] = [];
    try {
      for (const file of files) {
        const x = await p.preprocess(file);  // (C, H, W)
        inputs.push(x.reshape([1, ...x.shape]));
        x.dispose();
      }
      const logits = noGrad(() => {
        const batch = concat(inputs, 0).to(options.device);  // (N, C, H, W)
        const y = p.model.forward(batch);
        batch.dispose();
        return y;
      });
      const values = logits.toArray('float32');
      const classes = logits.shape[1]!;
      logits.dispose();
      files.forEach((image, i) => out.push({ image, top: topK(values.subarray(i * classes, (i + 1) * classes), options.topk, p.classNames) }));
    } finally {
      for (const t of inputs) t.dispose();
    }
  }
  return out;
}

function formatPredictions(predictions: Prediction[]): string {
  return predictions.map(({ image, top }) => [image, ...top.map((t) => `  ${(100 * t.probability).toFixed(2).padStart(6)}%  ${t.label} (${t.index})`)].join('\n')).join('\n');
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export function registerPredict(program: Command): void {
  program.command('predict')
    .description('classify images: the top-k classes with their probabilities, from a checkpoint or safetensors weights')
    .argument('<images...>', 'image files (JPEG, PNG, WebP ...)')
    .requiredOption('--checkpoint <file>', 'checkpoint.json (or its folder) of `train`, or a .safetensors state dict (with --model)')
    .option('--model <name>', 'the architecture of a .safetensors state dict (e.g. resnet50 for torchvision weights)')
    .option('--classes <file>', 'class names (a JSON array or one per line) when the checkpoint has none')
    .option('--topk <k>', 'classes to show per image', positiveInteger, 5)
    .option('--batch-size <n>', 'images per forward pass', positiveInteger, 16)
    .option('--device <device>', 'cpu, cuda or auto', 'cpu')
    .option('--json', 'print JSON: [{ image, top: [{ index, label, probability }] }]', false)
    .action(async (images: string[], o: { checkpoint: string; model?: string; classes?: string; topk: number; batchSize: number; device: string; json: boolean }) => {
      if (!['cpu', 'cuda', 'auto'].includes(o.device)) throw new TypeError(`--device must be cpu, cuda or auto, got '${o.device}'`);
      const { device, line } = resolveDevice(o.device as 'cpu' | 'cuda' | 'auto');
      process.stderr.write(line + '\n');
      const predictor = o.checkpoint.endsWith('.safetensors') ? loadWeights(o.checkpoint, o.model, o.classes) : loadTrained(o.checkpoint, o.classes);
      try {
        const predictions = await predictImages(predictor, images, { topk: Math.min(o.topk, predictor.classNames.length), batchSize: o.batchSize, device });
        console.log(o.json ? JSON.stringify(predictions) : formatPredictions(predictions));
      } finally {
        predictor.model.dispose();
      }
    });
}
