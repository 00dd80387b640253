// Adam and AdamW with PyTorch's semantics and defaults (torch.optim.Adam / AdamW, amsgrad off):
// lr 1e-3, betas [0.9, 0.999], eps 1e-8; weight decay 0 for Adam (added to the gradient), 1e-2
// for AdamW (decoupled: the parameter shrinks by lr * weightDecay). Parameter groups override any
// option. The state, per parameter, is PyTorch's: 'step', 'exp_avg', 'exp_avg_sq'.
import { native } from '../binding.js';
import { isCapturing } from '../cuda_graph.js';
import { untracked } from '../memory.js';
import { Tensor, wrap } from '../tensor.js';
import { zeroGrads, type Optimizer, type OptimizerState } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}
export interface AdamParamGroup extends AdamOptions {
  params: Tensor[];
}
type ResolvedGroup = Required<AdamOptions> & { params: Tensor[] };

interface Moments {
  step: number;
  expAvg: Tensor;
  expAvgSq: Tensor;
  /** The step count as stateDict() last gave it (a one-element CPU tensor, as PyTorch keeps it). */
  stepTensor?: Tensor;
}

const KEYS = ['lr', 'betas', 'eps', 'weightDecay'] as const;

class AdamBase implements Optimizer {
  readonly paramGroups: ResolvedGroup[];
  /** Per parameter: updates done and the two moment buffers, created at its first step. */
  readonly state = new Map<Tensor, Moments>();
  readonly #name: string;
  readonly #decoupled: boolean;

  constructor(name: string, decoupled: boolean, params: Tensor[] | AdamParamGroup[], options: AdamOptions) {
    this.#name = name;
    this.#decoupled = decoupled;
    if (!Array.isArray(params) || params.length === 0) throw new TypeError(`${name}: params must be a non-empty array of tensors or parameter groups`);
    if (options === null || typeof options !== 'object') throw new TypeError(`${name}: options must be an object`);
    const defaults: Required<AdamOptions> = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: decoupled ? 1e-2 : 0 };
    const groups = params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as AdamParamGroup[]);
    this.paramGroups = groups.map((g, i) => this.#resolve(g, { ...defaults, ...this.#checked(options, 'options') }, i));
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (seen.has(p)) throw new RangeError(`${name}: a parameter appears in more than one group`);
        seen.add(p);
      }
    }
  }

  #checked(o: AdamOptions, where: string): AdamOptions {
    for (const key of Object.keys(o)) {
      if (key !== 'params' && !(KEYS as readonly string[]).includes(key)) throw new TypeError(`${this.#name}: unknown option '${key}' in ${where}`);
    }
    const defined = Object.fromEntries(Object.entries(o).filter(([k, v]) => k !== 'params' && v !== undefined));
    return defined as AdamOptions;
  }

  #resolve(group: AdamParamGroup, defaults: Required<AdamOptions>, index: number): ResolvedGroup {
    const name = this.#name;
    if (!group || !Array.isArray(group.params)) throw new TypeError(`${name}: parameter group ${index} needs a params array`);
    const r: ResolvedGroup = { ...defaults, ...this.#checked(group, `group ${index}`), params: group.params };
    if (!(typeof r.lr === 'number' && r.lr >= 0)) throw new RangeError(`${name}: lr must be a non-negative number, got ${String(r.lr)}`);
    if (!Array.isArray(r.betas) || r.betas.length !== 2 || !r.betas.every((b) => typeof b === 'number' && b >= 0 && b < 1)) {
      throw new RangeError(`${name}: betas must be two numbers in [0, 1), got ${JSON.stringify(r.betas)}`);
    }
    if (!(typeof r.eps === 'number' && r.eps >= 0)) throw new RangeError(`${name}: eps must be a non-negative number, got ${String(r.eps)}`);
    if (!(typeof r.weightDecay === 'number' && r.weightDecay >= 0)) throw new RangeError(`${name}: weightDecay must be a non-negative number, got ${String(r.weightDecay)}`);
    r.params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new TypeError(`${name}: group ${index} params[${i}] is not a Tensor`);
      if (!p.requiresGrad) throw new TypeError(`${name}: group ${index} params[${i}] (shape [${p.shape}]) does not require grad`);
      if (p.dtype !== 'float32') throw new TypeError(`${name}: parameters must be float32, params[${i}] is ${p.dtype}`);
    });
    return r;
  }

  zeroGrad(): void {
    zeroGrads(this.paramGroups);
  }

  /**
   * Updates every parameter that has a gradient, in place, one native call each. The bias
   * corrections depend on each parameter's step count, so a step cannot be captured in a CUDA graph.
   */
  step(options: { skipIfNonzero?: Tensor } = {}): void {
    if (isCapturing()) throw new Error(`${this.#name}.step: the update depends on the step count and cannot be captured in a CUDA graph; use SGD with --cuda-graph`);
    const skip = options.skipIfNonzero?.handle ?? null;
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (!p.grad) continue;
        const moments = this.#momentsFor(p);
        moments.step++;
        const grad = p.grad.memoryFormat === p.memoryFormat ? p.grad.handle : native.toFormat(p.grad.handle, p.memoryFormat);
        native.adamStep(p.handle, grad, moments.expAvg.handle, moments.expAvgSq.handle, {
          lr: g.lr, beta1: g.betas[0], beta2: g.betas[1], eps: g.eps, weightDecay: g.weightDecay, decoupled: this.#decoupled,
          step: moments.step, skipIfNonzero: skip,
        });
        if (grad !== p.grad.handle) grad.dispose();
      }
    }
  }

  /** Hyperparameters per group; '<index>.step', '<index>.exp_avg', '<index>.exp_avg_sq' per parameter that has stepped. */
  stateDict(): OptimizerState {
    const buffers: Record<string, Tensor> = {};
    let index = 0;
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        const m = this.state.get(p);
        if (m) {
          m.stepTensor?.dispose();
          m.stepTensor = untracked(() => wrap(native.full([], m.step, 'float32', 'cpu')));
          buffers[`${index}.step`] = m.stepTensor;
          buffers[`${index}.exp_avg`] = m.expAvg;
          buffers[`${index}.exp_avg_sq`] = m.expAvgSq;
        }
        index++;
      }
    }
    const paramGroups = this.paramGroups.map(({ params, betas, ...hyper }) => ({ ...hyper, betas: [...betas] as [number, number], size: params.length }));
    return { paramGroups, buffers };
  }

  /** Restores hyperparameters, step counts and moment buffers (shapes must match the parameters). */
  loadStateDict(state: OptimizerState): void {
    const name = this.#name;
    if (!state || !Array.isArray(state.paramGroups) || state.paramGroups.length !== this.paramGroups.length) {
      throw new RangeError(`${name}.loadStateDict: expected ${this.paramGroups.length} parameter groups`);
    }
    state.paramGroups.forEach((saved, i) => {
      const g = this.paramGroups[i]!;
      if (saved.size !== g.params.length) throw new RangeError(`${name}.loadStateDict: group ${i} has ${g.params.length} parameters, the state has ${saved.size}`);
      for (const key of KEYS) {
        if (saved[key] === undefined) throw new RangeError(`${name}.loadStateDict: group ${i} lacks '${key}' (a state of another optimizer?)`);
      }
      g.lr = saved.lr as number;
      g.betas = [...(saved.betas as [number, number])];
      g.eps = saved.eps as number;
      g.weightDecay = saved.weightDecay as number;
    });
    const params = this.paramGroups.flatMap((g) => g.params);
    for (const [key, tensor] of Object.entries(state.buffers)) {
      const match = /^(\d+)\.(step|exp_avg|exp_avg_sq)$/.exec(key);
      const p = match ? params[Number(match[1])] : undefined;
      if (!match || !p) throw new RangeError(`${name}.loadStateDict: unexpected state '${key}'`);
      const moments = this.#momentsFor(p);
      if (match[2] === 'step') {
        moments.step = Number(tensor.toArray()[0]);
        continue;
      }
      if (tensor.shape.length !== p.shape.length || tensor.shape.some((s, i) => s !== p.shape[i])) {
        throw new RangeError(`${name}.loadStateDict: '${key}' has shape [${tensor.shape}], the parameter [${p.shape}]`);
      }
      native.copyInto((match[2] === 'exp_avg' ? moments.expAvg : moments.expAvgSq).handle, tensor.handle);
    }
    for (const [p, m] of this.state) {
      if (m.step === 0) throw new RangeError(`${name}.loadStateDict: moment buffers of parameter ${params.indexOf(p)} come without a step count`);
    }
  }

  /** Frees the moment buffers and the gradients. */
  dispose(): void {
    this.zeroGrad();
    for (const m of this.state.values()) {
      m.expAvg.dispose();
      m.expAvgSq.dispose();
      m.stepTensor?.dispose();
    }
    this.state.clear();
  }

  #momentsFor(p: Tensor): Moments {
    let m = this.state.get(p);
    if (!m) {
      const zeros = () => untracked(() => {
        const t = native.full([...p.shape], 0, 'float32', p.device);
        if (t.format === p.memoryFormat) return wrap(t);
        const formatted = native.toFormat(t, p.memoryFormat);
        t.dispose();
        return wrap(formatted);
      });
      m = { step: 0, expAvg: zeros(), expAvgSq: zeros() };
      this.state.set(p, m);
    }
    return m;
  }
}

/** torch.optim.Adam: L2 weight decay added to the gradient (default 0). */
export class Adam extends AdamBase {
  constructor(params: Tensor[] | AdamParamGroup[], options: AdamOptions = {}) {
    super('Adam', false, params, options);
  }
}

/** torch.optim.AdamW: decoupled weight decay (default 1e-2). */
export class AdamW extends AdamBase {
  constructor(params: Tensor[] | AdamParamGroup[], options: AdamOptions = {}) {
    super('AdamW', true, params, options);
  }
}
