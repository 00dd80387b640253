// The tape: accumulation, noGrad, retainGraph, a clear error on a second backward, leaves,
// detach, and the end-to-end example.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

const values = (t: rn.Tensor | null) => Array.from(t!.toArray() as Float32Array);

describe('autograd', () => {
  it('runs the README example: conv -> relu -> pool -> linear -> cross-entropy fills every grad', () => {
    rn.scope(() => {
      rn.manualSeed(0);
      const x = rn.randn([8, 3, 32, 32], { requiresGrad: true });
      const w = rn.randn([16, 3, 3, 3], { requiresGrad: true });
      const fcW = rn.randn([10, 16], { requiresGrad: true });
      const fcB = rn.zeros([10], { requiresGrad: true });
      const labels = rn.tensor([0, 1, 2, 3, 4, 5, 6, 7], [8], { dtype: 'int64' });
      const y = rn.relu(rn.conv2d(x, w, undefined, { stride: 1, padding: 1 }));
      const loss = rn.crossEntropy(rn.linear(rn.flatten(rn.adaptiveAvgPool2d(y, 1)), fcW, fcB), labels);
      loss.backward();
      for (const t of [x, w, fcW, fcB]) {
        expect(t.grad?.shape).toEqual(t.shape);
        expect(values(t.grad).some((v) => v !== 0)).toBe(true);
      }
    });
  });

  it('accumulates gradients over uses and over backward calls', () => {
    rn.scope(() => {
      const x = rn.tensor([1, 2, 3], { requiresGrad: true });
      rn.sum(rn.add(rn.mul(x, x), x)).backward();  // d/dx (x^2 + x) = 2x + 1
      expect(values(x.grad)).toEqual([3, 5, 7]);
      rn.sum(rn.scale(x, 2)).backward();
      expect(values(x.grad)).toEqual([5, 7, 9]);
    });
  });

  it('a tensor used by two branches gets the sum of both gradients', () => {
    rn.scope(() => {
      const x = rn.tensor([0.5, -1], { requiresGrad: true });
      const h = rn.relu(x);
      const y = rn.add(rn.scale(h, 3), rn.sigmoid(h));
      rn.sum(y).backward();
      const s = 1 / (1 + Math.exp(-0.5));
      expect(values(x.grad)[0]).toBeCloseTo(3 + s * (1 - s), 6);
      expect(values(x.grad)[1]).toBe(0);
    });
  });

  it('records nothing inside noGrad', () => {
    rn.scope(() => {
      const x = rn.ones([2], { requiresGrad: true });
      const y = rn.noGrad(() => rn.scale(x, 2));
      expect(y.requiresGrad).toBe(false);
      expect(() => y.backward(rn.ones([2]))).toThrow(/does not require grad/);
    });
  });

  it('refuses a second backward through a freed graph, and allows it with retainGraph', () => {
    rn.scope(() => {
      const x = rn.tensor([2], { requiresGrad: true });
      const y = rn.mul(x, x);
      y.backward(undefined, { retainGraph: true });
      y.backward();
      expect(values(x.grad)).toEqual([8]);
      expect(() => y.backward()).toThrow(/already freed.*retainGraph/);
    });
  });

  it('needs an explicit gradient for non-scalar outputs and checks its shape', () => {
    rn.scope(() => {
      const x = rn.ones([3], { requiresGrad: true });
      const y = rn.scale(x, 2);
      expect(() => y.backward()).toThrow(RangeError);
      expect(() => y.backward(rn.ones([4]))).toThrow(/gradient shape/);
      y.backward(rn.tensor([1, 2, 3]));
      expect(values(x.grad)).toEqual([2, 4, 6]);
    });
  });

  it('detach cuts the graph; integer tensors cannot require grad', () => {
    rn.scope(() => {
      const x = rn.ones([2], { requiresGrad: true });
      const d = rn.scale(x, 2).detach();
      expect(d.requiresGrad).toBe(false);
      expect(d.isLeaf).toBe(true);
      expect(() => rn.zeros([2], { dtype: 'int64', requiresGrad: true })).toThrow(TypeError);
    });
  });

  it('frees the tape after backward: no tensor is left behind', () => {
    const before = rn.memory();
    rn.scope(() => {
      const w = rn.randn([4, 3, 3, 3], { requiresGrad: true });
      const x = rn.randn([2, 3, 8, 8]);
      const loss = rn.mean(rn.relu(rn.conv2d(x, w, null, { padding: 1 })));
      loss.backward();
    });
    const after = rn.memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
  });

  it('frees a graph that is never differentiated once its outputs are disposed', () => {
    const before = rn.memory();
    const w = rn.randn([8, 8], { requiresGrad: true });
    rn.scope(() => {
      const x = rn.randn([4, 8]);
      rn.relu(rn.matmul(x, w));
    });
    const after = rn.memory();
    w.dispose();
    expect(after.liveTensors).toBe(before.liveTensors + 1);
    expect(after.liveBytes).toBe(before.liveBytes + 8 * 8 * 4);
  });
});
