// PrefetchWorker: the loader's side of the prefetch worker. Starts prefetch_worker (the .ts
// source through tsx when this module runs from TypeScript sources, the compiled .js when it
// runs from dist), sends batch requests and resolves each with its assembled float32 images.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BatchRequest, ChannelAffine } from './assemble.js';
import type { PrefetchReplyMessage, PrefetchRequestMessage, PrefetchWorkerData } from './prefetch_worker.js';

interface Pending {
  resolve(images: Float32Array): void;
  reject(err: Error): void;
}

/**
 * The URL of tsx's ESM registration API, from tsx's exports map. Under Node 20 a worker started
 * on a .ts file ignores `--import tsx` in its execArgv, so the worker registers tsx itself.
 */
function tsxRegisterUrl(): string {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('tsx/package.json');
  const { exports } = require('tsx/package.json') as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(packageJson), exports['./esm/api']!.import.default)).href;
}

function startWorker(workerData: PrefetchWorkerData): Worker {
  if (import.meta.url.endsWith('.ts')) {
    // Running from TypeScript sources (vitest, tsx): register tsx in the worker, then load the .ts worker.
    const worker = JSON.stringify(new URL('./prefetch_worker.ts', import.meta.url).href);
    const code = `import(${JSON.stringify(tsxRegisterUrl())}).then(({ register }) => { register(); return import(${worker}); });`;
    return new Worker(code, { eval: true, workerData });
  }
  return new Worker(new URL('./prefetch_worker.js', import.meta.url), { workerData });
}

/** The longest close() waits for the worker to stop. */
const TERMINATE_TIMEOUT_MS = 5000;

export class PrefetchWorker {
  /** [0]: batches the worker has assembled; it writes while the main thread may be busy. */
  readonly progress = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: Error | null = null;

  /** `images` (N, C, H, W) must be on a SharedArrayBuffer: the worker reads it in place. */
  constructor(images: Uint8Array, shape: [number, number, number], affine: ChannelAffine) {
    this.#worker = startWorker({ images, shape, affine, progress: this.progress });
    // The worker keeps the process alive only while a request is outstanding.
    this.#worker.unref();
    this.#worker.on('message', ({ id, images: batch }: PrefetchReplyMessage) => {
      const pending = this.#pending.get(id);
      this.#pending.delete(id);
      if (this.#pending.size === 0) this.#worker.unref();
      pending?.resolve(batch);
    });
    this.#worker.on('error', (err) => this.#fail(new Error(`DataLoader: the prefetch worker failed: ${err.message}`)));
    this.#worker.on('exit', (code) => this.#fail(new Error(`DataLoader: the prefetch worker exited (code ${code})`)));
  }

  /** True once the worker has failed or been terminated; such a worker takes no more requests. */
  get failed(): boolean {
    return this.#failure !== null;
  }

  /** Assembles one batch in the worker; resolves to its (B, C, H, W) float32 images. */
  request(request: BatchRequest): Promise<Float32Array> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const message: PrefetchRequestMessage = { id, request };
    return new Promise<Float32Array>((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage(message);
    });
  }

  async terminate(): Promise<void> {
    this.#fail(new Error('DataLoader: the loader was closed'));
    // Node does not always keep the event loop alive while a worker stops (seen when it is
    // terminated in the middle of assembling a batch): without the timer the process could end
    // with close() pending. The timer also bounds the wait.
    let timer: NodeJS.Timeout | undefined;
    const stopped = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, TERMINATE_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.#worker.terminate().then(() => undefined), stopped]);
    } finally {
      clearTimeout(timer);
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const pending of this.#pending.values()) pending.reject(this.#failure);
    this.#pending.clear();
  }
}
