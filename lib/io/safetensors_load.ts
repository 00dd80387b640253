// Loading every tensor of a safetensors file: the header is read and validated first, then
// each tensor's byte range is read on its own into a buffer of its size, so the file is never
// held in memory twice. A failure disposes whatever was already created.
import { closeSync, openSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tensor } from '../creation.js';
import type { Tensor } from '../tensor.js';
import { READ_CODECS } from './safetensors_dtypes.js';
import { SafetensorsError } from './safetensors_error.js';
import { checkPath, readExactly, readExactlySync, readHeaderFromFdSync, readHeaderFromHandle } from './safetensors_file.js';
import type { SafetensorsHeader, SafetensorsTensorInfo } from './safetensors_header.js';

export interface LoadedSafetensors {
  /** The tensors, in the order of their data in the file. */
  tensors: Map<string, Tensor>;
  /** The file's `__metadata__`; empty when it has none. */
  metadata: Record<string, string>;
}

function allocateBytes(file: string, info: SafetensorsTensorInfo): Uint8Array {
  const length = info.dataOffsets[1] - info.dataOffsets[0];
  try {
    return new Uint8Array(length);
  } catch (err) {
    throw new SafetensorsError(file, info.name, `cannot allocate ${length} bytes for its data`, { cause: err });
  }
}

function tensorFromBytes(file: string, info: SafetensorsTensorInfo, bytes: Uint8Array): Tensor {
  const codec = READ_CODECS.get(info.dtype)!;
  try {
    const values = codec.decode(bytes);
    return tensor(values, info.shape, { dtype: codec.loadsAs });
  } catch (err) {
    throw new SafetensorsError(file, info.name, `its data cannot be loaded: ${(err as Error).message}`, { cause: err });
  }
}

function disposeAll(tensors: Map<string, Tensor>): void {
  for (const t of tensors.values()) t.dispose();
}

function loadAllSync(header: SafetensorsHeader, fd: number): Map<string, Tensor> {
  const tensors = new Map<string, Tensor>();
  try {
    for (const info of header.tensors) {
      const bytes = allocateBytes(header.file, info);
      readExactlySync(header.file, fd, bytes, header.dataStart + info.dataOffsets[0], info.name);
      tensors.set(info.name, tensorFromBytes(header.file, info, bytes));
    }
  } catch (err) {
    disposeAll(tensors);
    throw err;
  }
  return tensors;
}

async function loadAll(header: SafetensorsHeader, handle: FileHandle): Promise<Map<string, Tensor>> {
  const tensors = new Map<string, Tensor>();
  try {
    for (const info of header.tensors) {
      const bytes = allocateBytes(header.file, info);
      await readExactly(header.file, handle, bytes, header.dataStart + info.dataOffsets[0], info.name);
      tensors.set(info.name, tensorFromBytes(header.file, info, bytes));
    }
  } catch (err) {
    disposeAll(tensors);
    throw err;
  }
  return tensors;
}

/**
 * Loads every tensor and the metadata of a safetensors file. Dtypes load as: F32 → float32,
 * F16 → float16, BF16 → bfloat16, I64 → int64, I32 → int32, U8 → uint8, BOOL → uint8 (0 or 1);
 * F64 is converted to float32 (rounded to nearest; values beyond float32's range become
 * ±Infinity); I8, I16 and U16 widen to int32. Throws SafetensorsError, naming the file and
 * the tensor, for anything malformed; nothing stays allocated after a failure.
 */
export async function loadSafetensors(path: string): Promise<LoadedSafetensors> {
  const file = checkPath('loadSafetensors', path);
  const handle = await open(file, 'r');
  try {
    const header = await readHeaderFromHandle(file, handle);
    return { tensors: await loadAll(header, handle), metadata: { ...header.metadata } };
  } finally {
    await handle.close();
  }
}

/** As loadSafetensors, synchronously. */
export function loadSafetensorsSync(path: string): LoadedSafetensors {
  const file = checkPath('loadSafetensorsSync', path);
  const fd = openSync(file, 'r');
  try {
    const header = readHeaderFromFdSync(file, fd);
    return { tensors: loadAllSync(header, fd), metadata: { ...header.metadata } };
  } finally {
    closeSync(fd);
  }
}
