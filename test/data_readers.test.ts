// The CIFAR-10 and IDX readers on small files written here in the real formats, and on broken ones.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { cifar10, idx } from '../lib/data/index.js';
import { cifarRecords, idxFile, idxSplit, patternImage, removeDir, tempDir, writeIdxSplit, type LabelledImage } from './helpers/data_files.js';

const dirs: string[] = [];
function freshDir(prefix: string): string {
  const dir = tempDir(prefix);
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach(removeDir));

function cifarSamples(count: number, first: number): LabelledImage[] {
  return Array.from({ length: count }, (_, k) => ({ label: (first + k) % 10, image: patternImage(3072, first + k) }));
}

/** A CIFAR-10 folder: batch b of the train split holds counts[b] records; test_batch holds 3. */
function writeCifar(counts = [2, 3, 1, 2, 2]): { dir: string; train: LabelledImage[]; test: LabelledImage[] } {
  const dir = freshDir('cifar');
  const train: LabelledImage[] = [];
  counts.forEach((count, b) => {
    const samples = cifarSamples(count, train.length);
    train.push(...samples);
    writeFileSync(join(dir, `data_batch_${b + 1}.bin`), cifarRecords(samples));
  });
  const test = cifarSamples(3, 100);
  writeFileSync(join(dir, 'test_batch.bin'), cifarRecords(test));
  return { dir, train, test };
}

describe('cifar10', () => {
  it('reads the five train batches in order, CHW bytes and labels as written', () => {
    const { dir, train } = writeCifar();
    writeFileSync(join(dir, 'batches.meta.txt'), 'a0\na1\na2\na3\na4\na5\na6\na7\na8\na9\n\n');
    const ds = cifar10(dir, { train: true });
    expect(ds.length).toBe(10);
    expect(ds.imageShape).toEqual([3, 32, 32]);
    expect(ds.numClasses).toBe(10);
    expect(ds.classNames).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
    train.forEach((sample, i) => {
      const got = ds.get(i);
      expect(got.label).toBe(sample.label);
      expect(got.image).toEqual(sample.image);
    });
    const arrays = ds.arrays();
    expect(arrays.images.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(arrays.labels)).toEqual(train.map((s) => s.label));
  });

  it('reads test_batch.bin for the test split, with the standard class names when there is no meta file', () => {
    const { dir, test } = writeCifar();
    const ds = cifar10(dir, { train: false });
    expect(ds.length).toBe(3);
    expect(ds.get(2)).toEqual({ image: test[2]!.image, label: test[2]!.label });
    expect(ds.classNames?.[0]).toBe('airplane');
    expect(ds.classNames?.[9]).toBe('truck');
  });

  it('get() returns a copy and rejects bad indices', () => {
    const { dir } = writeCifar();
    const ds = cifar10(dir, { train: false });
    ds.get(0).image.fill(0);
    expect(ds.get(0).image.some((v) => v !== 0)).toBe(true);
    expect(() => ds.get(3)).toThrow(RangeError);
    expect(() => ds.get(1.5)).toThrow(TypeError);
  });

  it('names a missing batch file', () => {
    const { dir } = writeCifar();
    rmSync(join(dir, 'data_batch_3.bin'));
    expect(() => cifar10(dir, { train: true })).toThrow(`${join(dir, 'data_batch_3.bin')} is missing`);
  });

  it('names a file whose size is not a multiple of 3073', () => {
    const { dir } = writeCifar();
    const file = join(dir, 'data_batch_4.bin');
    writeFileSync(file, readFileSync(file).subarray(0, 3073 + 100));
    expect(() => cifar10(dir, { train: true })).toThrow(`${file} is 3173 bytes, not a multiple of 3073`);
  });

  it('names a file with a label above 9 and the record', () => {
    const { dir } = writeCifar();
    const file = join(dir, 'test_batch.bin');
    const bytes = readFileSync(file);
    bytes[3073] = 12;
    writeFileSync(file, bytes);
    expect(() => cifar10(dir, { train: false })).toThrow(`${file} record 1 has label 12`);
  });

  it('names an empty file and a meta file without ten names', () => {
    const { dir } = writeCifar();
    writeFileSync(join(dir, 'batches.meta.txt'), 'cat\ndog\n');
    expect(() => cifar10(dir, { train: false })).toThrow(`${join(dir, 'batches.meta.txt')} names 2 classes`);
    writeFileSync(join(dir, 'test_batch.bin'), new Uint8Array(0));
    expect(() => cifar10(dir, { train: false })).toThrow(`${join(dir, 'test_batch.bin')} is empty`);
  });

  it('rejects bad arguments', () => {
    expect(() => cifar10(42 as unknown as string, { train: true })).toThrow(TypeError);
    expect(() => cifar10('/tmp', {} as { train: boolean })).toThrow('options.train must be a boolean');
    expect(() => cifar10('/tmp', { train: true, size: 3 } as { train: boolean })).toThrow("unknown option 'size'");
    expect(() => cifar10('/tmp', undefined as unknown as { train: boolean })).toThrow(TypeError);
  });
});

describe('idx', () => {
  it('reads plain IDX files: 1xHxW images and labels', () => {
    const dir = freshDir('idx');
    const split = idxSplit(5);
    writeIdxSplit(dir, 'train', split);
    const ds = idx(dir, { train: true });
    expect(ds.length).toBe(5);
    expect(ds.imageShape).toEqual([1, 28, 28]);
    expect(ds.numClasses).toBe(10);
    for (let i = 0; i < 5; i++) {
      expect(ds.get(i).image).toEqual(split.images.subarray(i * 784, (i + 1) * 784));
      expect(ds.get(i).label).toBe(i % 10);
    }
  });

  it('reads gzip files named .gz, and gzip content under the plain name (magic 1f 8b)', () => {
    const dir = freshDir('idx-gz');
    const test = idxSplit(4, 6, 5);
    writeIdxSplit(dir, 't10k', test, true);
    const gz = idx(dir, { train: false });
    expect(gz.imageShape).toEqual([1, 6, 5]);
    expect(gz.arrays().images).toEqual(test.images);
    expect(Array.from(gz.arrays().labels)).toEqual(Array.from(test.labels));

    const train = idxSplit(3);
    writeIdxSplit(dir, 'train', train);
    const imagesFile = join(dir, 'train-images-idx3-ubyte');
    writeFileSync(imagesFile, gzipSync(readFileSync(imagesFile)));
    expect(idx(dir, { train: true }).arrays().images).toEqual(train.images);
  });

  it('numClasses follows labels above 9', () => {
    const dir = freshDir('idx-classes');
    const split = idxSplit(3, 4, 4);
    split.labels.set([0, 25, 3]);
    writeIdxSplit(dir, 'train', split);
    expect(idx(dir, { train: true }).numClasses).toBe(26);
  });

  it('names a missing file', () => {
    const dir = freshDir('idx-missing');
    writeIdxSplit(dir, 'train', idxSplit(2));
    rmSync(join(dir, 'train-labels-idx1-ubyte'));
    expect(() => idx(dir, { train: true })).toThrow(`${join(dir, 'train-labels-idx1-ubyte')} is missing (neither it nor train-labels-idx1-ubyte.gz`);
  });

  it('names a file with the wrong magic number', () => {
    const dir = freshDir('idx-magic');
    const split = idxSplit(2);
    writeIdxSplit(dir, 'train', split);
    const file = join(dir, 'train-images-idx3-ubyte');
    writeFileSync(file, idxFile([2, 28, 28], split.images, 0x00000d03));
    expect(() => idx(dir, { train: true })).toThrow(`${file} has magic number 0x00000d03, expected 0x00000803`);
    // A labels file where the images belong.
    writeFileSync(file, idxFile([2], split.labels));
    expect(() => idx(dir, { train: true })).toThrow(`${file} has magic number 0x00000801, expected 0x00000803`);
  });

  it('names truncated files: plain data, header, and gzip stream', () => {
    const dir = freshDir('idx-truncated');
    writeIdxSplit(dir, 'train', idxSplit(3));
    const file = join(dir, 'train-images-idx3-ubyte');
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, whole.length - 10));
    expect(() => idx(dir, { train: true })).toThrow(`${file} is truncated: its header promises 3 x 28 x 28 = 2352 bytes of data, only 2342 follow`);
    writeFileSync(file, whole.subarray(0, 9));
    expect(() => idx(dir, { train: true })).toThrow(`${file} is truncated inside its 16-byte header`);
    const gzFile = join(dir, 'train-labels-idx1-ubyte');
    const gz = gzipSync(readFileSync(gzFile));
    writeFileSync(file, whole);
    writeFileSync(gzFile, gz.subarray(0, gz.length - 8));
    expect(() => idx(dir, { train: true })).toThrow(`${gzFile} is not a valid gzip stream`);
  });

  it('names a file with bytes past its data', () => {
    const dir = freshDir('idx-trailing');
    writeIdxSplit(dir, 'train', idxSplit(2));
    const file = join(dir, 'train-labels-idx1-ubyte');
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from([1, 2, 3])]));
    expect(() => idx(dir, { train: true })).toThrow(`${file} has 3 bytes past the 2 bytes of data its header describes (2)`);
  });

  it('names both files when the counts disagree', () => {
    const dir = freshDir('idx-counts');
    const split = idxSplit(5);
    writeIdxSplit(dir, 'train', split);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxFile([4], split.labels.subarray(0, 4)));
    expect(() => idx(dir, { train: true })).toThrow(
      `${join(dir, 'train-images-idx3-ubyte')} holds 5 images but ${join(dir, 'train-labels-idx1-ubyte')} holds 4 labels`);
  });

  const fashion = '/usr/share/datasets/fashion-mnist';
  it.skipIf(!existsSync(join(fashion, 't10k-images-idx3-ubyte.gz')))('reads Debian\'s Fashion-MNIST test split when it is installed', () => {
    const ds = idx(fashion, { train: false });
    expect(ds.length).toBe(10000);
    expect(ds.imageShape).toEqual([1, 28, 28]);
    const counts = new Array<number>(10).fill(0);
    for (const label of ds.arrays().labels) counts[label]!++;
    expect(counts).toEqual(new Array<number>(10).fill(1000));
  });
});
