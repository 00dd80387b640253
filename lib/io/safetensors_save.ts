// Saving tensors as a safetensors file, atomically (see atomic_write.ts).
import type { Tensor } from '../tensor.js';
import { writeFileAtomically, writeFileAtomicallySync } from './atomic_write.js';
import { checkPath } from './safetensors_file.js';
import { planSafetensorsFile } from './safetensors_layout.js';

export type NamedTensors = Record<string, Tensor> | Map<string, Tensor>;

/**
 * Writes `tensors` (and optional string metadata) to `path` as a safetensors file: float32 →
 * F32, float16 → F16, bfloat16 → BF16, int32 → I32, int64 → I64, uint8 → U8; tensors sorted by
 * name, row-major, contiguous, the data starting on an 8-byte boundary. The file is replaced
 * atomically: a failure leaves any previous file untouched and no temporary file behind.
 */
export async function saveSafetensors(path: string, tensors: NamedTensors, metadata?: Record<string, string>): Promise<void> {
  const op = 'saveSafetensors';
  const file = checkPath(op, path);
  const layout = planSafetensorsFile(op, tensors, metadata);
  await writeFileAtomically(file, async (write) => {
    await write(layout.header);
    for (const planned of layout.tensors) await write(planned.encode(await planned.tensor.data()));
  });
}

/** As saveSafetensors, synchronously. */
export function saveSafetensorsSync(path: string, tensors: NamedTensors, metadata?: Record<string, string>): void {
  const op = 'saveSafetensorsSync';
  const file = checkPath(op, path);
  const layout = planSafetensorsFile(op, tensors, metadata);
  writeFileAtomicallySync(file, (write) => {
    write(layout.header);
    for (const planned of layout.tensors) write(planned.encode(planned.tensor.toArray()));
  });
}
