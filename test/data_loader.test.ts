// DataLoader: batch shapes and dtypes, normalisation, dropLast, shuffling, augmentation, epochs,
// the sync and async paths giving the same batches, and the async path's worker.
import { afterAll, describe, expect, it } from 'vitest';
import { ArrayDataset, DataLoader, normalize, randomCrop, randomHorizontalFlip, Rng, synthetic, type Batch, type Dataset, type ImageShape } from '../lib/data/index.js';
import { patternImage } from './helpers/data_files.js';

const SHAPE: ImageShape = [3, 6, 5];
const N = 23;
/** Label i for image i, so a batch's labels say which samples it holds. */
function indexedDataset(): ArrayDataset {
  const images = new Uint8Array(N * 90);
  for (let i = 0; i < N; i++) images.set(patternImage(90, i + 1), i * 90);
  return new ArrayDataset(images, Int32Array.from({ length: N }, (_, i) => i), SHAPE);
}

interface Collected {
  images: Float32Array[];
  labels: number[][];
  shapes: number[][];
}

function take(batch: Batch, into: Collected): void {
  expect(batch.images.dtype).toBe('float32');
  expect(batch.labels.dtype).toBe('int64');
  into.images.push(batch.images.toArray() as Float32Array);
  into.labels.push(Array.from(batch.labels.toArray() as BigInt64Array, Number));
  into.shapes.push([...batch.images.shape, ...batch.labels.shape]);
  batch.images.dispose();
  batch.labels.dispose();
}

function collect(loader: DataLoader): Collected {
  const out: Collected = { images: [], labels: [], shapes: [] };
  for (const batch of loader) take(batch, out);
  return out;
}

async function collectAsync(loader: DataLoader): Promise<Collected> {
  const out: Collected = { images: [], labels: [], shapes: [] };
  for await (const batch of loader) take(batch, out);
  return out;
}

const loaders: DataLoader[] = [];
function loaderFor(dataset: Dataset, options: ConstructorParameters<typeof DataLoader>[1]): DataLoader {
  const loader = new DataLoader(dataset, options);
  loaders.push(loader);
  return loader;
}
afterAll(async () => {
  await Promise.all(loaders.map((l) => l.close()));
});

describe('DataLoader batches', () => {
  it('yields (B, C, H, W) float32 images and (B) int64 labels, the last batch smaller', () => {
    const loader = loaderFor(indexedDataset(), { batchSize: 5 });
    expect(loader.length).toBe(5);
    const got = collect(loader);
    expect(got.shapes).toEqual([[5, 3, 6, 5, 5], [5, 3, 6, 5, 5], [5, 3, 6, 5, 5], [5, 3, 6, 5, 5], [3, 3, 6, 5, 3]]);
    expect(got.labels.flat()).toEqual(Array.from({ length: N }, (_, i) => i));
  });

  it('dropLast drops the incomplete batch', () => {
    const loader = loaderFor(indexedDataset(), { batchSize: 5, dropLast: true });
    expect(loader.length).toBe(4);
    expect(collect(loader).shapes.map((s) => s[0])).toEqual([5, 5, 5, 5]);
    expect(collect(loaderFor(indexedDataset(), { batchSize: 30, dropLast: true })).shapes).toEqual([]);
  });

  it('normalises with mean and std exactly as normalize() does, default scale [0, 1]', () => {
    const dataset = indexedDataset();
    const mean = [0.4, 0.5, 0.6];
    const std = [0.2, 0.3, 0.1];
    const got = collect(loaderFor(dataset, { batchSize: 4, mean, std }));
    const norm = normalize(mean, std);
    for (let i = 0; i < N; i++) {
      const sample = got.images[Math.floor(i / 4)]!.subarray((i % 4) * 90, (i % 4 + 1) * 90);
      expect(sample).toEqual(norm(dataset.get(i).image, SHAPE));
      expect(sample[7]).toBeCloseTo((dataset.get(i).image[7]! / 255 - 0.4) / 0.2, 5);
    }
    const plain = collect(loaderFor(dataset, { batchSize: N }));
    expect(plain.images[0]![0]).toBeCloseTo(dataset.get(0).image[0]! / 255, 6);
  });

  it('channelsLast gives the same logical values in NHWC storage', () => {
    const loader = loaderFor(indexedDataset(), { batchSize: 8, memoryFormat: 'channelsLast' });
    const [batch] = loader;
    expect(batch!.images.memoryFormat).toBe('channelsLast');
    const contiguous = collect(loaderFor(indexedDataset(), { batchSize: 8 })).images[0];
    expect(batch!.images.toArray()).toEqual(contiguous);
    batch!.images.dispose();
    batch!.labels.dispose();
  });

  it('works on a dataset that only has get()', async () => {
    const inner = indexedDataset();
    const plain: Dataset = { length: N, numClasses: N, imageShape: SHAPE, get: (i) => inner.get(i) };
    const options = { batchSize: 6, shuffle: true, augment: true, seed: 4 };
    const got = collect(loaderFor(plain, options));
    expect(got).toEqual(collect(loaderFor(inner, options)));
    expect(await collectAsync(loaderFor(plain, options))).toEqual(got);
  });
});

describe('DataLoader shuffling, augmentation and epochs', () => {
  it('shuffle gives a permutation per epoch, new each epoch, the same for the same seed and epoch', () => {
    const loader = loaderFor(indexedDataset(), { batchSize: 4, shuffle: true, seed: 3 });
    const identity = Array.from({ length: N }, (_, i) => i);
    const epoch0 = collect(loader).labels.flat();
    expect(loader.epoch).toBe(1);
    const epoch1 = collect(loader).labels.flat();
    expect([...epoch0].sort((a, b) => a - b)).toEqual(identity);
    expect([...epoch1].sort((a, b) => a - b)).toEqual(identity);
    expect(epoch0).not.toEqual(identity);
    expect(epoch1).not.toEqual(epoch0);
    loader.setEpoch(0);
    expect(collect(loader).labels.flat()).toEqual(epoch0);
    const again = loaderFor(indexedDataset(), { batchSize: 7, shuffle: true, seed: 3 });
    expect(collect(again).labels.flat()).toEqual(epoch0);
    const otherSeed = loaderFor(indexedDataset(), { batchSize: 4, shuffle: true, seed: 4 });
    expect(collect(otherSeed).labels.flat()).not.toEqual(epoch0);
  });

  it('augments as randomCrop then randomHorizontalFlip drawing from new Rng(seed, epoch) after the permutation', () => {
    const dataset = indexedDataset();
    const mean = [0.5, 0.5, 0.5];
    const std = [0.25, 0.25, 0.25];
    const loader = loaderFor(dataset, { batchSize: 5, shuffle: true, augment: true, seed: 12, mean, std });
    loader.setEpoch(2);
    const got = collect(loader);
    const rng = new Rng(12, 2);
    const order = rng.permutation(N);
    const norm = normalize(mean, std);
    order.forEach((index, k) => {
      const expected = norm(randomHorizontalFlip(randomCrop(dataset.get(index).image, SHAPE, 4, rng), SHAPE, rng), SHAPE);
      expect(got.labels[Math.floor(k / 5)]![k % 5]).toBe(index);
      expect(got.images[Math.floor(k / 5)]!.subarray((k % 5) * 90, (k % 5 + 1) * 90)).toEqual(expected);
    });
  });

  it('the sync and async paths give identical batches for the same seed and epoch', async () => {
    const dataset = synthetic({ size: 300, seed: 2 });
    const options = { batchSize: 32, shuffle: true, augment: true, seed: 9, mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2] };
    const sync = loaderFor(dataset, options);
    const async = loaderFor(dataset, { ...options, prefetch: 3 });
    for (const epoch of [0, 1]) {
      const expected = collect(sync);
      const got = await collectAsync(async);
      expect(async.epoch).toBe(epoch + 1);
      expect(got.shapes).toEqual(expected.shapes);
      expect(got.labels).toEqual(expected.labels);
      got.images.forEach((images, b) => expect(Buffer.compare(Buffer.from(images.buffer), Buffer.from(expected.images[b]!.buffer))).toBe(0));
    }
  });

  it('an async iteration left early, and close(), leave the loader usable', async () => {
    const loader = loaderFor(indexedDataset(), { batchSize: 2, shuffle: true, seed: 1 });
    for await (const batch of loader) {
      batch.images.dispose();
      batch.labels.dispose();
      break;
    }
    await loader.close();
    loader.setEpoch(0);
    const got = await collectAsync(loader);
    loader.setEpoch(0);
    expect(got).toEqual(collect(loader));
  });
});

describe('DataLoader prefetch worker', () => {
  it('assembles batches off the main thread: they become ready while the main thread is busy', async () => {
    const loader = loaderFor(synthetic({ size: 1024, seed: 1 }), { batchSize: 128, augment: true, prefetch: 2 });
    const iterator = loader[Symbol.asyncIterator]();
    const first = iterator.next();            // starts the worker and sends batches 0, 1 and 2
    expect(loader.prefetchedBatches).toBe(0);
    const deadline = performance.now() + 60_000;
    while (loader.prefetchedBatches < 3 && performance.now() < deadline) {
      // Busy: this thread runs no event loop until the worker has assembled all three batches.
    }
    expect(loader.prefetchedBatches).toBe(3);
    const { value } = await first;
    expect(value!.images.shape).toEqual([128, 3, 32, 32]);
    value!.images.dispose();
    value!.labels.dispose();
    await iterator.return(undefined);
  });

  it('rejects bad options', () => {
    const ds = indexedDataset();
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow(RangeError);
    expect(() => new DataLoader(ds, { batchSize: 1.5 })).toThrow(TypeError);
    expect(() => new DataLoader(ds, undefined as unknown as { batchSize: number })).toThrow(TypeError);
    expect(() => new DataLoader(ds, { batchSize: 2, shuffle: 1 as unknown as boolean })).toThrow('shuffle must be a boolean');
    expect(() => new DataLoader(ds, { batchSize: 2, seed: -1 })).toThrow(RangeError);
    expect(() => new DataLoader(ds, { batchSize: 2, mean: [0.5], std: [0.5] })).toThrow('mean and std have 1 entries but the images have 3 channels');
    expect(() => new DataLoader(ds, { batchSize: 2, mean: [0, 0, 0], std: [1, 0, 1] })).toThrow(RangeError);
    expect(() => new DataLoader(ds, { batchSize: 2, memoryFormat: 'nhwc' as 'channelsLast' })).toThrow(TypeError);
    expect(() => new DataLoader(ds, { batchSize: 2, prefetch: 0 })).toThrow(RangeError);
    expect(() => new DataLoader(ds, { batchSize: 2, padding: -2 })).toThrow(RangeError);
    expect(() => new DataLoader(ds, { batchSize: 2, shufle: true } as { batchSize: number })).toThrow("unknown option 'shufle'");
    expect(() => new DataLoader({} as Dataset, { batchSize: 2 })).toThrow(TypeError);
    expect(() => new DataLoader(ds, { batchSize: 2 }).setEpoch(-1)).toThrow(RangeError);
  });
});

describe('DataLoader resuming inside an epoch', () => {
  it('setEpoch(e, k) yields exactly batches k.. of epoch e, on both paths', async () => {
    const { DataLoader, synthetic } = await import('../lib/data/index.js');
    const { scope } = await import('../lib/memory.js');
    const loader = new DataLoader(synthetic({ size: 50, seed: 3 }), { batchSize: 8, shuffle: true, augment: true, seed: 9 });
    const all = scope(() => {
      loader.setEpoch(2);
      return [...loader].map((b) => [Array.from(b.images.toArray() as Float32Array), Array.from(b.labels.toArray(), Number)]);
    });
    loader.setEpoch(2, 4);
    const tail = scope(() => [...loader].map((b) => [Array.from(b.images.toArray() as Float32Array), Array.from(b.labels.toArray(), Number)]));
    expect(tail).toEqual(all.slice(4));
    loader.setEpoch(2, 5);
    const asyncTail: unknown[] = [];
    for await (const b of loader) {
      asyncTail.push([Array.from(b.images.toArray() as Float32Array), Array.from(b.labels.toArray(), Number)]);
      b.images.dispose();
      b.labels.dispose();
    }
    expect(asyncTail).toEqual(all.slice(5));
    expect(() => loader.setEpoch(0, 99)).toThrow(RangeError);
    await loader.close();
  });
});
