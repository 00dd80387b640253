// Data sources as the command line names them:
//   synthetic[:N]   the built-in procedural dataset (N training images, default 10000; test N/5)
//   cifar10:DIR     CIFAR-10 binary version (data_batch_*.bin, test_batch.bin)
//   idx:DIR         MNIST / Fashion-MNIST IDX files (plain or .gz)
//   folder:DIR      one sub-folder per class; DIR/train and DIR/test (or DIR/val) when present;
//                   images resized (shorter side) and centre-cropped to imageSize (defaultImageSize)
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cifar10, idx, imageFolder, synthetic, type Dataset } from '../data/index.js';
import { isCifarModel } from '../models/registry.js';

export interface DataSource {
  spec: string;
  train: Dataset;
  test: Dataset | null;
  numClasses: number;
  inChannels: number;
  /** Per-channel mean and standard deviation of the training images on the [0, 1] scale. */
  mean: number[];
  std: number[];
  /** Random crop + flip suits natural images, not digits. */
  augmentByDefault: boolean;
  /** folder: the side images were resized (shorter side) and centre-cropped to. */
  imageSize?: number;
}

/** The side folder images are brought to when --image-size is not given: 32 for the cifar-* nets, else 224. */
export function defaultImageSize(model: string): number {
  return isCifarModel(model) ? 32 : 224;
}

/** Per-channel mean and std over (up to) the first `limit` images. */
export function channelStatistics(dataset: Dataset, limit = 2000): { mean: number[]; std: number[] } {
  const [c, h, w] = dataset.imageShape;
  const plane = h * w;
  const sum = new Float64Array(c), sumSq = new Float64Array(c);
  const count = Math.min(limit, dataset.length);
  for (let i = 0; i < count; i++) {
    const { image } = dataset.get(i);
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < plane; p++) {
        const v = image[ch * plane + p]! / 255;
        sum[ch]! += v;
        sumSq[ch]! += v * v;
      }
    }
  }
  const n = count * plane;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sumSq, (s, ch) => Math.sqrt(Math.max(s / n - mean[ch]! ** 2, 1e-12)));
  return { mean, std };
}

export async function openData(spec: string, seed = 0, options: { imageSize?: number } = {}): Promise<DataSource> {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? '' : spec.slice(colon + 1);
  let train: Dataset, test: Dataset | null, augmentByDefault = true;
  switch (kind) {
    case 'synthetic': {
      const size = arg === '' ? 10000 : Number(arg);
      if (!Number.isInteger(size) || size < 10) throw new RangeError(`--data synthetic:N needs an integer N >= 10, got '${arg}'`);
      train = synthetic({ size, seed, train: true });
      test = synthetic({ size: Math.max(10, Math.round(size / 5)), seed, train: false });
      break;
    }
    case 'cifar10':
      if (!arg) throw new TypeError('--data cifar10:DIR needs the folder of the binary version');
      train = cifar10(arg, { train: true });
      test = cifar10(arg, { train: false });
      break;
    case 'idx':
      if (!arg) throw new TypeError('--data idx:DIR needs the folder of the IDX files');
      train = idx(arg, { train: true });
      test = idx(arg, { train: false });
      augmentByDefault = false;
      break;
    case 'folder': {
      if (!arg) throw new TypeError('--data folder:DIR needs a folder with one sub-folder per class');
      const split = ['train'].map((d) => join(arg, d)).find(existsSync);
      const testDir = ['test', 'val'].map((d) => join(arg, d)).find(existsSync);
      const folderOptions = options.imageSize ? { imageSize: options.imageSize } : {};
      train = await imageFolder(split ?? arg, folderOptions);
      test = split && testDir ? await imageFolder(testDir, folderOptions) : null;
      break;
    }
    default:
      throw new TypeError(`--data must be synthetic[:N], cifar10:DIR, idx:DIR or folder:DIR, got '${spec}'`);
  }
  const { mean, std } = channelStatistics(train);
  return { spec, train, test, numClasses: train.numClasses, inChannels: train.imageShape[0], mean, std, augmentByDefault,
    ...(kind === 'folder' && options.imageSize ? { imageSize: options.imageSize } : {}) };
}
