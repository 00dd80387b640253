// Stochastic gradient descent with PyTorch's semantics (torch.optim.SGD): momentum, dampening,
// nesterov, weight decay, and parameter groups (so BN weights and biases can skip decay).
import { native, type NativeTensor, type SgdStepOptions } from '../binding.js';
import { isCapturing, runEachStep } from '../cuda_graph.js';
import { untracked } from '../memory.js';
import { Tensor, wrap } from '../tensor.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}
export interface ParamGroup extends Partial<SGDOptions> {
  params: Tensor[];
}
type ResolvedGroup = Required<SGDOptions> & { params: Tensor[] };

export interface SGDState {
  paramGroups: (Required<SGDOptions> & { size: number })[];
  buffers: Record<string, Tensor>;
}

const KEYS = ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov'] as const;

function resolve(group: ParamGroup | Tensor[], defaults: SGDOptions, index: number): ResolvedGroup {
  const g = Array.isArray(group) ? { params: group } : group;
  if (!Array.isArray(g.params)) throw new TypeError(`SGD: parameter group ${index} needs a params array`);
  for (const key of Object.keys(g)) {
    if (key !== 'params' && !(KEYS as readonly string[]).includes(key)) throw new TypeError(`SGD: unknown option '${key}' in group ${index}`);
  }
  const r: ResolvedGroup = {
    params: g.params,
    lr: g.lr ?? defaults.lr,
    momentum: g.momentum ?? defaults.momentum ?? 0,
    dampening: g.dampening ?? defaults.dampening ?? 0,
    weightDecay: g.weightDecay ?? defaults.weightDecay ?? 0,
    nesterov: g.nesterov ?? defaults.nesterov ?? false,
  };
  if (!(typeof r.lr === 'number' && r.lr >= 0)) throw new RangeError(`SGD: lr must be a non-negative number, got ${String(r.lr)}`);
  if (!(r.momentum >= 0)) throw new RangeError(`SGD: momentum must be non-negative, got ${r.momentum}`);
  if (!(r.weightDecay >= 0)) throw new RangeError(`SGD: weightDecay must be non-negative, got ${r.weightDecay}`);
  if (r.nesterov && (r.momentum <= 0 || r.dampening !== 0)) throw new RangeError('SGD: nesterov needs momentum > 0 and dampening 0');
  r.params.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new TypeError(`SGD: group ${index} params[${i}] is not a Tensor`);
    if (!p.requiresGrad) throw new TypeError(`SGD: group ${index} params[${i}] (shape [${p.shape}]) does not require grad`);
    if (p.dtype !== 'float32') throw new TypeError(`SGD: parameters must be float32, params[${i}] is ${p.dtype}`);
  });
  return r;
}

export class SGD {
  readonly paramGroups: ResolvedGroup[];
  /** Momentum buffers, created at a parameter's first step. */
  readonly momentumBuffers = new Map<Tensor, Tensor>();
  /** Each group's learning rate on the GPU, as last written, for groups with GPU parameters. */
  readonly #deviceLr = new Map<ResolvedGroup, { tensor: Tensor; value: number }>();

  constructor(params: Tensor[] | ParamGroup[], options: SGDOptions) {
    if (!options || typeof options.lr !== 'number') throw new TypeError('SGD: options.lr is required');
    const groups = params.length > 0 && !(params[0] instanceof Tensor) ? (params as ParamGroup[]) : [params as Tensor[]];
    this.paramGroups = groups.map((g, i) => resolve(g, options, i));
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (seen.has(p)) throw new RangeError('SGD: a parameter appears in more than one group');
        seen.add(p);
      }
    }
  }

  /**
   * The optimizer's state as PyTorch lays it out: hyperparameters per group, and momentum
   * buffers keyed by the parameter's position across groups ('<index>.momentum_buffer').
   */
  stateDict(): SGDState {
    const buffers: Record<string, Tensor> = {};
    let index = 0;
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        const buffer = this.momentumBuffers.get(p);
        if (buffer) buffers[`${index}.momentum_buffer`] = buffer;
        index++;
      }
    }
    const paramGroups = this.paramGroups.map(({ params, ...hyper }) => ({ ...hyper, size: params.length }));
    return { paramGroups, buffers };
  }

  /** Restores hyperparameters and copies momentum buffers (shapes must match the parameters). */
  loadStateDict(state: SGDState): void {
    if (!state || !Array.isArray(state.paramGroups) || state.paramGroups.length !== this.paramGroups.length) {
      throw new RangeError(`SGD.loadStateDict: expected ${this.paramGroups.length} parameter groups`);
    }
    state.paramGroups.forEach((saved, i) => {
      const g = this.paramGroups[i]!;
      if (saved.size !== g.params.length) throw new RangeError(`SGD.loadStateDict: group ${i} has ${g.params.length} parameters, the state has ${saved.size}`);
      for (const key of KEYS) (g as Record<string, unknown>)[key] = saved[key];
    });
    const params = this.paramGroups.flatMap((g) => g.params);
    for (const [key, tensor] of Object.entries(state.buffers)) {
      const match = /^(\d+)\.momentum_buffer$/.exec(key);
      const p = match ? params[Number(match[1])] : undefined;
      if (!p) throw new RangeError(`SGD.loadStateDict: unexpected state '${key}'`);
      if (tensor.shape.length !== p.shape.length || tensor.shape.some((s, i) => s !== p.shape[i])) {
        throw new RangeError(`SGD.loadStateDict: '${key}' has shape [${tensor.shape}], the parameter [${p.shape}]`);
      }
      native.copyInto(this.#bufferFor(p).handle, tensor.handle);
    }
  }

  /** Frees the momentum buffers and the gradients. */
  dispose(): void {
    this.zeroGrad();
    for (const b of this.momentumBuffers.values()) b.dispose();
    this.momentumBuffers.clear();
    for (const { tensor } of this.#deviceLr.values()) tensor.dispose();
    this.#deviceLr.clear();
  }

  /** Drops every parameter's gradient (the next backward starts from zero). */
  zeroGrad(): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /**
   * Updates every parameter that has a gradient, in place. On the GPU the parameters of a group
   * are updated together (one launch per 64 tensors), on the CPU one by one. On the GPU the
   * learning rate is read from a one-element device tensor, rewritten when the group's lr changed,
   * so that a step captured in a CUDA graph follows the schedule at each replay.
   * `skipIfNonzero`, a one-element int32 tensor on the parameters' device (GradScaler's
   * non-finite flag), skips the update when it holds a nonzero value as the update runs.
   * A parameter's first step (which creates its momentum buffer) cannot be captured.
   */
  step(options: { skipIfNonzero?: Tensor } = {}): void {
    const skip = options.skipIfNonzero?.handle ?? null;
    for (const g of this.paramGroups) {
      const batches = { first: [] as Tensor[], later: [] as Tensor[] };
      let lrOnDevice: NativeTensor | null = null;
      for (const p of g.params) {
        if (!p.grad) continue;
        if (p.device === 'cuda') lrOnDevice ??= this.#lrTensor(g);
        if (p.device === 'cuda' && p.grad.memoryFormat === p.memoryFormat) {
          (this.momentumBuffers.has(p) ? batches.later : batches.first).push(p);
          continue;
        }
        const firstStep = !this.momentumBuffers.has(p);
        if (firstStep && g.momentum !== 0 && isCapturing()) throw this.#firstStepError();
        const buffer = g.momentum !== 0 ? this.#bufferFor(p) : null;
        const grad = p.grad.memoryFormat === p.memoryFormat ? p.grad.handle : native.toFormat(p.grad.handle, p.memoryFormat);
        native.sgdStep(p.handle, grad, buffer?.handle ?? null, {
          ...this.#update(g, firstStep, skip), lrTensor: p.device === 'cuda' ? lrOnDevice : null,
        });
        if (grad !== p.grad.handle) grad.dispose();
      }
      if (batches.first.length > 0 && g.momentum !== 0 && isCapturing()) throw this.#firstStepError();
      for (const [params, firstStep] of [[batches.first, true], [batches.later, false]] as const) {
        if (params.length === 0) continue;
        const buffers = g.momentum === 0 ? null : params.map((p) => this.#bufferFor(p).handle);
        native.sgdStepMulti(params.map((p) => p.handle), params.map((p) => p.grad!.handle), buffers, {
          ...this.#update(g, firstStep, skip), lrTensor: lrOnDevice,
        });
      }
    }
  }

  #update(g: ResolvedGroup, firstStep: boolean, skipIfNonzero: NativeTensor | null): SgdStepOptions {
    return { lr: g.lr, momentum: g.momentum, dampening: g.dampening, weightDecay: g.weightDecay, nesterov: g.nesterov, firstStep, skipIfNonzero };
  }

  #firstStepError(): Error {
    return new Error('SGD.step: a first step (which creates the momentum buffers) cannot be captured in a CUDA graph; run one step before capturing');
  }

  /** The group's learning rate on the GPU, brought up to date at each step (each replay, when captured). */
  #lrTensor(g: ResolvedGroup): NativeTensor {
    let entry = this.#deviceLr.get(g);
    if (!entry) {
      if (isCapturing()) throw this.#firstStepError();
      entry = { tensor: untracked(() => wrap(native.full([], g.lr, 'float32', 'cuda'))), value: g.lr };
      this.#deviceLr.set(g, entry);
    }
    const e = entry;
    runEachStep(() => {
      if (e.value === g.lr) return;
      const value = native.full([], g.lr, 'float32', 'cuda');
      native.copyInto(e.tensor.handle, value);
      value.dispose();
      e.value = g.lr;
    });
    return e.tensor.handle;
  }

  /**
   * The parameter's momentum buffer, created in the parameter's memory format: the step kernels
   * index parameter, gradient and buffer by one flat index, so a buffer in another format would
   * hold its values permuted (a channels-last model's checkpoint would read scrambled elsewhere).
   */
  #bufferFor(p: Tensor): Tensor {
    let buffer = this.momentumBuffers.get(p);
    if (!buffer) {
      buffer = untracked(() => {
        const zeros = native.full([...p.shape], 0, 'float32', p.device);
        if (p.memoryFormat === zeros.format) return wrap(zeros);
        const laidOut = native.toFormat(zeros, p.memoryFormat);
        zeros.dispose();
        return wrap(laidOut);
      });
      this.momentumBuffers.set(p, buffer);
    }
    return buffer;
  }
}
