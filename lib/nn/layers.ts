// The layers ResNets are made of, with PyTorch's names, defaults and initialisation.
import { full } from '../creation.js';
import { native } from '../binding.js';
import { conv2d, convBiasAct, type Conv2dOptions } from '../ops/conv.js';
import { add, relu } from '../ops/elementwise.js';
import { linear } from '../ops/linear.js';
import { batchNorm2d, bnAddRelu, bnRelu } from '../ops/norm.js';
import { adaptiveAvgPool2d, maxPool2d, type MaxPool2dOptions } from '../ops/pool.js';
import { flatten } from '../ops/shape.js';
import { checkInt } from '../ops/validate.js';
import type { Tensor } from '../tensor.js';
import { kaimingUniform, uniform, fans } from './init.js';
import { scope } from '../memory.js';
import { Module, recordFoldablePair } from './module.js';

type Pair = number | [number, number];

export interface Conv2dModuleOptions extends Conv2dOptions {
  /** Learn an additive bias (default true, as PyTorch). */
  bias?: boolean;
}

/** 2-D convolution; weight (out, in / groups, kH, kW) initialised as PyTorch's Conv2d. */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly options: Conv2dOptions;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: Conv2dModuleOptions = {}) {
    super();
    checkInt('Conv2d', 'inChannels', inChannels, 1);
    checkInt('Conv2d', 'outChannels', outChannels, 1);
    const groups = options.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new RangeError(`Conv2d: inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${groups})`);
    }
    const [kH, kW] = Array.isArray(kernelSize) ? kernelSize : [kernelSize, kernelSize];
    checkInt('Conv2d', 'kernelSize', kH, 1);
    checkInt('Conv2d', 'kernelSize', kW, 1);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = [kH, kW];
    const { bias = true, ...convOptions } = options;
    this.options = convOptions;
    const weight = this.registerParameter('weight', full([outChannels, inChannels / groups, kH, kW], 0))!;
    kaimingUniform(weight, { a: Math.sqrt(5) });
    const b = this.registerParameter('bias', bias ? full([outChannels], 0) : null);
    if (b) {
      const bound = 1 / Math.sqrt(fans(weight).fanIn);
      uniform(b, -bound, bound);
    }
  }
  get weight(): Tensor {
    return this.tensorNamed('weight')!;
  }
  get bias(): Tensor | null {
    return this.tensorNamed('bias');
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
  /** @internal Sets the weight and bias to folded values (fuseForInference). */
  setFolded(weight: Tensor, bias: Tensor): void {
    this.replaceParameter('weight', weight);
    this.replaceParameter('bias', bias);
  }
}

export interface BatchNorm2dOptions {
  eps?: number;
  momentum?: number;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
  /** Keep running statistics for evaluation (default true). */
  trackRunningStats?: boolean;
}

/** Batch normalisation over channels, with running_mean / running_var / num_batches_tracked buffers. */
export class BatchNorm2d extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;

  constructor(numFeatures: number, options: BatchNorm2dOptions = {}) {
    super();
    checkInt('BatchNorm2d', 'numFeatures', numFeatures, 1);
    this.numFeatures = numFeatures;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    const affine = options.affine ?? true;
    this.registerParameter('weight', affine ? full([numFeatures], 1) : null);
    this.registerParameter('bias', affine ? full([numFeatures], 0) : null);
    const track = options.trackRunningStats ?? true;
    this.registerBuffer('running_mean', track ? full([numFeatures], 0) : null);
    this.registerBuffer('running_var', track ? full([numFeatures], 1) : null);
    this.registerBuffer('num_batches_tracked', track ? full([], 0, { dtype: 'int64' }) : null);
  }
  get weight(): Tensor | null {
    return this.tensorNamed('weight');
  }
  get bias(): Tensor | null {
    return this.tensorNamed('bias');
  }
  get runningMean(): Tensor | null {
    return this.tensorNamed('running_mean');
  }
  get runningVar(): Tensor | null {
    return this.tensorNamed('running_var');
  }

  #options() {
    const useBatchStats = this.training || !this.runningMean;
    if (useBatchStats && this.training) this.#countBatch();
    return { training: useBatchStats, momentum: this.momentum, eps: this.eps };
  }

  // Counted on the tensor's device (an in-place increment), so that counting never waits for
  // the GPU and a step captured in a CUDA graph counts at each replay.
  #countBatch(): void {
    const counter = this.tensorNamed('num_batches_tracked');
    if (counter) native.increment(counter.handle);
  }

  forward(x: Tensor): Tensor {
    if (this.#checkFolded()) return x.detach();
    return batchNorm2d(x, this.runningMean, this.runningVar, this.weight, this.bias, this.#options());
  }

  /** relu(this(x)) as one fused op (a conv -> BN -> ReLU sequence). */
  forwardRelu(x: Tensor): Tensor {
    if (this.#checkFolded()) return relu(x);
    return bnRelu(x, this.runningMean, this.runningVar, this.weight, this.bias, this.#options());
  }

  /** relu(this(x) + residual) as one fused op (the tail of a residual block). */
  forwardAddRelu(x: Tensor, residual: Tensor): Tensor {
    if (this.#checkFolded()) return scope(() => relu(add(x, residual)));
    return bnAddRelu(x, residual, this.runningMean, this.runningVar, this.weight, this.bias, this.#options());
  }

  #folded = false;
  /** True once fuseForInference() folded this BN into the convolution before it: it is then the identity. */
  get folded(): boolean {
    return this.#folded;
  }
  /** @internal */
  markFolded(): void {
    this.#folded = true;
  }
  #checkFolded(): boolean {
    if (this.#folded && this.training) {
      throw new Error('BatchNorm2d: this layer was folded into its convolution by fuseForInference(); such a model can only run in eval mode');
    }
    return this.#folded;
  }
}

/** y = x W^T + b; weight (out, in) initialised as PyTorch's Linear. */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, options: { bias?: boolean } = {}) {
    super();
    checkInt('Linear', 'inFeatures', inFeatures, 1);
    checkInt('Linear', 'outFeatures', outFeatures, 1);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const weight = this.registerParameter('weight', full([outFeatures, inFeatures], 0))!;
    kaimingUniform(weight, { a: Math.sqrt(5) });
    const b = this.registerParameter('bias', options.bias ?? true ? full([outFeatures], 0) : null);
    if (b) uniform(b, -1 / Math.sqrt(inFeatures), 1 / Math.sqrt(inFeatures));
  }
  get weight(): Tensor {
    return this.tensorNamed('weight')!;
  }
  get bias(): Tensor | null {
    return this.tensorNamed('bias');
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

export class MaxPool2d extends Module {
  constructor(readonly options: MaxPool2dOptions) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.options);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}

export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}

/**
 * Children named 0, 1, 2 ... applied in order. Intermediate results are disposed as soon as the
 * next layer has consumed them (autograd keeps what it needs). A BatchNorm2d right after a
 * Conv2d is a foldable pair.
 */
export class Sequential extends Module {
  constructor(...layers: Module[]) {
    super();
    layers.forEach((layer, i) => {
      this.registerModule(String(i), layer);
      const next = layers[i + 1];
      if (layer instanceof Conv2d && next instanceof BatchNorm2d) recordFoldablePair(this, layer, next);
    });
  }
  get length(): number {
    return this.children().length;
  }
  at(i: number): Module {
    const m = this.children()[i];
    if (!m) throw new RangeError(`Sequential: no layer ${i} (length ${this.length})`);
    return m;
  }
  forward(x: Tensor): Tensor {
    return applyInOrder(x, this.children());
  }
}

export type Layer = Module | ((x: Tensor) => Tensor);

/**
 * A convolution and the batch norm after it, as one unit of the module that registered both
 * (their parameters keep that module's names: conv1.weight, bn1.running_mean ...). Built once in
 * the owner's constructor, it records the pair for fuseForInference(); once folded (eval mode)
 * every form is one convolution with the folded bias (convBiasAct), before that the convolution
 * and the fused BN op.
 */
export class ConvBn {
  constructor(owner: Module, readonly conv: Conv2d, readonly bn: BatchNorm2d) {
    recordFoldablePair(owner, conv, bn);
  }

  /** bn(conv(x)). */
  forward(x: Tensor): Tensor {
    if (this.#foldedForInference()) return this.conv.forward(x);
    return scope(() => this.bn.forward(this.conv.forward(x)));
  }

  /** relu(bn(conv(x))). */
  forwardRelu(x: Tensor): Tensor {
    if (this.#foldedForInference()) return convBiasAct(x, this.conv.weight, this.conv.bias, null, { ...this.conv.options, relu: true });
    return scope(() => this.bn.forwardRelu(this.conv.forward(x)));
  }

  /** relu(bn(conv(x)) + residual), the tail of a residual block. */
  forwardAddRelu(x: Tensor, residual: Tensor): Tensor {
    if (this.#foldedForInference()) return convBiasAct(x, this.conv.weight, this.conv.bias, residual, { ...this.conv.options, relu: true });
    return scope(() => this.bn.forwardAddRelu(this.conv.forward(x), residual));
  }

  // Folded BNs in training mode go the unfolded way, where BatchNorm2d refuses them.
  #foldedForInference(): boolean {
    return this.bn.folded && !this.bn.training;
  }
}

/**
 * Feeds x through the layers in order, disposing each intermediate result as soon as the next
 * layer has consumed it (autograd keeps what it needs); x itself is left alone. A BatchNorm2d
 * followed by a ReLU (the module or the relu function) runs as one fused op (forwardRelu).
 */
export function applyInOrder(x: Tensor, layers: Layer[]): Tensor {
  let current = x;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    const after = layers[i + 1];
    const fuseRelu = layer instanceof BatchNorm2d && (after instanceof ReLU || after === relu);
    const next = fuseRelu ? layer.forwardRelu(current) : layer instanceof Module ? layer.forward(current) : layer(current);
    if (fuseRelu) i++;
    if (current !== x && next !== current) current.dispose();
    current = next;
  }
  return current;
}
