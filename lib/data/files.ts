// File access shared by the readers: existence checks whose errors name the file, and reading a
// file that may be gzip-compressed.
import { readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** The size in bytes of a regular file; an Error naming the file when it is missing. */
export function fileSize(op: string, file: string, expected: string): number {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (stat === undefined) throw new Error(`${op}: ${file} is missing (${expected})`);
  if (!stat.isFile()) throw new Error(`${op}: ${file} is not a regular file (${expected})`);
  return stat.size;
}

/** True when the bytes start with gzip's magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** A file's contents, decompressed when they start with gzip's magic number. */
export function readMaybeGzip(op: string, file: string): Buffer {
  const raw = readFileSync(file);
  if (!isGzip(raw)) return raw;
  try {
    return gunzipSync(raw);
  } catch (err) {
    throw new Error(`${op}: ${file} is not a valid gzip stream (${(err as Error).message})`);
  }
}
