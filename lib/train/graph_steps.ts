// Training steps replayed from a CUDA graph (train({ cudaGraph: true }), `--cuda-graph`): the
// first `warmupSteps` steps run eagerly (they create the optimizer's state and run the
// convolution algorithm search), the next one is captured into a graph whose inputs are two
// tensors made for it, and every later batch of the same shape is copied into those tensors and
// replayed with one launch. A batch of another shape (a short last batch) runs eagerly.
import { CudaGraph } from '../cuda_graph.js';
import { native, type TransportArray } from '../binding.js';
import { keep, untracked } from '../memory.js';
import { checkLabelValues } from '../ops/loss.js';
import { wrap, type Tensor } from '../tensor.js';

export interface StepOutputs {
  loss: Tensor;
  logits: Tensor;
}

/** What one step does to a batch on the device: forward, loss, backward, optimizer. */
export type StepBody = (images: Tensor, labels: Tensor) => StepOutputs;

function sameLayout(a: Tensor, b: Tensor): boolean {
  return a.dtype === b.dtype && a.memoryFormat === b.memoryFormat && a.shape.length === b.shape.length
    && a.shape.every((s, i) => s === b.shape[i]);
}

export class GraphedSteps {
  readonly warmupSteps: number;
  #body: StepBody;
  #numClasses: number;
  #eagerSteps = 0;
  #graph: CudaGraph | null = null;
  #inputs: { images: Tensor; labels: Tensor } | null = null;
  #outputs: StepOutputs | null = null;

  constructor(body: StepBody, numClasses: number, warmupSteps = 2) {
    if (!Number.isInteger(warmupSteps) || warmupSteps < 1) throw new RangeError(`GraphedSteps: warmupSteps must be a positive integer, got ${warmupSteps}`);
    this.#body = body;
    this.#numClasses = numClasses;
    this.warmupSteps = warmupSteps;
  }

  /** Steps replayed from the graph so far. */
  get replays(): number {
    return this.#graph?.replays ?? 0;
  }

  /**
   * One training step on a batch already on the device. The outputs of a graph step belong to the
   * graph (valid until the next step); those of an eager step to the caller's scope.
   */
  run(images: Tensor, labels: Tensor, hostLabels: TransportArray): StepOutputs {
    const inputs = this.#inputs;
    if (this.#graph && inputs && sameLayout(inputs.images, images) && sameLayout(inputs.labels, labels)) {
      checkLabelValues(hostLabels, this.#numClasses);
      native.copyInto(inputs.images.handle, images.handle);
      native.copyInto(inputs.labels.handle, labels.handle);
      this.#graph.replay();
      return this.#outputs!;
    }
    if (this.#graph || this.#eagerSteps < this.warmupSteps) {
      this.#eagerSteps++;
      return this.#body(images, labels);
    }
    checkLabelValues(hostLabels, this.#numClasses);
    const copies = untracked(() => ({
      images: wrap(native.clone(images.handle)),
      labels: wrap(native.clone(labels.handle)),
    }));
    const graph = new CudaGraph();
    let outputs: StepOutputs;
    try {
      outputs = graph.capture(() => this.#body(copies.images, copies.labels));
    } catch (err) {
      graph.dispose();
      copies.images.dispose();
      copies.labels.dispose();
      throw err;
    }
    this.#graph = graph;
    this.#inputs = copies;
    this.#outputs = { loss: keep(outputs.loss), logits: keep(outputs.logits) };
    graph.replay();
    return this.#outputs;
  }

  /** Frees the graph, its input tensors and its outputs. */
  dispose(): void {
    this.#graph?.dispose();
    this.#inputs?.images.dispose();
    this.#inputs?.labels.dispose();
    this.#outputs?.loss.dispose();
    this.#outputs?.logits.dispose();
    this.#graph = null;
    this.#inputs = null;
    this.#outputs = null;
  }
}
