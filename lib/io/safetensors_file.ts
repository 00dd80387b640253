// Reading exact byte ranges of a safetensors file, and its header, without reading the data.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { checkHasLengthPrefix, headerLengthFromPrefix, LENGTH_PREFIX_BYTES, parseHeader, type SafetensorsHeader } from './safetensors_header.js';
import { SafetensorsError } from './safetensors_error.js';

/** The path argument, checked. */
export function checkPath(op: string, path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`${op}: path must be a non-empty string, got ${typeof path === 'string' ? 'an empty string' : typeof path}`);
  }
  return path;
}

function endedEarly(file: string, tensor: string | undefined, position: number, length: number, done: number): SafetensorsError {
  return new SafetensorsError(file, tensor, `the file ended after ${done} of the ${length} bytes at offset ${position} (was it truncated while being read?)`);
}

/** Fills `target` with the bytes at `position`, or throws when the file ends first. */
export function readExactlySync(file: string, fd: number, target: Uint8Array, position: number, tensor?: string): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, target.length - done, position + done);
    if (n === 0) throw endedEarly(file, tensor, position, target.length, done);
    done += n;
  }
}

/** Fills `target` with the bytes at `position`, or rejects when the file ends first. */
export async function readExactly(file: string, handle: FileHandle, target: Uint8Array, position: number, tensor?: string): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) throw endedEarly(file, tensor, position, target.length, done);
    done += bytesRead;
  }
}

function checkRegularFile(file: string, isFile: boolean): void {
  if (!isFile) throw new SafetensorsError(file, undefined, 'the path is not a regular file');
}

/** Reads and validates the header from an open file. */
export function readHeaderFromFdSync(file: string, fd: number): SafetensorsHeader {
  const stats = fstatSync(fd);
  checkRegularFile(file, stats.isFile());
  checkHasLengthPrefix(file, stats.size);
  const prefix = new Uint8Array(LENGTH_PREFIX_BYTES);
  readExactlySync(file, fd, prefix, 0);
  const json = new Uint8Array(headerLengthFromPrefix(file, prefix, stats.size));
  readExactlySync(file, fd, json, LENGTH_PREFIX_BYTES);
  return parseHeader(file, json, stats.size);
}

/** Reads and validates the header from an open file. */
export async function readHeaderFromHandle(file: string, handle: FileHandle): Promise<SafetensorsHeader> {
  const stats = await handle.stat();
  checkRegularFile(file, stats.isFile());
  checkHasLengthPrefix(file, stats.size);
  const prefix = new Uint8Array(LENGTH_PREFIX_BYTES);
  await readExactly(file, handle, prefix, 0);
  const json = new Uint8Array(headerLengthFromPrefix(file, prefix, stats.size));
  await readExactly(file, handle, json, LENGTH_PREFIX_BYTES);
  return parseHeader(file, json, stats.size);
}

/**
 * The validated header of a safetensors file (tensor names, dtypes, shapes, byte ranges and
 * metadata), read without touching the tensor data. Throws SafetensorsError for a malformed file.
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const file = checkPath('readSafetensorsHeader', path);
  const handle = await open(file, 'r');
  try {
    return await readHeaderFromHandle(file, handle);
  } finally {
    await handle.close();
  }
}

/** As readSafetensorsHeader, synchronously. */
export function readSafetensorsHeaderSync(path: string): SafetensorsHeader {
  const file = checkPath('readSafetensorsHeaderSync', path);
  const fd = openSync(file, 'r');
  try {
    return readHeaderFromFdSync(file, fd);
  } finally {
    closeSync(fd);
  }
}
