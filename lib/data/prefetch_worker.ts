// The DataLoader's prefetch worker: assembles batches (gather + crop/flip + normalise) from the
// dataset's images in shared memory while the main thread trains. It imports nothing from the
// project but assemble.ts, so it loads quickly and without the native addon.
import { parentPort, workerData } from 'node:worker_threads';
import { assembleBatch, type BatchRequest, type ChannelAffine } from './assemble.js';

/** What the loader passes as workerData. */
export interface PrefetchWorkerData {
  images: Uint8Array;                        // (N, C, H, W) on a SharedArrayBuffer
  shape: [number, number, number];           // [C, H, W]
  affine: ChannelAffine;
  /** [0]: batches assembled so far, bumped as each one is ready (shared with the loader). */
  progress: Int32Array;
}

export interface PrefetchRequestMessage {
  id: number;
  request: BatchRequest;
}

export interface PrefetchReplyMessage {
  id: number;
  images: Float32Array;                      // (B, C, H, W)
}

const data = workerData as PrefetchWorkerData;
const port = parentPort!;
const sampleSize = data.shape[0] * data.shape[1] * data.shape[2];

port.on('message', ({ id, request }: PrefetchRequestMessage) => {
  const images = new Float32Array(request.indices.length * sampleSize);
  assembleBatch(data.images, data.shape, data.affine, request, images);
  Atomics.add(data.progress, 0, 1);
  const reply: PrefetchReplyMessage = { id, images };
  port.postMessage(reply, [images.buffer]);
});
