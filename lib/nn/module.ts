// Module: the base of every layer and model. Parameters, buffers and child modules are
// registered by name in order, so that dotted names (layer1.0.conv1.weight, bn1.running_mean,
// fc.bias ...) follow PyTorch's and a torchvision state dict maps key for key.
import { native } from '../binding.js';
import { keep, untracked } from '../memory.js';
import { cast, toDevice, toMemoryFormat } from '../ops/cast.js';
import { checkDevice } from '../ops/validate.js';
import { Tensor, type Device, type DType, type MemoryFormat } from '../tensor.js';
import { noGrad } from '../autograd.js';

export type StateDict = Record<string, Tensor>;

export interface LoadStateDictOptions {
  /** Refuse missing and unexpected keys (default true). Shape mismatches are always refused. */
  strict?: boolean;
  /** Convert tensors whose dtype differs from the module's (default false: refuse them). */
  castDtypes?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export type ModuleTarget = Device | { device?: Device; dtype?: DType; memoryFormat?: MemoryFormat };

const foldable = new WeakMap<Module, [Module, Module][]>();

/**
 * @internal Records that `owner`'s forward() runs `bn` right after `conv` as one unit (so the BN
 * may be folded into the convolution); called where the unit is built.
 */
export function recordFoldablePair(owner: Module, conv: Module, bn: Module): void {
  const pairs = foldable.get(owner);
  if (pairs) pairs.push([conv, bn]);
  else foldable.set(owner, [[conv, bn]]);
}

export abstract class Module {
  training = true;
  readonly #parameters = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, Tensor | null>();
  readonly #children = new Map<string, Module>();

  abstract forward(...inputs: Tensor[]): Tensor;

  /** Registers a parameter (a tensor that requires grad); null keeps the name with no tensor (e.g. bias: false). */
  protected registerParameter(name: string, t: Tensor | null): Tensor | null {
    this.#checkName(name);
    if (t) {
      keep(t);
      if (!t.requiresGrad) t.requiresGrad = true;
    }
    this.#parameters.set(name, t);
    return t;
  }

  /** Replaces the tensor of a registered parameter (the old one is disposed). */
  protected replaceParameter(name: string, t: Tensor): void {
    if (!this.#parameters.has(name)) throw new Error(`${this.constructor.name}: no parameter named '${name}'`);
    const old = this.#parameters.get(name);
    keep(t);
    if (!t.requiresGrad) t.requiresGrad = true;
    this.#parameters.set(name, t);
    if (old && old !== t) old.dispose();
  }

  /**
   * The (convolution, batch norm) pairs this module runs as one unit in forward(), which
   * fuseForInference() may fold: recorded when the unit is built (ConvBn, Sequential), never
   * listed by hand. Children are visited separately.
   */
  foldablePairs(): [Module, Module][] {
    return [...(foldable.get(this) ?? [])];
  }

  /** Registers a buffer: state saved in the state dict but not trained (running statistics ...). */
  protected registerBuffer(name: string, t: Tensor | null): Tensor | null {
    this.#checkName(name);
    if (t) keep(t);
    this.#buffers.set(name, t);
    return t;
  }

  /** Registers a child module under `name` (its parameters become `name.<...>`). */
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.#checkName(name);
    if (!(m instanceof Module)) throw new TypeError(`${this.constructor.name}: child '${name}' is not a Module`);
    this.#children.set(name, m);
    return m;
  }

  #checkName(name: string): void {
    if (!name || name.includes('.')) throw new TypeError(`${this.constructor.name}: invalid name '${name}' (non-empty, without dots)`);
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#children.has(name)) {
      throw new TypeError(`${this.constructor.name}: '${name}' is already registered`);
    }
  }

  /** The parameter or buffer registered as `name` (null when registered as null). */
  protected tensorNamed(name: string): Tensor | null {
    const t = this.#parameters.has(name) ? this.#parameters.get(name) : this.#buffers.get(name);
    if (t === undefined) throw new Error(`${this.constructor.name}: no parameter or buffer named '${name}'`);
    return t;
  }

  *namedChildren(): IterableIterator<[string, Module]> {
    yield* this.#children;
  }
  children(): Module[] {
    return [...this.#children.values()];
  }
  /** This module and every descendant, with dotted names ('' for this one). */
  *namedModules(prefix = ''): IterableIterator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.#children) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }
  modules(): Module[] {
    return [...this.namedModules()].map(([, m]) => m);
  }

  *namedParameters(prefix = ''): IterableIterator<[string, Tensor]> {
    for (const [name, t] of this.#parameters) if (t) yield [prefix ? `${prefix}.${name}` : name, t];
    for (const [name, child] of this.#children) yield* child.namedParameters(prefix ? `${prefix}.${name}` : name);
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, t]) => t);
  }
  *namedBuffers(prefix = ''): IterableIterator<[string, Tensor]> {
    for (const [name, t] of this.#buffers) if (t) yield [prefix ? `${prefix}.${name}` : name, t];
    for (const [name, child] of this.#children) yield* child.namedBuffers(prefix ? `${prefix}.${name}` : name);
  }
  buffers(): Tensor[] {
    return [...this.namedBuffers()].map(([, t]) => t);
  }

  /** Number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }

  /**
   * Parameters and buffers by dotted name, in PyTorch's order (each module's parameters, then
   * its buffers, then its children). The tensors are the module's own (not copies).
   */
  stateDict(prefix = ''): StateDict {
    const out: StateDict = {};
    for (const [name, t] of this.#parameters) if (t) out[prefix + name] = t;
    for (const [name, t] of this.#buffers) if (t) out[prefix + name] = t;
    for (const [name, child] of this.#children) Object.assign(out, child.stateDict(`${prefix}${name}.`));
    return out;
  }

  /**
   * Copies values from a state dict into this module's tensors in place (an optimizer built on
   * parameters() keeps working). Wrong shapes are always an error naming every such key;
   * missing and unexpected keys are an error when strict (default), else reported.
   */
  loadStateDict(stateDict: StateDict | Map<string, Tensor>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const entries = stateDict instanceof Map ? stateDict : new Map(Object.entries(stateDict));
    const own = this.stateDict();
    const missingKeys = Object.keys(own).filter((k) => !entries.has(k));
    const unexpectedKeys = [...entries.keys()].filter((k) => !(k in own));
    const problems: string[] = [];
    for (const [key, target] of Object.entries(own)) {
      const source = entries.get(key);
      if (!source) continue;
      if (!(source instanceof Tensor) || source.disposed) {
        problems.push(`${key}: not a live Tensor`);
      } else if (source.shape.length !== target.shape.length || source.shape.some((s, i) => s !== target.shape[i])) {
        problems.push(`${key}: shape [${source.shape}] in the state dict, [${target.shape}] in the model`);
      } else if (source.dtype !== target.dtype && !options.castDtypes) {
        problems.push(`${key}: dtype ${source.dtype} in the state dict, ${target.dtype} in the model (pass { castDtypes: true } to convert)`);
      }
    }
    if (strict && missingKeys.length > 0) problems.push(`missing keys: ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length > 0) problems.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
    if (problems.length > 0) {
      throw new RangeError(`loadStateDict: the state dict does not fit ${this.constructor.name}:\n  ${problems.join('\n  ')}`);
    }
    noGrad(() => untracked(() => {
      for (const [key, target] of Object.entries(own)) {
        const source = entries.get(key);
        if (!source) continue;
        const converted = source.dtype === target.dtype ? source : cast(source, target.dtype);
        native.copyInto(target.handle, converted.handle);
        if (converted !== source) converted.dispose();
      }
    }));
    return { missingKeys, unexpectedKeys };
  }

  /** Training mode (batch statistics in BN); returns this. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  /** Evaluation mode (running statistics in BN); returns this. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Moves or converts every parameter and buffer. dtype applies to floating-point tensors only;
   * memoryFormat to 4-D tensors only (conv weights). Tensors are replaced, so build the
   * optimizer after calling to().
   */
  to(target: ModuleTarget): this {
    const o = typeof target === 'string' ? { device: target } : target;
    if (o.device !== undefined) checkDevice('to', o.device);
    noGrad(() => untracked(() => {
      for (const m of this.modules()) {
        for (const [name, t] of [...m.#parameters, ...m.#buffers]) {
          if (!t) continue;
          let next = t;
          if (o.device && o.device !== t.device) next = toDevice(next, o.device);
          if (o.dtype && o.dtype !== t.dtype && (t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'bfloat16')) {
            const converted = cast(next, o.dtype);
            if (next !== t) next.dispose();
            next = converted;
          }
          if (o.memoryFormat && next.ndim === 4 && next.memoryFormat !== o.memoryFormat) {
            const formatted = toMemoryFormat(next, o.memoryFormat);
            if (next !== t) next.dispose();
            next = formatted;
          }
          if (next === t) continue;
          if (t.requiresGrad) next.requiresGrad = true;
          keep(next);
          t.dispose();
          if (m.#parameters.has(name)) m.#parameters.set(name, next);
          else m.#buffers.set(name, next);
        }
      }
    }));
    return this;
  }

  /** Frees every parameter, gradient and buffer of this module and its children. */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.buffers()]) t.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}
