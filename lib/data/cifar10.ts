// The CIFAR-10 binary version: data_batch_1.bin … data_batch_5.bin (train) and test_batch.bin
// (test). Each record is 1 label byte then 3072 bytes: the R, G and B planes of a 32x32 image,
// row-major, which is already CHW order. batches.meta.txt holds the class names, one a line.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArrayDataset, checkDirectory, checkSplitOptions, sharedBytes, sharedInt32, type ImageShape } from './dataset.js';
import { fileSize } from './files.js';

const IMAGE_SHAPE: ImageShape = [3, 32, 32];
const PIXELS = 3072;
const RECORD = PIXELS + 1;
const NUM_CLASSES = 10;
const TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
const TEST_FILES = ['test_batch.bin'];
const CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const LAYOUT = 'the CIFAR-10 binary version has data_batch_1.bin … data_batch_5.bin and test_batch.bin';

export interface Cifar10Options {
  /** true: the five data_batch files (50,000 images); false: test_batch.bin (10,000). */
  train: boolean;
}

/**
 * Reads the CIFAR-10 binary version from `dir` (the extracted cifar-10-batches-bin folder).
 * Images are 3x32x32; class names come from batches.meta.txt when present.
 */
export function cifar10(dir: string, options: Cifar10Options): ArrayDataset {
  const op = 'cifar10';
  checkDirectory(op, dir);
  const files = (checkSplitOptions(op, options) ? TRAIN_FILES : TEST_FILES).map((name) => join(dir, name));
  // Check every file before reading any: sizes decide where each file's records go.
  const counts = files.map((file) => {
    const size = fileSize(op, file, LAYOUT);
    if (size === 0) throw new Error(`${op}: ${file} is empty`);
    if (size % RECORD !== 0) {
      throw new Error(`${op}: ${file} is ${size} bytes, not a multiple of ${RECORD} (1 label byte + ${PIXELS} pixel bytes per record): truncated or not the binary version`);
    }
    return size / RECORD;
  });
  const total = counts.reduce((a, b) => a + b, 0);
  const images = sharedBytes(total * PIXELS);    // (N, 3, 32, 32)
  const labels = sharedInt32(total);             // (N)
  let n = 0;
  files.forEach((file, f) => {
    const bytes = readFileSync(file);
    if (bytes.length !== counts[f]! * RECORD) throw new Error(`${op}: ${file} changed size while being read`);
    for (let r = 0; r < counts[f]!; r++, n++) {
      const label = bytes[r * RECORD]!;
      if (label >= NUM_CLASSES) throw new Error(`${op}: ${file} record ${r} has label ${label}; CIFAR-10 labels are 0..9`);
      labels[n] = label;
      images.set(bytes.subarray(r * RECORD + 1, (r + 1) * RECORD), n * PIXELS);
    }
  });
  return new ArrayDataset(images, labels, IMAGE_SHAPE, { numClasses: NUM_CLASSES, classNames: readClassNames(op, dir) });
}

function readClassNames(op: string, dir: string): string[] {
  const file = join(dir, 'batches.meta.txt');
  if (!existsSync(file)) return CLASS_NAMES;
  const names = readFileSync(file, 'utf8').split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length > 0);
  if (names.length !== NUM_CLASSES) throw new Error(`${op}: ${file} names ${names.length} classes, expected ${NUM_CLASSES} (one a line)`);
  return names;
}
