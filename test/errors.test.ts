// Bad input is refused before it reaches C++, with the right error class and a sentence; a
// native failure is a JS Error naming the op and the process stays usable.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { native } from '../lib/binding.js';

describe('argument validation', () => {
  it('wrong rank or shape', () => {
    rn.scope(() => {
      const w = rn.randn([4, 3, 3, 3]);
      expect(() => rn.conv2d(rn.randn([3, 8, 8]), w)).toThrow(new RangeError('conv2d: input must be 4-D, got shape [3,8,8]'));
      expect(() => rn.conv2d(rn.randn([1, 2, 8, 8]), w)).toThrow(/expects 3 input channels.*has 2/);
      expect(() => rn.conv2d(rn.randn([1, 3, 8, 8]), w, rn.zeros([5]))).toThrow(/bias must have shape \[4\], got \[5\]/);
      expect(() => rn.conv2d(rn.randn([1, 3, 2, 2]), w)).toThrow(/empty output/);
      expect(() => rn.linear(rn.randn([2, 5]), rn.randn([3, 4]))).toThrow(RangeError);
      expect(() => rn.matmul(rn.randn([2, 5]), rn.randn([4, 3]))).toThrow(/columns must equal/);
      expect(() => rn.add(rn.zeros([2, 3]), rn.zeros([4]))).toThrow(/cannot be broadcast/);
      expect(() => rn.concat([rn.zeros([1, 2, 3, 3]), rn.zeros([1, 2, 4, 3])], 1)).toThrow(/differs from/);
      expect(() => rn.bnAddRelu(rn.zeros([2, 3, 2, 2]), rn.zeros([2, 3, 2, 1]), null, null, null, null, { training: true })).toThrow(/residual must have shape/);
    });
  });

  it('wrong dtypes, options and parameters', () => {
    rn.scope(() => {
      const x = rn.randn([1, 3, 4, 4]);
      expect(() => rn.relu(x.to({ dtype: 'float16' }))).toThrow(new TypeError("relu: x must be float32, got float16 (convert with .to({ dtype: 'float32' }))"));
      expect(() => rn.conv2d(x, rn.randn([2, 3, 1, 1]), null, { stride: 0 })).toThrow(/stride must be at least 1/);
      expect(() => rn.conv2d(x, rn.randn([2, 3, 1, 1]), null, { strides: 2 } as never)).toThrow(/unknown option 'strides'/);
      expect(() => rn.conv2d(x, rn.randn([2, 3, 1, 1]), null, { padding: 1.5 })).toThrow(TypeError);
      expect(() => rn.maxPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(/at most half the kernel/);
      expect(() => rn.batchNorm2d(x, null, null)).toThrow(/needs runningMean and runningVar/);
      expect(() => rn.batchNorm2d(rn.randn([1, 3]), null, null, null, null, { training: true })).toThrow(/more than 1 value per channel/);
      expect(() => rn.batchNorm2d(x, rn.zeros([3]), rn.ones([3]), null, null, { eps: 0 })).toThrow(RangeError);
      expect(() => rn.zeros([2, -1])).toThrow(RangeError);
      expect(() => rn.tensor([1, 2, 3], [2, 2])).toThrow(/3 values cannot fill shape \[2,2\]/);
      expect(() => rn.tensor([[1, 2], [3]])).toThrow(/ragged/);
      expect(() => rn.relu(5 as never)).toThrow(new TypeError('relu: x must be a Tensor, got number'));
    });
  });

  it('labels: non-integer dtypes, wrong length, out of range', () => {
    rn.scope(() => {
      const logits = rn.randn([3, 4]);
      expect(() => rn.crossEntropy(logits, rn.tensor([0, 1, 2]))).toThrow(new TypeError('crossEntropy: labels must be int32 or int64 class indices, got float32'));
      expect(() => rn.crossEntropy(logits, rn.tensor([0, 1], [2], { dtype: 'int64' }))).toThrow(/3 rows of logits but 2 labels/);
      expect(() => rn.crossEntropy(logits, rn.tensor([0, 4, 1], [3], { dtype: 'int64' }))).toThrow(new RangeError('crossEntropy: label 4 at index 1 is outside [0, 4)'));
      expect(() => rn.crossEntropy(logits, rn.tensor([0, -1, 1], [3], { dtype: 'int32' }))).toThrow(RangeError);
      expect(() => rn.tensor([0.5], [1], { dtype: 'int64' })).toThrow(/must be integers/);
    });
  });

  it('disposed tensors and devices', () => {
    const t = rn.ones([2]);
    t.dispose();
    expect(() => rn.add(t, 1)).toThrow(new TypeError('add: a (shape [2]) was disposed'));
    rn.scope(() => {
      const x = rn.ones([2]);
      if (!rn.backends().cuda.available) {
        expect(() => x.to('cuda')).toThrow(/^to: CUDA is unavailable here: /);
        expect(() => rn.zeros([2], { device: 'cuda' })).toThrow(/^full: CUDA is unavailable here: /);
      }
      expect(() => x.to('tpu' as never)).toThrow(TypeError);
    });
  });
});

describe('native errors', () => {
  it('become JS exceptions naming the op, and the process stays usable', () => {
    rn.scope(() => {
      const x = rn.randn([1, 4, 5, 5]);
      const w = rn.randn([2, 4, 3, 3]);
      let caught: unknown;
      try {
        native.conv2d(x.handle, w.handle, null, { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 3 });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(Error);
      expect((caught as Error).message).toMatch(/^conv2d: /);
      expect(() => native.relu({} as never)).toThrow(/must be a tensor/);
      expect(() => native.sum(x.handle, [7], false)).toThrow(RangeError);
      expect(rn.conv2d(x, w).shape).toEqual([1, 2, 3, 3]);
    });
  });

  it('name the op once, by the name it is exported and profiled under', () => {
    rn.scope(() => {
      const dy = rn.randn([2, 3, 2, 2]);
      const cases: [string, () => unknown][] = [
        ['adaptiveAvgPool2dBackward', () => native.adaptiveAvgPool2dBackward(dy.handle, [2, 4, 6, 6])],
        ['shortcutABackward', () => native.shortcutABackward(dy.handle, [2, 3, 4], 2)],
        ['batchNorm2dBackward', () => native.batchNorm2dBackward(dy.handle, rn.randn([2, 4, 2, 2]).handle, null, rn.zeros([3]).handle,
          rn.ones([3]).handle, true, [true, false, false])],
        ['randomNormal', () => native.randomNormal([-1], 1n, 0, 1)],
        // the pooling contract (native/ops/pool.cc), one for every device
        ['maxPool2dBackward', () => native.maxPool2dBackward(dy.handle, dy.handle, [2, 3, 4, 4])],
        ['avgPool2dBackward', () => native.avgPool2dBackward(dy.handle, [2, 3, 6, 6],
          { kernelSize: [2, 2], stride: [2, 2], padding: [0, 0], ceilMode: false, countIncludePad: true })],
      ];
      for (const [name, call] of cases) {
        expect(name in native, name).toBe(true);
        let message = '';
        try {
          call();
        } catch (err) {
          message = (err as Error).message;
        }
        expect(message, name).toMatch(new RegExp(`^${name}: `));
        expect(message.split(name).length - 1, message).toBe(1);
      }
    });
  });
});
