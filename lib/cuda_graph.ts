// CUDA graphs: the GPU work of a step (forward, backward, optimizer) captured once and replayed
// with one launch, which removes the per-kernel launch cost and the host's time between kernels.
//
// What a capture records is the work queued on the GPU, with its addresses and its scalar
// arguments. So a captured step:
// - reads its inputs from tensors made before the capture (copy each new batch into them, then
//   replay()), and writes its outputs to the tensors capture() returned, refreshed at each replay;
// - runs what ops do on the host at each replay through runEachStep() hooks (the optimizer's
//   learning rate, written to the device when it changed), registered while capturing;
// - cannot read the GPU back, copy from host memory, draw random numbers or synchronise while it is
//   captured: those throw, naming the operation. The first step of an optimizer (which creates its
//   state) and the convolution algorithm search must have run before: warm up with eager steps.
// The capture's memory comes from a pool of its own, held until dispose(). Tensors made before the
// capture that the captured work uses (parameters, optimizer state, the input tensors) must stay
// alive while the graph is replayed.
import { native } from './binding.js';
import { cudaUsability } from './backends.js';
import { scope } from './memory.js';

/** The hooks of the capture under way (runEachStep), or null when none is. */
let captureHooks: (() => void)[] | null = null;

/** True while rn.cuda.CudaGraph.capture() records a step. */
export function isCapturing(): boolean {
  return captureHooks !== null;
}

/**
 * Host-side work that belongs to each run of a step: runs now, or, while a graph is being
 * captured, before each replay of that graph (in the order registered).
 */
export function runEachStep(fn: () => void): void {
  if (captureHooks) captureHooks.push(fn);
  else fn();
}

const graphFinalizer = new FinalizationRegistry<number>((id) => {
  try {
    native.destroyGraph(id);
  } catch {
    // the process is going away, or CUDA already failed: nothing left to free
  }
});

export class CudaGraph {
  #id: number | null = null;
  #state: 'new' | 'captured' | 'disposed' = 'new';
  #hooks: (() => void)[] = [];
  /** Replays so far. */
  replays = 0;

  /** True once capture() succeeded (and until dispose()). */
  get captured(): boolean {
    return this.#state === 'captured';
  }

  /**
   * Records the GPU work fn queues, without running it, and returns fn's result as scope() does:
   * tensors fn makes and does not return are freed when it returns; the returned ones are the
   * graph's outputs, whose values each replay() refreshes (keep them while the graph is used).
   * fn must be synchronous.
   */
  capture<R>(fn: () => R): R {
    if (this.#state !== 'new') throw new Error(`CudaGraph.capture: this graph is ${this.#state === 'captured' ? 'already captured' : 'disposed'}; make a new CudaGraph`);
    if (captureHooks) throw new Error('CudaGraph.capture: another graph is being captured; captures cannot nest');
    const usable = cudaUsability();
    if (!usable.available) throw new Error(`CudaGraph.capture: CUDA is unavailable: ${usable.reason ?? 'unknown reason'}`);
    const id = native.beginCapture();
    const hooks: (() => void)[] = [];
    captureHooks = hooks;
    let result: R;
    try {
      result = scope(fn);
    } catch (err) {
      native.abortCapture(id);
      throw err;
    } finally {
      captureHooks = null;
    }
    native.endCapture(id);
    this.#hooks = hooks;
    this.#id = id;
    this.#state = 'captured';
    graphFinalizer.register(this, id, this);
    return result;
  }

  /** Runs the step's host hooks, then queues one run of the captured work (returns at once). */
  replay(): void {
    if (this.#state !== 'captured') throw new Error(`CudaGraph.replay: ${this.#state === 'new' ? 'nothing captured yet' : 'the graph was disposed'}`);
    if (captureHooks) throw new Error('CudaGraph.replay: a graph is being captured');
    for (const hook of this.#hooks) hook();
    native.replayGraph(this.#id!);
    this.replays++;
  }

  /**
   * Frees the graph and returns its memory pool to the general cache (as its tensors that are
   * still alive are freed). Idempotent.
   */
  dispose(): void {
    if (this.#state === 'disposed') return;
    if (this.#id !== null) {
      graphFinalizer.unregister(this);
      native.destroyGraph(this.#id);
    }
    this.#hooks = [];
    this.#state = 'disposed';
  }
}
