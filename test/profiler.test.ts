// rn.profiler: the native ops called between start() and stop(), with their counts and times
// (no timing is asserted beyond non-negative and consistent), misuse errors, the text table, and
// on a GPU the device time of ops on GPU tensors.
import { afterEach, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { announceSkip, expectCuda, runCuda } from './helpers/cuda.js';

announceSkip('profiler GPU test');

afterEach(() => {
  if (rn.profiler.isRunning()) rn.profiler.stop();
});

/** Calls by op name, for one device. */
function callsOf(report: rn.profiler.ProfileReport, device: rn.Device = 'cpu'): Record<string, number> {
  return Object.fromEntries(report.ops.filter((p) => p.device === device).map((p) => [p.op, p.calls]));
}

function expectConsistent(report: rn.profiler.ProfileReport): void {
  for (const p of report.ops) {
    expect(p.calls).toBeGreaterThan(0);
    expect(p.hostMs).toBeGreaterThanOrEqual(0);
    if (p.deviceMs !== undefined) expect(p.deviceMs).toBeGreaterThanOrEqual(0);
  }
  expect(report.totalHostMs).toBeCloseTo(report.ops.reduce((s, p) => s + p.hostMs, 0), 9);
  if (report.totalDeviceMs !== undefined) {
    expect(report.totalDeviceMs).toBeCloseTo(report.ops.reduce((s, p) => s + (p.deviceMs ?? 0), 0), 9);
  }
  const ranked = report.ops.map((p) => p.deviceMs ?? p.hostMs);
  expect(ranked).toEqual([...ranked].sort((a, b) => b - a));
}

/** conv2d (bias) -> relu -> batch norm (eval) -> + -> max pool -> relu, without autograd. */
function forwardSequence(device: rn.Device): void {
  rn.scope(() => {
    const x = rn.randn([2, 3, 8, 8], { device });
    const w = rn.randn([4, 3, 3, 3], { device }), b = rn.randn([4], { device });
    const runningMean = rn.zeros([4], { device }), runningVar = rn.ones([4], { device });
    rn.profiler.start();
    rn.noGrad(() => {
      const y = rn.relu(rn.conv2d(x, w, b, { padding: 1 }));
      const z = rn.batchNorm2d(y, runningMean, runningVar);
      rn.relu(rn.maxPool2d(rn.add(z, y), { kernelSize: 2 }));
    });
  });
}

describe('rn.profiler on the CPU', () => {
  it('reports exactly the native calls made, by name and count', () => {
    forwardSequence('cpu');
    const report = rn.profiler.stop();
    expect(callsOf(report)).toEqual({ conv2d: 1, relu: 2, batchNorm2d: 1, binary: 1, maxPool2d: 1 });
    expect(report.ops.every((p) => p.device === 'cpu' && p.deviceMs === undefined)).toBe(true);
    expect(report.totalDeviceMs).toBeUndefined();
    expect(report.skippedCalls).toBe(0);
    expectConsistent(report);
  });

  it('counts repeated calls and the backward ops of a training step', () => {
    const net = rn.models.cifarResNet({ depth: 8, numClasses: 10 }).train();
    const x = rn.randn([4, 3, 16, 16]);
    const labels = rn.tensor([1, 2, 3, 4], [4], { dtype: 'int64' });
    const opt = new rn.optim.SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
    const step = (): void => rn.scope(() => {
      opt.zeroGrad();
      rn.crossEntropy(net.forward(x), labels).backward();
      opt.step();
    });
    step();
    rn.profiler.start();
    step();
    const once = callsOf(rn.profiler.stop());
    rn.profiler.start();
    step();
    step();
    const report = rn.profiler.stop();
    const twice = callsOf(report);
    expect(Object.keys(twice).sort()).toEqual(Object.keys(once).sort());
    for (const [op, calls] of Object.entries(once)) expect(twice[op], op).toBe(2 * calls);
    for (const op of ['conv2d', 'conv2dBackward', 'crossEntropy', 'crossEntropyBackward']) expect(once[op], op).toBeGreaterThan(0);
    expectConsistent(report);
    opt.dispose();
    net.dispose();
    x.dispose();
    labels.dispose();
  });

  it('records nothing while it is off', () => {
    const x = rn.randn([16]);
    rn.relu(x).dispose();
    rn.profiler.start();
    const empty = rn.profiler.stop();
    expect(empty.ops).toEqual([]);
    expect(empty.totalHostMs).toBe(0);
    rn.relu(x).dispose();
    rn.profiler.start();
    expect(rn.profiler.stop().ops).toEqual([]);
    x.dispose();
  });

  it('reset() forgets what was measured and goes on counting', () => {
    const x = rn.randn([16]);
    rn.profiler.start();
    rn.relu(x).dispose();
    rn.profiler.reset();
    rn.sigmoid(x).dispose();
    expect(callsOf(rn.profiler.stop())).toEqual({ sigmoid: 1 });
    x.dispose();
  });

  it('throws on misuse: stop without start, start twice, format of something else', () => {
    expect(() => rn.profiler.stop()).toThrow(/not running.*start\(\)/);
    rn.profiler.start();
    expect(() => rn.profiler.start()).toThrow(/already running/);
    expect(rn.profiler.isRunning()).toBe(true);
    rn.profiler.stop();
    expect(rn.profiler.isRunning()).toBe(false);
    expect(() => rn.profiler.format({} as rn.profiler.ProfileReport)).toThrow(TypeError);
  });

  it('formats an aligned table with shares and a total line', () => {
    forwardSequence('cpu');
    const report = rn.profiler.stop();
    const lines = rn.profiler.format(report).split('\n');
    expect(lines[0]).toMatch(/^op\s+calls\s+host ms\s+share$/);
    expect(lines).toHaveLength(report.ops.length + 4); // header, rule, ops, rule, total
    const rows = lines.filter((l) => !l.startsWith('-')).slice(1);
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual([...report.ops.map((p) => p.op), 'total']);
    for (const row of rows) expect(row.length).toBe(lines[0]!.length); // numbers align right
    expect(lines[lines.length - 1]).toMatch(/^total\s+6\s+[\d.]+\s+100\.0%$/);
  });
});

describe('rn.profiler on the GPU', () => {
  it.skipIf(!runCuda)('reports device time for ops on GPU tensors and host time for the rest', () => {
    expectCuda();
    forwardSequence('cuda');
    rn.scope(() => rn.relu(rn.randn([16])));
    const report = rn.profiler.stop();
    expect(callsOf(report, 'cuda')).toEqual({ conv2d: 1, relu: 2, batchNorm2d: 1, binary: 1, maxPool2d: 1 });
    expect(callsOf(report, 'cpu')).toEqual({ relu: 1, randomNormal: 1 });
    for (const p of report.ops) {
      if (p.device === 'cuda') expect(p.deviceMs, p.op).toBeGreaterThanOrEqual(0);
      else expect(p.deviceMs, p.op).toBeUndefined();
    }
    expect(report.totalDeviceMs).toBeDefined();
    expectConsistent(report);
    const table = rn.profiler.format(report);
    expect(table.split('\n')[0]).toMatch(/^op\s+device\s+calls\s+host ms\s+share\s+device ms\s+share$/);
  });
});
