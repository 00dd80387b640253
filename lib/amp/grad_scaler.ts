// Dynamic loss scaling for float16 training (PyTorch's torch.cuda.amp.GradScaler): the loss is
// multiplied by a large scale before backward() so that small float16 gradients do not flush to
// zero; step() divides the gradients by the scale and skips the optimizer step when any of them
// is infinite or NaN; update() then halves the scale, or doubles it after `growthInterval`
// good steps in a row.
import { native } from '../binding.js';
import { scale as scaleOp } from '../ops/elementwise.js';
import type { SGD } from '../optim/sgd.js';
import type { Tensor } from '../tensor.js';
import { checkOptions, checkTensor } from '../ops/validate.js';

export interface GradScalerOptions {
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
  /** false makes every method a pass-through (scale 1, plain optimizer steps). */
  enabled?: boolean;
}

export interface GradScalerState {
  scale: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  growthTracker: number;
}

type Stage = 'ready' | 'unscaled' | 'stepped';

export class GradScaler {
  #scale: number;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly enabled: boolean;
  #growthTracker = 0;
  #foundInf = false;
  #stage: Stage = 'ready';
  /** Steps skipped because a gradient was not finite (since construction). */
  skippedSteps = 0;

  constructor(options: GradScalerOptions = {}) {
    const o = checkOptions('GradScaler', options, ['initScale', 'growthFactor', 'backoffFactor', 'growthInterval', 'enabled']);
    const positive = (name: string, v: unknown, fallback: number): number => {
      const x = v ?? fallback;
      if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) throw new RangeError(`GradScaler: ${name} must be a positive finite number, got ${String(x)}`);
      return x;
    };
    this.#scale = positive('initScale', o.initScale, 2 ** 16);
    this.growthFactor = positive('growthFactor', o.growthFactor, 2);
    this.backoffFactor = positive('backoffFactor', o.backoffFactor, 0.5);
    if (this.growthFactor <= 1) throw new RangeError(`GradScaler: growthFactor must exceed 1, got ${this.growthFactor}`);
    if (this.backoffFactor >= 1) throw new RangeError(`GradScaler: backoffFactor must be below 1, got ${this.backoffFactor}`);
    const interval = o.growthInterval ?? 2000;
    if (!Number.isInteger(interval) || (interval as number) < 1) throw new RangeError(`GradScaler: growthInterval must be a positive integer, got ${String(interval)}`);
    this.growthInterval = interval as number;
    this.enabled = (o.enabled ?? true) as boolean;
  }

  /** The current scale (1 when disabled). */
  getScale(): number {
    return this.enabled ? this.#scale : 1;
  }

  /** loss * scale, to call backward() on. */
  scale(loss: Tensor): Tensor {
    checkTensor('GradScaler.scale', 'loss', loss);
    if (!this.enabled) return loss;
    return scaleOp(loss, this.#scale);
  }

  /** Divides the gradients of the optimizer's parameters by the scale (once per step) and notes non-finite ones. */
  unscale(optimizer: SGD): void {
    if (!this.enabled) return;
    if (this.#stage === 'unscaled') throw new Error('GradScaler.unscale: already called since the last update()');
    if (this.#stage === 'stepped') throw new Error('GradScaler.unscale: step() was called; call update() first');
    const grads = optimizer.paramGroups.flatMap((g) => g.params).map((p) => p.grad).filter((g): g is Tensor => g !== null);
    let found = false;
    for (const device of ['cpu', 'cuda'] as const) {
      const here = grads.filter((g) => g.device === device);
      if (here.length > 0) found = native.unscaleGrads(here.map((g) => g.handle), 1 / this.#scale) || found;
    }
    this.#foundInf = found;
    this.#stage = 'unscaled';
  }

  /** Unscales (unless unscale() was called) and runs optimizer.step() when every gradient is finite; returns whether it stepped. */
  step(optimizer: SGD): boolean {
    if (!this.enabled) {
      optimizer.step();
      return true;
    }
    if (this.#stage === 'stepped') throw new Error('GradScaler.step: already called since the last update()');
    if (this.#stage === 'ready') this.unscale(optimizer);
    this.#stage = 'stepped';
    if (this.#foundInf) {
      this.skippedSteps++;
      return false;
    }
    optimizer.step();
    return true;
  }

  /** Adjusts the scale after a step: backoff on inf/NaN, growth after growthInterval good steps. */
  update(newScale?: number): void {
    if (!this.enabled) return;
    if (newScale !== undefined) {
      if (typeof newScale !== 'number' || !Number.isFinite(newScale) || newScale <= 0) {
        throw new RangeError(`GradScaler.update: the new scale must be a positive finite number, got ${String(newScale)}`);
      }
      this.#scale = newScale;
      this.#growthTracker = 0;
    } else if (this.#stage !== 'ready') {
      if (this.#foundInf) {
        this.#scale *= this.backoffFactor;
        this.#growthTracker = 0;
      } else if (++this.#growthTracker >= this.growthInterval) {
        this.#scale *= this.growthFactor;
        this.#growthTracker = 0;
      }
    }
    this.#foundInf = false;
    this.#stage = 'ready';
  }

  stateDict(): GradScalerState {
    return { scale: this.#scale, growthFactor: this.growthFactor, backoffFactor: this.backoffFactor,
      growthInterval: this.growthInterval, growthTracker: this.#growthTracker };
  }
  loadStateDict(state: GradScalerState): void {
    if (!state || typeof state.scale !== 'number' || !Number.isFinite(state.scale) || state.scale <= 0) {
      throw new RangeError(`GradScaler.loadStateDict: scale must be a positive finite number, got ${String(state?.scale)}`);
    }
    if (!Number.isInteger(state.growthTracker) || state.growthTracker < 0) throw new RangeError('GradScaler.loadStateDict: growthTracker must be a non-negative integer');
    this.#scale = state.scale;
    this.#growthTracker = state.growthTracker;
  }
}
