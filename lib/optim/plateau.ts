// torch.optim.lr_scheduler.ReduceLROnPlateau: multiplies the learning rates by `factor` when a
// metric (a test loss, say) has not improved for more than `patience` calls of step(metric).
// It acts on an optimizer's group rates, or on an LRScheduler's base rates, so that a warm-up or
// cosine schedule keeps running on the reduced rates.
import type { Optimizer } from './optimizer.js';
import { LRScheduler } from './schedules.js';

export interface PlateauOptions {
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  minLr?: number | number[];
  eps?: number;
}

export interface PlateauState {
  /** null: no metric yet (PyTorch's +-inf). */
  best: number | null;
  numBadEpochs: number;
  cooldownCounter: number;
  lastEpoch: number;
}

export class ReduceLROnPlateau {
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  readonly #target: Optimizer | LRScheduler;

  constructor(target: Optimizer | LRScheduler, o: PlateauOptions = {}) {
    const known = ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps'];
    for (const key of Object.keys(o)) if (!known.includes(key)) throw new TypeError(`ReduceLROnPlateau: unknown option '${key}'`);
    this.#target = target;
    this.mode = o.mode ?? 'min';
    this.factor = o.factor ?? 0.1;
    this.patience = o.patience ?? 10;
    this.threshold = o.threshold ?? 1e-4;
    this.thresholdMode = o.thresholdMode ?? 'rel';
    this.cooldown = o.cooldown ?? 0;
    this.eps = o.eps ?? 1e-8;
    const groups = this.#rates().length;
    const minLr = o.minLr ?? 0;
    this.minLrs = Array.isArray(minLr) ? [...minLr] : Array.from({ length: groups }, () => minLr);
    if (this.mode !== 'min' && this.mode !== 'max') throw new TypeError(`ReduceLROnPlateau: mode must be 'min' or 'max', got ${String(this.mode)}`);
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') throw new TypeError(`ReduceLROnPlateau: thresholdMode must be 'rel' or 'abs', got ${String(this.thresholdMode)}`);
    if (!(this.factor > 0 && this.factor < 1)) throw new RangeError(`ReduceLROnPlateau: factor must be in (0, 1), got ${this.factor}`);
    if (!Number.isInteger(this.patience) || this.patience < 0) throw new RangeError(`ReduceLROnPlateau: patience must be a non-negative integer, got ${this.patience}`);
    if (!Number.isInteger(this.cooldown) || this.cooldown < 0) throw new RangeError(`ReduceLROnPlateau: cooldown must be a non-negative integer, got ${this.cooldown}`);
    if (!(this.threshold >= 0)) throw new RangeError(`ReduceLROnPlateau: threshold must be non-negative, got ${this.threshold}`);
    if (this.minLrs.length !== groups || !this.minLrs.every((m) => m >= 0)) {
      throw new RangeError(`ReduceLROnPlateau: minLr must be a non-negative number or one per parameter group (${groups})`);
    }
    this.best = this.#worst();
  }

  #worst(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  /** The rates it reduces: the scheduler's base rates, or the optimizer's group rates. */
  #rates(): number[] {
    const t = this.#target;
    return t instanceof LRScheduler ? [...t.baseLrs] : t.paramGroups.map((g) => g.lr);
  }

  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === 'rel' ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }

  /** Call once per evaluation with the metric; returns true when it reduced the rates. */
  step(metric: number): boolean {
    if (!Number.isFinite(metric)) throw new RangeError(`ReduceLROnPlateau.step: the metric must be a finite number, got ${metric}`);
    this.lastEpoch++;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs <= this.patience) return false;
    this.cooldownCounter = this.cooldown;
    this.numBadEpochs = 0;
    const rates = this.#rates().map((old, i) => {
      const reduced = Math.max(old * this.factor, this.minLrs[i]!);
      return old - reduced > this.eps ? reduced : old;
    });
    const t = this.#target;
    if (t instanceof LRScheduler) t.setBaseLrs(rates);
    else t.paramGroups.forEach((g, i) => (g.lr = rates[i]!));
    return true;
  }

  stateDict(): PlateauState {
    return { best: Number.isFinite(this.best) ? this.best : null, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter, lastEpoch: this.lastEpoch };
  }

  loadStateDict(state: PlateauState): void {
    if (!state || !(state.best === null || Number.isFinite(state.best)) || ![state.numBadEpochs, state.cooldownCounter, state.lastEpoch].every(Number.isInteger)) {
      throw new TypeError('ReduceLROnPlateau.loadStateDict: expected { best, numBadEpochs, cooldownCounter, lastEpoch }');
    }
    this.best = state.best ?? this.#worst();
    this.numBadEpochs = state.numBadEpochs;
    this.cooldownCounter = state.cooldownCounter;
    this.lastEpoch = state.lastEpoch;
  }
}
