// The safetensors header: an 8-byte little-endian length N, then N bytes of UTF-8 JSON that
// describe every tensor's dtype, shape and byte range. Everything here is checked before any
// tensor data is read.
import { findDuplicateKey } from './json_duplicate_keys.js';
import { checkDataCoverage, parseMetadata, parseTensorEntry, type SafetensorsTensorInfo } from './safetensors_header_fields.js';
import { SafetensorsError, quoteForMessage } from './safetensors_error.js';

export type { SafetensorsTensorInfo } from './safetensors_header_fields.js';

/** Bytes of the little-endian header length that opens every file. */
export const LENGTH_PREFIX_BYTES = 8;
/** The largest header the format allows. */
export const MAX_HEADER_BYTES = 100_000_000;
export const METADATA_KEY = '__metadata__';

export interface SafetensorsHeader {
  /** The path the header was read from. */
  readonly file: string;
  /** N: the length of the JSON header in bytes, padding included. */
  readonly headerBytes: number;
  /** Where the data buffer starts in the file (8 + N); tensor offsets count from here. */
  readonly dataStart: number;
  /** The length of the data buffer in bytes. */
  readonly dataBytes: number;
  /** Every tensor, in the order of its data in the file. */
  readonly tensors: readonly SafetensorsTensorInfo[];
  /** The string-to-string `__metadata__` map; empty when the file has none. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** Checks that a file of `fileSize` bytes can hold the length prefix. */
export function checkHasLengthPrefix(file: string, fileSize: number): void {
  if (fileSize < LENGTH_PREFIX_BYTES) {
    throw new SafetensorsError(file, undefined, `the file has ${fileSize} bytes, fewer than the ${LENGTH_PREFIX_BYTES}-byte header length that starts every safetensors file`);
  }
}

/** N, read from the 8-byte prefix and checked against the format's limit and the file size. */
export function headerLengthFromPrefix(file: string, prefix: Uint8Array, fileSize: number): number {
  const length = new DataView(prefix.buffer, prefix.byteOffset, LENGTH_PREFIX_BYTES).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, undefined, `the header length ${length} is larger than the format's limit of ${MAX_HEADER_BYTES} bytes`);
  }
  const headerBytes = Number(length);
  if (LENGTH_PREFIX_BYTES + headerBytes > fileSize) {
    throw new SafetensorsError(file, undefined, `the header length ${headerBytes} reaches beyond the end of the file (${fileSize} bytes)`);
  }
  return headerBytes;
}

function decodeHeaderText(file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new SafetensorsError(file, undefined, 'the header is not valid UTF-8');
  }
}

function parseHeaderJson(file: string, text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(file, undefined, `the header is not valid JSON (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const got = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed;
    throw new SafetensorsError(file, undefined, `the header must be a JSON object, got ${got}`);
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate) throw duplicateKeyError(file, duplicate.key, duplicate.path);
  return parsed as Record<string, unknown>;
}

function duplicateKeyError(file: string, key: string, path: readonly string[]): SafetensorsError {
  const [first, ...inner] = path;
  const quotedKey = quoteForMessage(key);
  if (first === undefined) {
    return key === METADATA_KEY
      ? new SafetensorsError(file, undefined, `the header has two ${METADATA_KEY} entries`)
      : new SafetensorsError(file, key, 'the header names this tensor twice (JSON would keep only the last)');
  }
  const within = inner.length === 0 ? '' : ` (inside ${inner.map((p) => quoteForMessage(p)).join(' > ')})`;
  return first === METADATA_KEY
    ? new SafetensorsError(file, undefined, `${METADATA_KEY} has the key ${quotedKey} twice${within}`)
    : new SafetensorsError(file, first, `its header entry has the key ${quotedKey} twice${within}`);
}

/**
 * Parses and validates the N header bytes of a file of `fileSize` bytes: UTF-8, a JSON object
 * without repeated keys, well-formed entries of known dtypes, and byte ranges that cover the
 * data buffer exactly, without gaps or overlaps.
 */
export function parseHeader(file: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const dataStart = LENGTH_PREFIX_BYTES + headerBytes.length;
  const dataBytes = fileSize - dataStart;
  const json = parseHeaderJson(file, decodeHeaderText(file, headerBytes));
  const tensors: SafetensorsTensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(json)) {
    if (name === METADATA_KEY) metadata = parseMetadata(file, entry);
    else tensors.push(parseTensorEntry(file, name, entry, dataBytes));
  }
  const inFileOrder = checkDataCoverage(file, tensors, dataBytes);
  return { file, headerBytes: headerBytes.length, dataStart, dataBytes, tensors: inFileOrder, metadata };
}
