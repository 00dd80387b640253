// Learning-rate schedules as factors of each parameter group's base learning rate, and the
// scheduler that applies one to an optimizer every iteration.
import type { Optimizer } from './optimizer.js';

/** Maps an iteration (0-based) to a factor of the base learning rate. */
export type Schedule = (iteration: number) => number;

function checkSteps(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${n}`);
}

/** Constant factor 1. */
export function constant(): Schedule {
  return () => 1;
}

/**
 * Multiplied by gamma at each milestone: the paper's CIFAR schedule is
 * multiStep([32000, 48000], 0.1) on a base rate of 0.1.
 */
export function multiStep(milestones: number[], gamma = 0.1): Schedule {
  milestones.forEach((m) => checkSteps('multiStep: milestones', m));
  if (milestones.some((m, i) => i > 0 && m <= milestones[i - 1]!)) throw new RangeError('multiStep: milestones must increase');
  if (!(gamma > 0)) throw new RangeError(`multiStep: gamma must be positive, got ${gamma}`);
  return (it) => gamma ** milestones.filter((m) => it >= m).length;
}

/** Half a cosine from 1 down to minFactor over totalSteps, then minFactor. */
export function cosine(totalSteps: number, minFactor = 0): Schedule {
  checkSteps('cosine: totalSteps', totalSteps);
  if (totalSteps === 0) throw new RangeError('cosine: totalSteps must be positive');
  return (it) => minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * Math.min(it, totalSteps) / totalSteps));
}

/** Rises linearly from startFactor to 1 over warmupSteps, then follows `then` (shifted to start at 0). */
export function linearWarmup(warmupSteps: number, then: Schedule = constant(), startFactor = 0.1): Schedule {
  checkSteps('linearWarmup: warmupSteps', warmupSteps);
  if (!(startFactor >= 0 && startFactor <= 1)) throw new RangeError(`linearWarmup: startFactor must be in [0, 1], got ${startFactor}`);
  return (it) => (it < warmupSteps ? startFactor + (1 - startFactor) * (it / warmupSteps) : then(it - warmupSteps));
}

export interface SchedulerState {
  iteration: number;
  baseLrs: number[];
}

/** Sets every group's lr to baseLr * schedule(iteration); call step() once per iteration, after optimizer.step(). */
export class LRScheduler {
  iteration = 0;
  readonly baseLrs: number[];

  constructor(readonly optimizer: Optimizer, readonly schedule: Schedule) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.#apply();
  }

  #apply(): void {
    const factor = this.schedule(this.iteration);
    if (!Number.isFinite(factor) || factor < 0) throw new RangeError(`LRScheduler: the schedule gave ${factor} at iteration ${this.iteration}`);
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.baseLrs[i]! * factor));
  }

  step(): void {
    this.iteration++;
    this.#apply();
  }

  /** Replaces the base rates (ReduceLROnPlateau's reductions) and applies the schedule to them. */
  setBaseLrs(lrs: number[]): void {
    if (lrs.length !== this.baseLrs.length || !lrs.every((lr) => Number.isFinite(lr) && lr >= 0)) {
      throw new RangeError(`LRScheduler.setBaseLrs: expected ${this.baseLrs.length} non-negative rates`);
    }
    lrs.forEach((lr, i) => (this.baseLrs[i] = lr));
    this.#apply();
  }

  /** The learning rate of each group now. */
  lastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): SchedulerState {
    return { iteration: this.iteration, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(state: SchedulerState): void {
    if (!state || !Number.isInteger(state.iteration) || !Array.isArray(state.baseLrs) || state.baseLrs.length !== this.baseLrs.length) {
      throw new TypeError(`LRScheduler.loadStateDict: expected { iteration, baseLrs[${this.baseLrs.length}] }`);
    }
    this.iteration = state.iteration;
    state.baseLrs.forEach((lr, i) => (this.baseLrs[i] = lr));
    this.#apply();
  }
}
