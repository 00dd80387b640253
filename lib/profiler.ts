// rn.profiler: where the time goes, per native op. Between start() and stop() every call of a
// native op (conv2d, conv2dBackward, batchNorm2d, relu, matmul, sgdStepMulti, ...) is counted and
// timed under its name and the device of its tensors:
//   - hostMs: time spent in the call on the calling thread (a steady clock around it). On the
//     CPU that is the op's whole time; on the GPU, where an op returns once its work is queued,
//     it is the launch overhead.
//   - deviceMs (ops on GPU tensors only): GPU time of the work the call queued, from a pair of
//     CUDA events recorded on the backend's stream around it and read when stop() is called.
// Time outside the native ops (JavaScript, the autograd tape, copies between devices) is in
// neither. Calls made while the stream is captured into a CUDA graph are not timed; skippedCalls
// counts them.
import { native, type NativeProfileEntry } from './binding.js';
import type { Device } from './tensor.js';

/** One op on one device: how often it was called and how long it took in all. */
export interface OpProfile {
  /** The native op's name (`conv2d`, `conv2dBackward`, `batchNorm2d`, ...). */
  op: string;
  device: Device;
  calls: number;
  hostMs: number;
  /** GPU time of the work the calls queued; present for ops on GPU tensors. */
  deviceMs?: number;
}

export interface ProfileReport {
  /** Sorted by time, longest first (device time for GPU ops, host time for CPU ops). */
  ops: OpProfile[];
  /** Sum of the ops' hostMs. */
  totalHostMs: number;
  /** Sum of the ops' deviceMs; present when any op ran on the GPU. */
  totalDeviceMs?: number;
  /** Calls made during a CUDA graph capture (not timed, not in `ops`). */
  skippedCalls: number;
}

let running = false;

/** Starts profiling from zero. Throws when the profiler is already running. */
export function start(): void {
  if (running) throw new Error('profiler.start: the profiler is already running; call profiler.stop() first');
  native.profiler('reset');
  native.profiler('enable');
  running = true;
}

/**
 * Stops profiling and returns what was measured since start() (or the last reset()). Waits for
 * the GPU work that was timed to finish. Throws when the profiler is not running.
 */
export function stop(): ProfileReport {
  if (!running) throw new Error('profiler.stop: the profiler is not running; call profiler.start() first');
  native.profiler('disable');
  running = false;
  return toReport(native.profiler('report'));
}

/** Forgets what was measured so far; a running profiler goes on from zero. */
export function reset(): void {
  native.profiler('reset');
}

export function isRunning(): boolean {
  return running;
}

/** The time an op is ranked by: device time where it has one, else host time. */
const rankMs = (p: OpProfile): number => p.deviceMs ?? p.hostMs;

function toReport(raw: { ops: NativeProfileEntry[]; skippedCalls: number }): ProfileReport {
  const ops: OpProfile[] = raw.ops.map((e) => ({ ...e }));
  ops.sort((a, b) => rankMs(b) - rankMs(a) || a.op.localeCompare(b.op) || a.device.localeCompare(b.device));
  const report: ProfileReport = { ops, totalHostMs: ops.reduce((s, p) => s + p.hostMs, 0), skippedCalls: raw.skippedCalls };
  if (ops.some((p) => p.deviceMs !== undefined)) report.totalDeviceMs = ops.reduce((s, p) => s + (p.deviceMs ?? 0), 0);
  return report;
}

const ms = (v: number): string => v.toFixed(3);
const share = (part: number, total: number): string => `${total > 0 ? ((100 * part) / total).toFixed(1) : '0.0'}%`;

/**
 * The report as an aligned text table: op, calls, milliseconds and share of the total, for host
 * time and (when any op ran on the GPU) device time; a device column when both devices appear;
 * a total line last.
 */
export function format(report: ProfileReport): string {
  if (typeof report !== 'object' || report === null || !Array.isArray(report.ops) || typeof report.totalHostMs !== 'number') {
    throw new TypeError('profiler.format: expected the report returned by profiler.stop()');
  }
  const withDevice = report.totalDeviceMs !== undefined;
  const mixed = new Set(report.ops.map((p) => p.device)).size > 1;
  const header = ['op', ...(mixed ? ['device'] : []), 'calls', 'host ms', 'share', ...(withDevice ? ['device ms', 'share'] : [])];
  const line = (op: string, device: string, calls: number, hostMs: number, deviceMs: number | undefined): string[] => [
    op, ...(mixed ? [device] : []), String(calls), ms(hostMs), share(hostMs, report.totalHostMs),
    ...(withDevice ? (deviceMs === undefined ? ['', ''] : [ms(deviceMs), share(deviceMs, report.totalDeviceMs!)]) : []),
  ];
  const rows = report.ops.map((p) => line(p.op, p.device, p.calls, p.hostMs, p.deviceMs));
  const calls = report.ops.reduce((s, p) => s + p.calls, 0);
  rows.push(line('total', '', calls, report.totalHostMs, report.totalDeviceMs));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // The op and device columns align left, the numbers right.
  const textColumns = mixed ? 2 : 1;
  const render = (cells: string[]): string =>
    cells.map((c, i) => (i < textColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [render(header), rule, ...rows.slice(0, -1).map(render), rule, render(rows[rows.length - 1]!)];
  if (report.skippedCalls > 0) out.push(`(${report.skippedCalls} calls made during a CUDA graph capture are not timed)`);
  return out.join('\n');
}
