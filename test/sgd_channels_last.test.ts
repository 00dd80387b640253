// SGD's momentum buffers take their parameter's memory format, so that a channels-last model's
// optimizer state reads the same as a contiguous model's: in memory, through stateDict, and
// through a safetensors checkpoint resumed in either format (CPU; the GPU kernels share the check).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

const SHAPE = [4, 3, 3, 3];  // (O, C, kH, kW): a convolution's weight
const OPTIONS = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };
const numel = SHAPE.reduce((a, b) => a * b, 1);

function values(seed: number): Float32Array {
  return Float32Array.from({ length: numel }, (_, i) => Math.sin(seed * 7.3 + i * 0.37));
}

// A parameter with fixed values in `format`.
function parameter(format: rn.MemoryFormat): rn.Tensor {
  const p = rn.tensor(values(0), SHAPE).to({ memoryFormat: format });
  p.requiresGrad = true;
  return p;
}

// Steps [from, from + steps) with gradients that differ per element and per step.
function run(opt: rn.optim.SGD, p: rn.Tensor, from: number, steps: number): void {
  for (let i = from; i < from + steps; i++) {
    p.grad?.dispose();
    p.grad = rn.tensor(values(i + 1), SHAPE).to({ memoryFormat: p.memoryFormat });
    opt.step();
  }
}

const asNumbers = (t: rn.Tensor): number[] => Array.from(t.toArray() as Float32Array, Number);

describe('SGD momentum buffers of channels-last parameters', () => {
  it('are created channels-last and hold the same values as a contiguous parameter\'s', () => {
    rn.scope(() => {
      const contiguous = parameter('contiguous');
      const channelsLast = parameter('channelsLast');
      expect(channelsLast.memoryFormat).toBe('channelsLast');
      const a = new rn.optim.SGD([contiguous], OPTIONS);
      const b = new rn.optim.SGD([channelsLast], OPTIONS);
      run(a, contiguous, 0, 3);
      run(b, channelsLast, 0, 3);
      const bufferA = a.stateDict().buffers['0.momentum_buffer']!;
      const bufferB = b.stateDict().buffers['0.momentum_buffer']!;
      expect(bufferA.memoryFormat).toBe('contiguous');
      expect(bufferB.memoryFormat).toBe('channelsLast');
      expect(asNumbers(bufferB)).toEqual(asNumbers(bufferA));
      expect(asNumbers(channelsLast)).toEqual(asNumbers(contiguous));
      a.dispose();
      b.dispose();
    });
  });

  it('save -> load -> resume continues exactly, in the same and in the other memory format', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgd-channels-last-'));
    try {
      rn.scope(() => {
        const reference = parameter('channelsLast');
        const uninterrupted = new rn.optim.SGD([reference], OPTIONS);
        run(uninterrupted, reference, 0, 6);

        const trained = parameter('channelsLast');
        const first = new rn.optim.SGD([trained], OPTIONS);
        run(first, trained, 0, 3);
        const file = join(dir, 'checkpoint.safetensors');
        const state = first.stateDict();
        rn.io.saveSafetensorsSync(file, { weight: trained, ...state.buffers });

        for (const format of ['channelsLast', 'contiguous'] as const) {
          const loaded = rn.io.loadSafetensorsSync(file).tensors;
          const p = loaded.get('weight')!.to({ memoryFormat: format });
          p.requiresGrad = true;
          const resumed = new rn.optim.SGD([p], { ...OPTIONS, lr: 0.5 });
          resumed.loadStateDict({ paramGroups: state.paramGroups, buffers: { '0.momentum_buffer': loaded.get('0.momentum_buffer')! } });
          expect(resumed.stateDict().buffers['0.momentum_buffer']!.memoryFormat).toBe(format);
          run(resumed, p, 3, 3);
          const got = asNumbers(p), want = asNumbers(reference);
          for (let i = 0; i < numel; i++) expect(got[i]).toBeCloseTo(want[i]!, 6);
          resumed.dispose();
        }
        uninterrupted.dispose();
        first.dispose();
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a momentum buffer in another format than its parameter is refused by sgdStep', async () => {
    const { native } = await import('../lib/binding.js');
    rn.scope(() => {
      const p = parameter('channelsLast');
      const grad = rn.zeros(SHAPE, { memoryFormat: 'channelsLast' });
      const buffer = rn.zeros(SHAPE);
      expect(() => native.sgdStep(p.handle, grad.handle, buffer.handle, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, firstStep: false }))
        .toThrow(/momentumBuffer and param must share a memory format/);
    });
  });
});
