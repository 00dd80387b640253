// MNIST-style IDX files (MNIST, Fashion-MNIST): train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each plain or gzip-compressed (a .gz name, or
// any file starting with gzip's magic number). An IDX file is a big-endian header, magic number
// 0x000008NN (0x08: uint8 data, NN: the number of dimensions), one uint32 per dimension, then
// the data in row-major order.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArrayDataset, checkDirectory, checkSplitOptions, sharedBytes, sharedInt32 } from './dataset.js';
import { fileSize, readMaybeGzip } from './files.js';

const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;
const MNIST_CLASSES = 10;

export interface IdxOptions {
  /** true: the train-* files; false: the t10k-* files. */
  train: boolean;
}

interface IdxContents {
  dims: number[];
  data: Uint8Array;
}

/**
 * Reads an IDX split from `dir`. Images are 1xHxW (1x28x28 for MNIST and Fashion-MNIST);
 * numClasses is 10, or the largest label + 1 when that is more (EMNIST).
 */
export function idx(dir: string, options: IdxOptions): ArrayDataset {
  const op = 'idx';
  checkDirectory(op, dir);
  const prefix = checkSplitOptions(op, options) ? 'train' : 't10k';
  const imagesFile = findIdxFile(op, dir, `${prefix}-images-idx3-ubyte`);
  const labelsFile = findIdxFile(op, dir, `${prefix}-labels-idx1-ubyte`);
  const imagesIdx = parseIdx(op, imagesFile, IMAGES_MAGIC, 'uint8 images with 3 dimensions');
  const labelsIdx = parseIdx(op, labelsFile, LABELS_MAGIC, 'uint8 labels with 1 dimension');
  const [count, height, width] = imagesIdx.dims as [number, number, number];
  if (labelsIdx.dims[0] !== count) {
    throw new Error(`${op}: ${imagesFile} holds ${count} images but ${labelsFile} holds ${labelsIdx.dims[0]} labels`);
  }
  const images = sharedBytes(imagesIdx.data.length);   // (N, 1, H, W)
  images.set(imagesIdx.data);
  const labels = sharedInt32(count);                    // (N)
  labels.set(labelsIdx.data);
  const maxLabel = labels.reduce((a, b) => Math.max(a, b), -1);
  return new ArrayDataset(images, labels, [1, height, width], { numClasses: Math.max(MNIST_CLASSES, maxLabel + 1) });
}

/** `name` in `dir`, or `name.gz` when only that exists. */
function findIdxFile(op: string, dir: string, name: string): string {
  const plain = join(dir, name);
  const gzipped = `${plain}.gz`;
  if (!existsSync(plain) && existsSync(gzipped)) return gzipped;
  fileSize(op, plain, `neither it nor ${name}.gz is in ${dir}`);
  return plain;
}

function parseIdx(op: string, file: string, magic: number, what: string): IdxContents {
  const bytes = readMaybeGzip(op, file);
  if (bytes.length < 4) throw new Error(`${op}: ${file} is truncated: ${bytes.length} bytes cannot hold an IDX header`);
  const found = bytes.readUInt32BE(0);
  if (found !== magic) {
    throw new Error(`${op}: ${file} has magic number ${hex(found)}, expected ${hex(magic)} (${what})`);
  }
  const ndim = magic & 0xff;
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) throw new Error(`${op}: ${file} is truncated inside its ${headerBytes}-byte header`);
  const dims = Array.from({ length: ndim }, (_, d) => bytes.readUInt32BE(4 + 4 * d));
  const dataBytes = dims.reduce((a, b) => a * b, 1);
  const present = bytes.length - headerBytes;
  if (present < dataBytes) {
    throw new Error(`${op}: ${file} is truncated: its header promises ${dims.join(' x ')} = ${dataBytes} bytes of data, only ${present} follow`);
  }
  if (present > dataBytes) {
    throw new Error(`${op}: ${file} has ${present - dataBytes} bytes past the ${dataBytes} bytes of data its header describes (${dims.join(' x ')})`);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
