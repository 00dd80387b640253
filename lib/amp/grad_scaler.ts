// Dynamic loss scaling for float16 training (PyTorch's torch.cuda.amp.GradScaler): the loss is
// multiplied by a large scale before backward() so that small float16 gradients do not flush to
// zero; step() divides the gradients by the scale and skips the optimizer step when any of them
// is infinite or NaN; update() then halves the scale, or doubles it after `growthInterval`
// good steps in a row.
// After useDeviceState(device) the scale, the growth tracker, the non-finite flag and the count of
// skipped steps live in tensors on that device and every decision is taken there: a step then
// reads nothing back (it can be captured in a CUDA graph), and getScale(), skippedSteps and
// stateDict() read the values back when asked.
import { native, type NativeTensor } from '../binding.js';
import { isCapturing } from '../cuda_graph.js';
import { untracked } from '../memory.js';
import { mul, scale as scaleOp } from '../ops/elementwise.js';
import type { Optimizer } from '../optim/optimizer.js';
import { wrap, type Device, type Tensor } from '../tensor.js';
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

/** The scaler's state as device tensors: scale (float32), growth tracker, found flag, skipped count (int32). */
interface DeviceState {
  device: Device;
  scale: Tensor;
  growthTracker: Tensor;
  found: Tensor;
  skipped: Tensor;
}

export class GradScaler {
  #scale: number;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly enabled: boolean;
  #growthTracker = 0;
  #foundInf = false;
  #stage: Stage = 'ready';
  #skippedSteps = 0;
  #device: DeviceState | null = null;

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

  /** The current scale (1 when disabled). Reads the device back after useDeviceState(). */
  getScale(): number {
    if (!this.enabled) return 1;
    return this.#device ? this.#device.scale.item() : this.#scale;
  }

  /** Steps skipped because a gradient was not finite (since construction). Reads the device back after useDeviceState(). */
  get skippedSteps(): number {
    return this.#skippedSteps + (this.#device ? this.#device.skipped.item() : 0);
  }

  /** The device holding the scaler's state (useDeviceState()), or null while it is kept on the host. */
  get stateDevice(): Device | null {
    return this.#device?.device ?? null;
  }

  /**
   * Moves the scale, growth tracker, non-finite flag and skipped-step count into tensors on
   * `device` (that of the gradients), where every later decision is taken: unscale() and update()
   * then read nothing back, and step() skips the optimizer's update on the device. Needed for
   * steps captured in a CUDA graph. Call between steps (after update()).
   */
  useDeviceState(device: Device): void {
    if (device !== 'cpu' && device !== 'cuda') throw new TypeError(`GradScaler.useDeviceState: device must be 'cpu' or 'cuda', got ${String(device)}`);
    if (this.#stage !== 'ready') throw new Error('GradScaler.useDeviceState: call it between steps (after update())');
    if (!this.enabled || this.#device?.device === device) return;
    const state = this.#readDeviceState();
    this.#device = untracked(() => ({
      device,
      scale: wrap(native.full([], state.scale, 'float32', device)),
      growthTracker: wrap(native.full([], state.growthTracker, 'int32', device)),
      found: wrap(native.full([], 0, 'int32', device)),
      skipped: wrap(native.full([], 0, 'int32', device)),
    }));
    this.#skippedSteps = state.skipped;
  }

  /** Frees the device state (the values come back to the host first). */
  dispose(): void {
    if (!this.#device) return;
    const state = this.#readDeviceState();
    this.#scale = state.scale;
    this.#growthTracker = state.growthTracker;
    this.#skippedSteps = state.skipped;
    for (const t of [this.#device.scale, this.#device.growthTracker, this.#device.found, this.#device.skipped]) t.dispose();
    this.#device = null;
  }

  /** scale, growthTracker and skipped steps, read from wherever they live. */
  #readDeviceState(): { scale: number; growthTracker: number; skipped: number } {
    const d = this.#device;
    if (!d) return { scale: this.#scale, growthTracker: this.#growthTracker, skipped: this.#skippedSteps };
    return { scale: d.scale.item(), growthTracker: d.growthTracker.item(), skipped: this.#skippedSteps + d.skipped.item() };
  }

  #stateHandles(): [NativeTensor, NativeTensor, NativeTensor, NativeTensor] {
    const d = this.#device!;
    return [d.scale.handle, d.growthTracker.handle, d.found.handle, d.skipped.handle];
  }

  #checkCapturable(what: string): void {
    if (!this.#device && isCapturing()) {
      throw new Error(`GradScaler.${what}: a CUDA graph is being captured; call scaler.useDeviceState('cuda') before capturing (the host-side scaler reads the GPU back)`);
    }
  }

  /** loss * scale, to call backward() on. */
  scale(loss: Tensor): Tensor {
    checkTensor('GradScaler.scale', 'loss', loss);
    if (!this.enabled) return loss;
    if (this.#device) return mul(loss, this.#device.scale);
    this.#checkCapturable('scale');
    return scaleOp(loss, this.#scale);
  }

  /** Divides the gradients of the optimizer's parameters by the scale (once per step) and notes non-finite ones. */
  unscale(optimizer: Optimizer): void {
    if (!this.enabled) return;
    if (this.#stage === 'unscaled') throw new Error('GradScaler.unscale: already called since the last update()');
    if (this.#stage === 'stepped') throw new Error('GradScaler.unscale: step() was called; call update() first');
    const grads = optimizer.paramGroups.flatMap((g) => g.params).map((p) => p.grad).filter((g): g is Tensor => g !== null);
    if (this.#device) {
      const device = this.#device.device;
      const other = grads.find((g) => g.device !== device);
      if (other) throw new TypeError(`GradScaler.unscale: the scaler's state is on ${device}, a gradient is on ${other.device}`);
      native.unscaleGradsBy(grads.map((g) => g.handle), ...this.#stateHandles());
      this.#stage = 'unscaled';
      return;
    }
    this.#checkCapturable('unscale');
    let found = false;
    for (const device of ['cpu', 'cuda'] as const) {
      const here = grads.filter((g) => g.device === device);
      if (here.length > 0) found = native.unscaleGrads(here.map((g) => g.handle), 1 / this.#scale) || found;
    }
    this.#foundInf = found;
    this.#stage = 'unscaled';
  }

  /**
   * Unscales (unless unscale() was called) and runs optimizer.step() when every gradient is finite;
   * returns whether it stepped. With the state on a device, the optimizer's update is queued with
   * the flag and skipped there: the result is then not known on the host (undefined).
   */
  step(optimizer: Optimizer): boolean | undefined {
    if (!this.enabled) {
      optimizer.step();
      return true;
    }
    if (this.#stage === 'stepped') throw new Error('GradScaler.step: already called since the last update()');
    if (this.#stage === 'ready') this.unscale(optimizer);
    this.#stage = 'stepped';
    if (this.#device) {
      optimizer.step({ skipIfNonzero: this.#device.found });
      return undefined;
    }
    if (this.#foundInf) {
      this.#skippedSteps++;
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
      this.#checkCapturable('update');
      if (this.#device) {
        if (isCapturing()) throw new Error('GradScaler.update: a new scale cannot be set inside a CUDA graph capture');
        this.#setDeviceState(newScale, 0);
      }
      this.#scale = newScale;
      this.#growthTracker = 0;
    } else if (this.#device) {
      if (this.#stage !== 'ready') native.updateScaleState(...this.#stateHandles(), this.growthFactor, this.backoffFactor, this.growthInterval);
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

  /** Overwrites the device state's scale and growth tracker (found flag cleared). */
  #setDeviceState(scale: number, growthTracker: number): void {
    const d = this.#device!;
    untracked(() => {
      for (const [dst, value, dtype] of [[d.scale, scale, 'float32'], [d.growthTracker, growthTracker, 'int32'], [d.found, 0, 'int32']] as const) {
        const v = native.full([], value, dtype, d.device);
        native.copyInto(dst.handle, v);
        v.dispose();
      }
    });
  }

  stateDict(): GradScalerState {
    const state = this.#readDeviceState();
    return { scale: state.scale, growthFactor: this.growthFactor, backoffFactor: this.backoffFactor,
      growthInterval: this.growthInterval, growthTracker: state.growthTracker };
  }
  loadStateDict(state: GradScalerState): void {
    if (!state || typeof state.scale !== 'number' || !Number.isFinite(state.scale) || state.scale <= 0) {
      throw new RangeError(`GradScaler.loadStateDict: scale must be a positive finite number, got ${String(state?.scale)}`);
    }
    if (!Number.isInteger(state.growthTracker) || state.growthTracker < 0) throw new RangeError('GradScaler.loadStateDict: growthTracker must be a non-negative integer');
    this.#scale = state.scale;
    this.#growthTracker = state.growthTracker;
    if (this.#device) this.#setDeviceState(state.scale, state.growthTracker);
  }
}
