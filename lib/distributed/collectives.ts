// Collectives over the process group: all-reduce, broadcast and barrier of tensors (MPI for
// CPU tensors, NCCL for CUDA tensors) and of plain numbers. Each has an async form returning a
// Work, so that communication overlaps computation; the plain forms wait at once.
import { native, type NativeWork } from '../binding.js';
import { Tensor } from '../tensor.js';
import { checkOptions } from '../ops/validate.js';
import { group } from './group.js';

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';
const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'mean', 'max', 'min'];

/** A collective in flight: wait() blocks until it is done and throws its error. */
export class Work {
  readonly #work: NativeWork;
  readonly #keep: Tensor[];
  #seconds: number | null = null;

  /** @internal */
  constructor(work: NativeWork, keep: Tensor[]) {
    this.#work = work;
    this.#keep = keep;
  }

  /** Blocks until done; returns the seconds the collective took on the communication thread. */
  wait(): number {
    if (this.#seconds === null) {
      this.#seconds = native.distributed.wait(this.#work).seconds;
      this.#keep.length = 0;
    }
    return this.#seconds;
  }

  get done(): boolean {
    return this.#seconds !== null || native.distributed.isDone(this.#work);
  }
}

function tensorList(op: string, tensors: Tensor | Tensor[]): Tensor[] {
  const list = Array.isArray(tensors) ? tensors : [tensors];
  if (list.length === 0) throw new TypeError(`${op}: expected at least one tensor`);
  list.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: tensors[${i}] is not a Tensor`);
    if (t.disposed) throw new TypeError(`${op}: tensors[${i}] was disposed`);
    if (t.device !== list[0]!.device) throw new TypeError(`${op}: all tensors must be on one device, got ${list[0]!.device} and ${t.device}`);
  });
  return list;
}

function reduceOp(op: string, value: unknown): ReduceOp {
  const name = value ?? 'sum';
  if (!REDUCE_OPS.includes(name as ReduceOp)) throw new TypeError(`${op}: op must be one of ${REDUCE_OPS.join(', ')}, got ${String(value)}`);
  return name as ReduceOp;
}

function checkReducible(op: string, list: Tensor[]): void {
  const allowed = list[0]!.device === 'cuda' ? ['float32', 'float16', 'bfloat16'] : ['float32'];
  list.forEach((t, i) => {
    if (!allowed.includes(t.dtype)) throw new TypeError(`${op}: ${t.device} tensors to reduce must be ${allowed.join(' / ')}, tensors[${i}] is ${t.dtype}`);
  });
}

/** Queues outputs[i] = op over the ranks of inputs[i] (outputs of the same shape, dtype, device). */
export function allReduceInto(inputs: Tensor[], outputs: Tensor[], op: ReduceOp): Work {
  group();
  const ins = tensorList('allReduce', inputs);
  const outs = tensorList('allReduce', outputs);
  checkReducible('allReduce', ins);
  if (outs.length !== ins.length) throw new TypeError(`allReduce: ${ins.length} inputs but ${outs.length} outputs`);
  return new Work(native.distributed.allReduce(ins.map((t) => t.handle), outs.map((t) => t.handle), op), [...ins, ...outs]);
}

/** allReduce, returning at once: the tensors hold the result after work.wait(). */
export function allReduceAsync(tensors: Tensor | Tensor[], options: { op?: ReduceOp } = {}): Work {
  const o = checkOptions('allReduce', options, ['op']);
  const list = tensorList('allReduce', tensors);
  return allReduceInto(list, list, reduceOp('allReduce', o.op));
}

/**
 * Replaces every tensor's values, in place, by their sum / mean / max / min over the ranks
 * (PyTorch's dist.all_reduce): MPI for CPU tensors (float32), NCCL for CUDA tensors.
 */
export function allReduce(tensors: Tensor | Tensor[], options: { op?: ReduceOp } = {}): void {
  allReduceAsync(tensors, options).wait();
}

/** The element-wise reduction of plain numbers over the ranks (float64, e.g. metrics). */
export function allReduceNumbers(values: readonly number[], options: { op?: ReduceOp } = {}): number[] {
  const o = checkOptions('allReduceNumbers', options, ['op']);
  group();
  if (!Array.isArray(values) || values.some((v) => typeof v !== 'number')) throw new TypeError('allReduceNumbers: values must be an array of numbers');
  const work = native.distributed.allReduceValues(Float64Array.from(values), reduceOp('allReduceNumbers', o.op));
  return Array.from(native.distributed.wait(work).values!);
}

/** Gives every tensor, in place, the values it has on rank `root` (any dtype). */
export function broadcastAsync(tensors: Tensor | Tensor[], options: { root?: number } = {}): Work {
  const o = checkOptions('broadcast', options, ['root']);
  const { size } = group();
  const root = o.root ?? 0;
  if (!Number.isInteger(root) || (root as number) < 0 || (root as number) >= size) throw new RangeError(`broadcast: root must be a rank in [0, ${size}), got ${String(root)}`);
  const list = tensorList('broadcast', tensors);
  return new Work(native.distributed.broadcast(list.map((t) => t.handle), root as number), list);
}

export function broadcast(tensors: Tensor | Tensor[], options: { root?: number } = {}): void {
  broadcastAsync(tensors, options).wait();
}

/** Rank root's bytes, on every rank. */
export function broadcastBytes(bytes: Uint8Array, options: { root?: number } = {}): Uint8Array {
  const o = checkOptions('broadcastBytes', options, ['root']);
  group();
  if (!(bytes instanceof Uint8Array)) throw new TypeError('broadcastBytes: bytes must be a Uint8Array');
  return native.distributed.wait(native.distributed.broadcastBytes(bytes, (o.root as number | undefined) ?? 0)).bytes!;
}

/** Returns once every rank has reached it. */
export function barrier(): void {
  group();
  native.distributed.wait(native.distributed.barrier());
}
