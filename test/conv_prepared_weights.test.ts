// convBiasAct keeps each weight's prepared form (GEMM panels, or Winograd-transformed) with the
// weight and makes it again only when the weight is written in place (its storage's version
// moves) or the CPU instruction set changes. Each case runs a prepared call, changes the weight
// through a public in-place path, and checks the next call against an unprepared conv2d of the
// new weight: a stale prepared form fails it.
import { afterAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { relativeError } from './helpers/reference.js';

const savedConv = process.env.CUDNN_RESNET_CONV;
const initialIsa = rn.backends().cpu.isa;
afterAll(() => {
  if (savedConv === undefined) delete process.env.CUDNN_RESNET_CONV;
  else process.env.CUDNN_RESNET_CONV = savedConv;
  rn.setCpuIsa(initialIsa);
});

const arr = (t: rn.Tensor) => t.toArray() as Float32Array;
// conv2d + bias + relu through the unprepared path, as the reference for convBiasAct.
const reference = (x: rn.Tensor, w: rn.Tensor, b: rn.Tensor, padding: number) =>
  rn.noGrad(() => arr(rn.relu(rn.conv2d(x, w, b, { padding }))));
const fused = (x: rn.Tensor, w: rn.Tensor, b: rn.Tensor, padding: number) =>
  rn.noGrad(() => arr(rn.convBiasAct(x, w, b, null, { padding, relu: true })));

const paths = [
  { path: 'im2col', name: 'GEMM panels', x: [2, 24, 9, 9], w: [40, 24, 3, 3], padding: 1 },
  { path: 'im2col', name: 'GEMM panels, 1x1', x: [1, 33, 7, 7], w: [70, 33, 1, 1], padding: 0 },
  { path: 'winograd', name: 'Winograd-transformed', x: [2, 16, 12, 12], w: [20, 16, 3, 3], padding: 1 },
] as const;

describe('convBiasAct prepared weights', () => {
  for (const c of paths) {
    it(`${c.name}: an SGD step and loadStateDict are seen by the next call`, () => {
      process.env.CUDNN_RESNET_CONV = c.path;
      rn.scope(() => {
        rn.manualSeed(3);
        const conv = new rn.nn.Conv2d(c.x[1], c.w[0], c.w[2], { padding: c.padding, bias: true });
        const x = rn.randn([...c.x]);
        const check = () => expect(relativeError(fused(x, conv.weight, conv.bias!, c.padding), reference(x, conv.weight, conv.bias!, c.padding))).toBeLessThan(1e-6);
        check();
        check();  // the prepared form, reused
        const opt = new rn.optim.SGD(conv.parameters(), { lr: 0.5 });
        rn.sum(rn.mul(conv.forward(x), conv.forward(x))).backward();
        opt.step();
        check();
        conv.loadStateDict({ weight: rn.randn([...c.w]), bias: rn.randn([c.w[0]]) });
        check();
      });
    });
  }

  it('conv2d\'s forward and input gradient (W^T panels) follow an SGD step on the weight', () => {
    process.env.CUDNN_RESNET_CONV = 'im2col';
    rn.scope(() => {
      rn.manualSeed(4);
      const w = rn.randn([20, 12, 3, 3], { requiresGrad: true });
      const x = rn.randn([3, 12, 10, 10]);
      const g = rn.randn([3, 20, 10, 10]);
      const opt = new rn.optim.SGD([w], { lr: 0.3 });
      // y and dx with w, and with a fresh copy of w (its own storage: nothing prepared yet).
      const pass = (weight: rn.Tensor) => {
        const xs = x.detach();
        xs.requiresGrad = true;
        const y = rn.conv2d(xs, weight, null, { padding: 1 });
        y.backward(g);
        return [arr(y), arr(xs.grad!)] as const;
      };
      for (let step = 0; step < 3; step++) {
        const [y, dx] = pass(w);
        const fresh = w.detach().clone();
        const [yRef, dxRef] = pass(fresh);
        expect(relativeError(y, yRef)).toBeLessThan(1e-6);
        expect(relativeError(dx, dxRef)).toBeLessThan(1e-6);
        opt.step();
        opt.zeroGrad();
      }
    });
  });

  it('a view of the same storage with another shape is prepared for its own shape', () => {
    process.env.CUDNN_RESNET_CONV = 'im2col';
    rn.scope(() => {
      rn.manualSeed(5);
      const w = rn.randn([12, 8, 1, 1]);
      const b = rn.zeros([12]);
      const x = rn.randn([1, 8, 5, 5]);
      expect(relativeError(fused(x, w, b, 0), reference(x, w, b, 0))).toBeLessThan(1e-6);
      const w2 = w.reshape([24, 4, 1, 1]);
      const x2 = rn.randn([1, 4, 5, 5]);
      const b2 = rn.zeros([24]);
      expect(relativeError(fused(x2, w2, b2, 0), reference(x2, w2, b2, 0))).toBeLessThan(1e-6);
    });
  });

  it('switching the instruction set prepares the weights for the new one', () => {
    process.env.CUDNN_RESNET_CONV = 'im2col';
    rn.scope(() => {
      rn.manualSeed(9);
      const w = rn.randn([30, 10, 3, 3]), b = rn.randn([30]), x = rn.randn([2, 10, 8, 8]);
      const expected = reference(x, w, b, 1);
      for (const isa of rn.backends().cpu.isasAvailable) {
        rn.setCpuIsa(isa);
        expect(relativeError(fused(x, w, b, 1), expected), isa).toBeLessThan(1e-5);
      }
      rn.setCpuIsa(initialIsa);
    });
  });
});
