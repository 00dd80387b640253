// Validation of the parts of a safetensors header: one tensor entry, the __metadata__ map, and
// the byte ranges of all tensors together.
import { READ_CODECS, READABLE_DTYPE_NAMES, type SafetensorsDType } from './safetensors_dtypes.js';
import { SafetensorsError, quoteForMessage } from './safetensors_error.js';

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** [begin, end): the tensor's bytes, counted from the start of the data buffer. */
  readonly dataOffsets: readonly [number, number];
}

const ENTRY_FIELDS = ['dtype', 'shape', 'data_offsets'];

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${quoteForMessage(value, 40)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function formatList(values: readonly unknown[]): string {
  const shown = values.slice(0, 8).map(String).join(', ');
  return `[${values.length > 8 ? `${shown}, … ${values.length - 8} more` : shown}]`;
}

/** A non-negative integer that a JS number holds exactly, or a SafetensorsError for `what`. */
function checkCount(file: string, tensor: string, what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SafetensorsError(file, tensor, `${what} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

/** The element count of `shape`, or Infinity when it exceeds `limit` (the count is then too large anyway). */
function elementCount(shape: readonly number[], limit: number): number {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const size of shape) {
    count *= size;
    if (count > limit) return Infinity;
  }
  return count;
}

function parseShape(file: string, name: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw new SafetensorsError(file, name, `shape must be an array of non-negative integers, got ${describe(shape)}`);
  return shape.map((size, i) => checkCount(file, name, `shape[${i}]`, size));
}

function parseOffsets(file: string, name: string, offsets: unknown, dataBytes: number): [number, number] {
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    const got = Array.isArray(offsets) ? `an array of ${offsets.length}` : describe(offsets);
    throw new SafetensorsError(file, name, `data_offsets must be a [begin, end] pair of byte offsets, got ${got}`);
  }
  const begin = checkCount(file, name, 'data_offsets[0] (begin)', offsets[0]);
  const end = checkCount(file, name, 'data_offsets[1] (end)', offsets[1]);
  if (end < begin) throw new SafetensorsError(file, name, `data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataBytes) {
    throw new SafetensorsError(file, name, `data_offsets [${begin}, ${end}] reach beyond the data buffer, which has ${dataBytes} bytes`);
  }
  return [begin, end];
}

/** One tensor's entry: exactly dtype, shape and data_offsets, consistent with each other and the buffer size. */
export function parseTensorEntry(file: string, name: string, entry: unknown, dataBytes: number): SafetensorsTensorInfo {
  if (!isPlainObject(entry)) {
    throw new SafetensorsError(file, name, `the entry must be an object with dtype, shape and data_offsets, got ${describe(entry)}`);
  }
  for (const field of ENTRY_FIELDS) {
    if (!Object.hasOwn(entry, field)) throw new SafetensorsError(file, name, `the entry has no ${field}`);
  }
  for (const field of Object.keys(entry)) {
    if (!ENTRY_FIELDS.includes(field)) {
      throw new SafetensorsError(file, name, `the entry has an unknown field ${quoteForMessage(field)} (expected only ${ENTRY_FIELDS.join(', ')})`);
    }
  }
  const { dtype } = entry;
  if (typeof dtype !== 'string') throw new SafetensorsError(file, name, `dtype must be a string, got ${describe(dtype)}`);
  const codec = READ_CODECS.get(dtype);
  if (!codec) {
    throw new SafetensorsError(file, name, `unknown or unsupported dtype ${quoteForMessage(dtype, 40)} (supported: ${READABLE_DTYPE_NAMES.join(', ')})`);
  }
  const shape = parseShape(file, name, entry.shape);
  const [begin, end] = parseOffsets(file, name, entry.data_offsets, dataBytes);
  const count = elementCount(shape, dataBytes);
  if (count * codec.itemSize !== end - begin) {
    const needed = Number.isFinite(count) ? `${count * codec.itemSize} bytes` : `more bytes than the whole data buffer holds`;
    throw new SafetensorsError(file, name, `shape ${formatList(shape)} of ${dtype} needs ${needed}, but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, dtype: dtype as SafetensorsDType, shape, dataOffsets: [begin, end] };
}

/** The __metadata__ entry: an object whose values are all strings. */
export function parseMetadata(file: string, metadata: unknown): Record<string, string> {
  if (!isPlainObject(metadata)) {
    throw new SafetensorsError(file, undefined, `__metadata__ must be an object of strings, got ${describe(metadata)}`);
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(file, undefined, `__metadata__ value of key ${quoteForMessage(key)} must be a string, got ${describe(value)}`);
    }
  }
  return Object.fromEntries(Object.entries(metadata)) as Record<string, string>;
}

/**
 * Checks that the tensors' byte ranges, in order, tile the data buffer exactly: no overlap, no
 * gap, nothing left over at the end. Returns the tensors in that order.
 */
export function checkDataCoverage(file: string, tensors: readonly SafetensorsTensorInfo[], dataBytes: number): SafetensorsTensorInfo[] {
  const ordered = [...tensors].sort((a, b) =>
    a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let covered = 0;
  let previous: SafetensorsTensorInfo | undefined;
  for (const info of ordered) {
    const [begin, end] = info.dataOffsets;
    if (begin < covered && previous) {
      throw new SafetensorsError(file, info.name, `data_offsets [${begin}, ${end}] overlap those of tensor ${quoteForMessage(previous.name)} [${previous.dataOffsets[0]}, ${previous.dataOffsets[1]}]`);
    }
    if (begin > covered) {
      throw new SafetensorsError(file, info.name, `data_offsets [${begin}, ${end}] leave bytes ${covered} to ${begin} of the data buffer to no tensor (the data must be contiguous)`);
    }
    covered = end;
    previous = info;
  }
  if (covered !== dataBytes) {
    throw new SafetensorsError(file, undefined, `the tensors cover ${covered} of the ${dataBytes} bytes of the data buffer; the rest belongs to no tensor`);
  }
  return ordered;
}
