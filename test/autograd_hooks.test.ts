// The autograd hooks DistributedDataParallel is built on: a leaf's post-accumulate hook runs
// once per backward pass, after the last contribution to its .grad; a queued callback runs at
// the end of the pass.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { queueBackwardCallback, registerPostAccumulateGradHook } from '../lib/autograd.js';

describe('post-accumulate gradient hooks', () => {
  it('run once per pass, after every contribution, in completion order; a queued callback runs last', () => {
    const w = rn.tensor([2, 3], [2], { requiresGrad: true });
    const b = rn.tensor([1, 1], [2], { requiresGrad: true });
    const unused = rn.tensor([5], [1], { requiresGrad: true });
    const events: string[] = [];
    registerPostAccumulateGradHook(w, (leaf) => {
      events.push(`w ${Array.from(leaf.grad!.toArray() as Float32Array)}`);
      queueBackwardCallback(() => events.push('end'));
    });
    registerPostAccumulateGradHook(b, () => events.push('b'));
    const remove = registerPostAccumulateGradHook(unused, () => events.push('unused'));
    // loss = sum(w * w + w * b): w gets two contributions (2w + b), b one (w)
    const loss = rn.sum(rn.add(rn.mul(w, w), rn.mul(w, b)));
    loss.backward();
    expect(events).toEqual(['b', 'w 5,7', 'end']);
    rn.sum(rn.mul(w, b)).backward();  // accumulates: w.grad = 5,7 + 1,1
    expect(events.slice(3)).toEqual(['w 6,8', 'b', 'end']);
    remove();
    expect(() => queueBackwardCallback(() => undefined)).toThrow(/only a gradient hook, during backward/);
  });
});
