// Parity of the CPU ops with PyTorch: forward outputs, gradients and optimizer steps against
// values that PyTorch computed, stored in test/fixtures/ops_torch.json.
//
// The fixture is produced by test/fixtures/make_ops_fixture.py. To regenerate it, run from the
// repository root (Debian's torch 1.13 CPU build; not the pyenv python3 on PATH):
//
//   /usr/bin/python3 test/fixtures/make_ops_fixture.py
//
// Every input was rounded to float16 precision and stored as float32, so both sides start from
// identical values. Gradients are taken of loss = sum(out * R) for the fixed upstream gradient R
// stored with each case (cross-entropy: of the loss itself). A value passes when
// max |ours - torch| / (1 + max |torch|) < 1e-4 (cross-entropy loss: 1e-5).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

interface T {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  params: Record<string, unknown>;
  inputs: Record<string, T>;
  R: T;
  out: T;
  grads: Record<string, T>;
  runningMean?: T;
  runningVar?: T;
  runningMeanAfter?: T;
  runningVarAfter?: T;
}
interface SgdCase {
  name: string;
  params: { lr: number; momentum: number; weightDecay: number; nesterov: boolean; dampening: number };
  param: T;
  grads: T[];
  after: T[];
}
interface Fixture {
  generator: { script: string; command: string; torch: string };
  conv2d: Case[];
  batch_norm: Case[];
  bn_add_relu: Case[];
  max_pool2d: Case[];
  avg_pool2d: Case[];
  adaptive_avg_pool2d: Case[];
  linear: Case[];
  matmul: Case[];
  sigmoid: Case[];
  relu: Case[];
  cat: Case[];
  cross_entropy: Case[];
  sgd: SgdCase[];
}

const fixture: Fixture = JSON.parse(readFileSync(new URL('./fixtures/ops_torch.json', import.meta.url), 'utf8'));

const TOL = 1e-4;
/** The largest relative error seen per op group, printed at the end for reference. */
const worst = new Map<string, number>();

/** A float32 tensor from a fixture entry. */
function t(v: T, requiresGrad = false): rn.Tensor {
  return rn.tensor(Float32Array.from(v.data), v.shape, { requiresGrad });
}

/** Leaves that require grad, one per fixture input. */
function leaves(c: Case, names = Object.keys(c.inputs)): Record<string, rn.Tensor> {
  const out: Record<string, rn.Tensor> = {};
  for (const k of names) out[k] = t(c.inputs[k]!, true);
  return out;
}

/** Checks max |ours - torch| / (1 + max |torch|) < tol and records the error under `group`. */
function compare(group: string, what: string, ours: rn.Tensor | null | undefined, ref: T, tol = TOL): void {
  expect(ours, `${what}: missing`).toBeTruthy();
  expect(ours!.shape, `${what}: shape`).toEqual(ref.shape);
  const a = ours!.toArray() as Float32Array;
  // The fixture holds the shortest decimal of each float32; back to float32 it is exact.
  const r = Float32Array.from(ref.data);
  expect(a.length, `${what}: length`).toBe(r.length);
  let maxDiff = 0;
  let maxRef = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - r[i]!);
    if (!(d <= maxDiff)) {
      maxDiff = d;
      at = i;
    }
    maxRef = Math.max(maxRef, Math.abs(r[i]!));
  }
  const err = maxDiff / (1 + maxRef);
  worst.set(group, Math.max(worst.get(group) ?? 0, Number.isNaN(err) ? Infinity : err));
  expect(err, `${what}: max |ours - torch| = ${maxDiff} at ${at} (ours ${a[at]}, torch ${r[at]}), max |torch| = ${maxRef}`)
    .toBeLessThan(tol);
}

/** Runs sum(out * R).backward() and compares the output and every gradient. */
function checkCase(group: string, c: Case, inputs: Record<string, rn.Tensor>, out: rn.Tensor): void {
  compare(group, `${group} '${c.name}' output`, out, c.out);
  rn.sum(rn.mul(out, t(c.R))).backward();
  for (const [k, g] of Object.entries(c.grads)) compare(group, `${group} '${c.name}' grad of ${k}`, inputs[k]!.grad, g);
}

describe(`PyTorch parity (fixture from torch ${fixture.generator.torch}, ${fixture.generator.script})`, () => {
  for (const c of fixture.conv2d) {
    it(`conv2d ${c.name}: output and grads of input, weight${c.params.bias ? ', bias' : ''}`, () => {
      rn.scope(() => {
        const i = leaves(c);
        const p = c.params as { stride: number | [number, number]; padding: number | [number, number]; dilation: number | [number, number]; groups: number };
        const out = rn.conv2d(i.x!, i.weight!, i.bias ?? null, { stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups });
        checkCase('conv2d', c, i, out);
      });
    });
  }

  for (const c of fixture.batch_norm) {
    it(`batchNorm2d ${c.name}: output, grads of input, weight, bias${c.params.training ? ' and updated running stats' : ''}`, () => {
      rn.scope(() => {
        const i = leaves(c);
        const rm = t(c.runningMean!);
        const rv = t(c.runningVar!);
        const p = c.params as { training: boolean; momentum: number; eps: number };
        const out = rn.batchNorm2d(i.x!, rm, rv, i.weight, i.bias, { training: p.training, momentum: p.momentum, eps: p.eps });
        checkCase('batchNorm2d', c, i, out);
        compare('batchNorm2d', `batchNorm2d '${c.name}' running_mean`, rm, c.runningMeanAfter!);
        compare('batchNorm2d', `batchNorm2d '${c.name}' running_var`, rv, c.runningVarAfter!);
      });
    });
  }

  for (const c of fixture.bn_add_relu) {
    it(`bnAddRelu = relu(batch_norm(x) + residual) ${c.name}: output, grads of x, residual, weight, bias, running stats`, () => {
      rn.scope(() => {
        const i = leaves(c);
        const rm = t(c.runningMean!);
        const rv = t(c.runningVar!);
        const p = c.params as { training: boolean; momentum: number; eps: number };
        const out = rn.bnAddRelu(i.x!, i.residual!, rm, rv, i.weight, i.bias, { training: p.training, momentum: p.momentum, eps: p.eps });
        checkCase('bnAddRelu', c, i, out);
        compare('bnAddRelu', `bnAddRelu '${c.name}' running_mean`, rm, c.runningMeanAfter!);
        compare('bnAddRelu', `bnAddRelu '${c.name}' running_var`, rv, c.runningVarAfter!);
      });
    });
  }

  for (const c of fixture.max_pool2d) {
    it(`maxPool2d ${c.name}: output and input grad`, () => {
      rn.scope(() => {
        const i = leaves(c);
        checkCase('maxPool2d', c, i, rn.maxPool2d(i.x!, c.params as unknown as rn.MaxPool2dOptions));
      });
    });
  }

  for (const c of fixture.avg_pool2d) {
    it(`avgPool2d ${c.name}: output and input grad`, () => {
      rn.scope(() => {
        const i = leaves(c);
        checkCase('avgPool2d', c, i, rn.avgPool2d(i.x!, c.params as unknown as rn.AvgPool2dOptions));
      });
    });
  }

  for (const c of fixture.adaptive_avg_pool2d) {
    it(`adaptiveAvgPool2d ${c.name}: output and input grad`, () => {
      rn.scope(() => {
        const i = leaves(c);
        checkCase('adaptiveAvgPool2d', c, i, rn.adaptiveAvgPool2d(i.x!, c.params.outputSize as [number, number]));
      });
    });
  }

  for (const c of fixture.linear) {
    it(`linear ${c.name}: output and grads of x, weight, bias`, () => {
      rn.scope(() => {
        const i = leaves(c);
        checkCase('linear', c, i, rn.linear(i.x!, i.weight!, i.bias));
      });
    });
  }

  for (const c of fixture.matmul) {
    it(`matmul ${c.name}: output and grads of both operands`, () => {
      rn.scope(() => {
        const i = leaves(c);
        checkCase('matmul', c, i, rn.matmul(i.a!, i.b!));
      });
    });
  }

  for (const c of fixture.sigmoid) {
    it(`sigmoid ${c.name}: output and input grad`, () => {
      rn.scope(() => {
        const i = leaves(c);
        checkCase('sigmoid', c, i, rn.sigmoid(i.x!));
      });
    });
  }

  for (const c of fixture.relu) {
    it(`relu ${c.name}: output and input grad`, () => {
      rn.scope(() => {
        const i = leaves(c);
        checkCase('relu', c, i, rn.relu(i.x!));
      });
    });
  }

  for (const c of fixture.cat) {
    it(`concat ${c.name}: output and grads of both inputs`, () => {
      rn.scope(() => {
        const i = leaves(c);
        checkCase('concat', c, i, rn.concat([i.a!, i.b!], c.params.dim as number));
      });
    });
  }

  for (const c of fixture.cross_entropy) {
    it(`crossEntropy ${c.name}: mean loss and logits grad`, () => {
      rn.scope(() => {
        const logits = t(c.inputs.logits!, true);
        const labels = rn.tensor(BigInt64Array.from(c.inputs.labels!.data.map((v) => BigInt(v))), c.inputs.labels!.shape, { dtype: 'int64' });
        const loss = rn.crossEntropy(logits, labels, { labelSmoothing: c.params.labelSmoothing as number });
        compare('crossEntropy', `crossEntropy '${c.name}' loss`, loss, c.out, 1e-5);
        loss.backward();
        compare('crossEntropy', `crossEntropy '${c.name}' grad of logits`, logits.grad, c.grads.logits!);
      });
    });
  }

  for (const c of fixture.sgd) {
    it(`optim.SGD ${c.name}, dampening 0: parameter after each of ${c.after.length} steps`, () => {
      rn.scope(() => {
        const p = t(c.param, true);
        const { lr, momentum, weightDecay, nesterov, dampening } = c.params;
        const opt = new rn.optim.SGD([p], { lr, momentum, weightDecay, nesterov, dampening });
        c.grads.forEach((g, step) => {
          p.grad?.dispose();
          p.grad = t(g);
          opt.step();
          compare('optim.SGD', `optim.SGD '${c.name}' parameter after step ${step + 1}`, p, c.after[step]!);
        });
        p.grad?.dispose();
        p.grad = null;
        for (const b of opt.momentumBuffers.values()) b.dispose();
      });
    });
  }

  it('reports the largest relative error per op', () => {
    const lines = [...worst].map(([op, e]) => `  ${op.padEnd(18)} ${e.toExponential(2)}`);
    console.log(`max |ours - torch| / (1 + max |torch|) per op:\n${lines.join('\n')}`);
    expect(worst.size).toBeGreaterThan(0);
  });
});
