// Whole-model parity with PyTorch, through safetensors files that PyTorch wrote.
//
// The fixtures (test/fixtures/resnet_basic1111{,_io}.safetensors and
// test/fixtures/cifar_resnet20{,_io}.safetensors) are made by test/fixtures/make_model_fixtures.py.
// To regenerate them, run from the repository root (Debian's torch 1.13 + torchvision 0.14, CPU;
// not the pyenv python3 on PATH):
//
//   /usr/bin/python3 test/fixtures/make_model_fixtures.py
//
// They hold torchvision's ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10) and a CIFAR ResNet-20
// (option A, mirroring lib/models/cifar.ts) with random parameters and BN buffers rounded to
// float16 (stored F16, loaded here with castDtypes), so both sides compute in float32 from
// identical values; and, for a fixed input: PyTorch's eval-mode logits, the training-mode
// cross-entropy loss, the gradients of a few parameters after one backward and the BN running
// statistics after that training forward (momentum 0.1).
//
// The other direction: a CIFAR ResNet-20 of ours is saved with rn.io.saveSafetensors into a temp
// folder with its logits, and the same script, run as
// `/usr/bin/python3 test/fixtures/make_model_fixtures.py --check-ours DIR`, loads it into PyTorch
// with load_state_dict(strict=True) and compares logits (skipped, saying why, without torch).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import type { Module } from '../lib/nn/module.js';
import { removeDir, tempDir } from './helpers/data_files.js';
import { relativeError } from './helpers/reference.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./fixtures/make_model_fixtures.py', import.meta.url));
const REGENERATE = `${PYTHON} test/fixtures/make_model_fixtures.py`;

const LOGITS_TOL = 1e-5;
const LOSS_TOL = 1e-5;
const GRAD_TOL = 1e-4;
const STATS_TOL = 1e-5;

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a child process asynchronously (the test worker's event loop stays free). */
function run(command: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** Why PyTorch cannot be used here, or null when /usr/bin/python3 imports torch and numpy. */
async function pythonTorchMissing(): Promise<string | null> {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  try {
    const r = await run(PYTHON, ['-c', 'import numpy, torch; print(torch.__version__)'], 120_000);
    if (r.status === 0) return null;
    return `${PYTHON} cannot import torch and numpy: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}`;
  } catch (err) {
    return `${PYTHON} could not be run: ${(err as Error).message}`;
  }
}
const torchMissing = await pythonTorchMissing();
if (torchMissing) console.log(`model_parity: the PyTorch check of our weights will be skipped: ${torchMissing}`);

function fixturePath(name: string): string {
  const path = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  if (!existsSync(path)) throw new Error(`missing fixture ${path}; regenerate with: ${REGENERATE}`);
  return path;
}

function floats(t: rn.Tensor): Float32Array {
  const values = t.toArray();
  if (!(values instanceof Float32Array)) throw new TypeError(`expected a float tensor, got ${t.dtype}`);
  return values;
}

function sameShape(a: rn.Tensor, b: rn.Tensor, what: string): void {
  expect(a.shape, `${what}: shape`).toEqual(b.shape);
}

/** The largest error measured per comparison, printed at the end (also for the report). */
const measured: [string, number, number][] = [];
function check(what: string, ours: rn.Tensor, torch: rn.Tensor, tol: number): number {
  sameShape(ours, torch, what);
  const err = relativeError(floats(ours), floats(torch));
  measured.push([what, err, tol]);
  expect(err, `${what}: ‖ours − torch‖ / ‖torch‖`).toBeLessThan(tol);
  return err;
}

afterAll(() => {
  const width = Math.max(...measured.map(([w]) => w.length));
  console.log(`model_parity: relative errors (‖ours − torch‖ / ‖torch‖)\n${measured
    .map(([w, e, tol]) => `  ${w.padEnd(width)}  ${e.toExponential(2)}  (tolerance ${tol})`).join('\n')}`);
});

interface ModelCase {
  name: string;
  make: () => Module;
}

const CASES: ModelCase[] = [
  { name: 'resnet_basic1111', make: () => new rn.models.ResNet(rn.models.BasicBlock, [1, 1, 1, 1], { numClasses: 10 }) },
  { name: 'cifar_resnet20', make: () => rn.models.cifarResNet({ depth: 20, shortcut: 'A' }) },
];

interface Loaded {
  model: Module;
  io: Map<string, rn.Tensor>;
  dispose(): void;
}

/** A fresh model with PyTorch's weights loaded strictly (F16 → float32), and the io fixture. */
function loadCase(c: ModelCase): Loaded {
  const weights = rn.io.loadSafetensorsSync(fixturePath(`${c.name}.safetensors`)).tensors;
  const io = rn.io.loadSafetensorsSync(fixturePath(`${c.name}_io.safetensors`)).tensors;
  const model = c.make();
  const result = model.loadStateDict(weights, { castDtypes: true });
  expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
  for (const t of weights.values()) t.dispose();
  return {
    model,
    io,
    dispose() {
      model.dispose();
      for (const t of io.values()) t.dispose();
    },
  };
}

function get(io: Map<string, rn.Tensor>, key: string): rn.Tensor {
  const t = io.get(key);
  if (!t) throw new Error(`the io fixture has no tensor '${key}'; regenerate with: ${REGENERATE}`);
  return t;
}

for (const c of CASES) {
  describe(`${c.name}: PyTorch's weights and values`, () => {
    it('loads every tensor of the state dict strictly, converting F16 exactly', () => {
      const weights = rn.io.loadSafetensorsSync(fixturePath(`${c.name}.safetensors`)).tensors;
      const model = c.make();
      model.loadStateDict(weights, { castDtypes: true });
      const own = model.stateDict();
      expect(new Set(weights.keys())).toEqual(new Set(Object.keys(own)));
      let floatsSeen = 0;
      for (const [key, source] of weights) {
        const target = own[key]!;
        expect(target.shape, key).toEqual(source.shape);
        if (source.dtype === 'float16') {
          expect(target.dtype, key).toBe('float32');
          const converted = source.to({ dtype: 'float32' });
          const [a, b] = [floats(target), floats(converted)];
          let differing = 0;
          for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) differing++;
          expect(differing, `${key}: values differing from the F16 fixture converted to float32`).toBe(0);
          converted.dispose();
          floatsSeen++;
        } else {
          expect(source.dtype, key).toBe('int64');
          expect(target.toArray(), key).toEqual(source.toArray());
        }
      }
      expect(floatsSeen).toBeGreaterThan(0);
      for (const t of weights.values()) t.dispose();
      model.dispose();
    });

    it(`reproduces PyTorch's eval-mode logits (relative ${LOGITS_TOL})`, () => {
      const { model, io, dispose } = loadCase(c);
      model.eval();
      const logits = rn.noGrad(() => model.forward(get(io, 'input')));
      check(`${c.name} eval logits`, logits, get(io, 'logits'), LOGITS_TOL);
      logits.dispose();
      // Eval mode leaves the running statistics alone.
      for (const [key, t] of Object.entries(model.stateDict())) {
        if (key.endsWith('num_batches_tracked')) {
          expect(Number(t.toArray()[0]), key).toBe(Number(get(io, `after.${key}`).toArray()[0]) - 1);
        }
      }
      dispose();
    });

    it(`reproduces the training-mode loss (${LOSS_TOL}), gradients (${GRAD_TOL}) and running-stat update (${STATS_TOL})`, () => {
      const { model, io, dispose } = loadCase(c);
      model.train();
      const logits = model.forward(get(io, 'input'));
      check(`${c.name} train logits`, logits, get(io, 'train_logits'), LOGITS_TOL);
      const loss = rn.crossEntropy(logits, get(io, 'labels'));
      check(`${c.name} train loss`, loss, get(io, 'loss'), LOSS_TOL);
      loss.backward();

      const params = new Map(model.namedParameters());
      const gradKeys = [...io.keys()].filter((k) => k.startsWith('grad.'));
      expect(gradKeys.length).toBeGreaterThanOrEqual(6);
      for (const key of gradKeys) {
        const name = key.slice('grad.'.length);
        const p = params.get(name);
        expect(p, `parameter ${name}`).toBeDefined();
        expect(p!.grad, `${name}.grad`).not.toBeNull();
        check(`${c.name} grad ${name}`, p!.grad!, get(io, key), GRAD_TOL);
      }

      const statKeys = [...io.keys()].filter((k) => k.startsWith('after.'));
      const own = model.stateDict();
      let worstMean = 0, worstVar = 0;
      for (const key of statKeys) {
        const name = key.slice('after.'.length);
        const ours = own[name];
        expect(ours, name).toBeDefined();
        if (name.endsWith('num_batches_tracked')) {
          expect(Number(ours!.toArray()[0]), name).toBe(Number(get(io, key).toArray()[0]));
          continue;
        }
        sameShape(ours!, get(io, key), name);
        const err = relativeError(floats(ours!), floats(get(io, key)));
        expect(err, `${name} after one training forward`).toBeLessThan(STATS_TOL);
        if (name.endsWith('running_mean')) worstMean = Math.max(worstMean, err);
        else worstVar = Math.max(worstVar, err);
      }
      expect(statKeys.length).toBe(Object.keys(own).filter((k) => /running_(mean|var)$|num_batches_tracked$/.test(k)).length);
      measured.push([`${c.name} running_mean (worst BN)`, worstMean, STATS_TOL], [`${c.name} running_var (worst BN)`, worstVar, STATS_TOL]);
      logits.dispose();
      loss.dispose();
      dispose();
    });
  });
}

describe('our state dicts through safetensors', () => {
  it('a state dict saved by us loads into a fresh model with identical logits', async () => {
    const dir = tempDir('model-parity-roundtrip');
    try {
      const { model, io, dispose } = loadCase(CASES[1]!);
      model.train();
      rn.noGrad(() => model.forward(get(io, 'input')).dispose()); // running statistics move off PyTorch's
      model.eval();
      const file = join(dir, 'state.safetensors');
      await rn.io.saveSafetensors(file, model.stateDict(), { format: 'pt' });
      const expected = rn.noGrad(() => model.forward(get(io, 'input')));

      rn.manualSeed(99);
      const fresh = rn.models.cifarResNet({ depth: 20, shortcut: 'A' });
      const loaded = await rn.io.loadSafetensors(file);
      expect(loaded.metadata).toEqual({ format: 'pt' });
      fresh.loadStateDict(loaded.tensors); // strict, no casting: the dtypes are ours
      fresh.eval();
      const got = rn.noGrad(() => fresh.forward(get(io, 'input')));
      expect(Array.from(floats(got))).toEqual(Array.from(floats(expected)));

      for (const t of loaded.tensors.values()) t.dispose();
      for (const t of [expected, got]) t.dispose();
      fresh.dispose();
      dispose();
    } finally {
      removeDir(dir);
    }
  });

  it.skipIf(torchMissing !== null)('PyTorch loads our CIFAR ResNet-20 (strict) and computes our logits', async () => {
    const dir = tempDir('model-parity-ours');
    try {
      rn.manualSeed(7);
      const model = rn.models.cifarResNet({ depth: 20, shortcut: 'A' });
      // Our own initialisation, with non-trivial BN affine parameters and running statistics.
      const bnParams = new Map<string, rn.Tensor>();
      for (const [name, p] of model.namedParameters()) {
        if (!/bn\d\.(weight|bias)$/.test(name)) continue;
        bnParams.set(name, rn.noGrad(() => {
          const r = name.endsWith('weight') ? rn.rand(p.shape) : rn.randn(p.shape);
          const v = name.endsWith('weight') ? rn.add(r, 0.5) : rn.scale(r, 0.2);
          r.dispose();
          return v;
        }));
      }
      model.loadStateDict(bnParams, { strict: false });
      for (const t of bnParams.values()) t.dispose();
      model.train();
      for (let i = 0; i < 3; i++) {
        const batch = rn.randn([8, 3, 32, 32]);
        rn.noGrad(() => model.forward(batch).dispose());
        batch.dispose();
      }
      model.eval();
      const io = rn.io.loadSafetensorsSync(fixturePath('cifar_resnet20_io.safetensors')).tensors;
      const logits = rn.noGrad(() => model.forward(get(io, 'input')));
      await rn.io.saveSafetensors(join(dir, 'ours_cifar_resnet20.safetensors'), model.stateDict());
      await rn.io.saveSafetensors(join(dir, 'ours_cifar_resnet20_logits.safetensors'), { logits });

      const r = await run(PYTHON, [SCRIPT, '--check-ours', dir], 240_000);
      const output = `${r.stdout}${r.stderr}`;
      console.log(`model_parity: ${r.stdout.trim()}`);
      expect(r.signal, output).toBeNull();
      expect(r.status, output).toBe(0);
      expect(r.stdout).toMatch(/PyTorch logits vs ours: relative error \S+ \(ok/);

      logits.dispose();
      for (const t of io.values()) t.dispose();
      model.dispose();
    } finally {
      removeDir(dir);
    }
  });
});
