// CUDA graphs: the capture and replay of training steps (GPU part), and the pieces that make a
// step capturable, which run on every device (device-side learning rate and skip flag in SGD,
// the loss scaler's device state, in-place counters, the graph runner's eager warm-up and
// label checks, and the errors for misuse).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { native } from '../lib/binding.js';
import { runEachStep } from '../lib/cuda_graph.js';
import { GraphedSteps } from '../lib/train/graph_steps.js';
import { checkLabelValues } from '../lib/ops/loss.js';
import { announceSkip, cudaReason, expectCuda, runCuda } from './helpers/cuda.js';

announceSkip('CUDA graph tests (GPU part)');

const scalar = (t: rn.Tensor) => Number(t.toArray()[0]);
/** A plain SGD update at rate lr (no momentum, decay or Nesterov), as a first step. */
const plain = (lr: number) => ({ lr, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true });

describe('capturable step pieces (every device)', () => {
  it('SGD reads its learning rate from lrTensor and skips on a nonzero flag, as the update runs', () => {
    rn.scope(() => {
      const p = rn.tensor([1, 2, 3], [3]), g = rn.tensor([1, 1, 1], [3]);
      const lr = rn.full([], 0.5), skip = rn.full([], 0, { dtype: 'int32' });
      native.sgdStep(p.handle, g.handle, null, { ...plain(99), lrTensor: lr.handle, skipIfNonzero: skip.handle });
      expect(Array.from(p.toArray() as Float32Array)).toEqual([0.5, 1.5, 2.5]);
      native.increment(skip.handle);
      native.sgdStepMulti([p.handle], [g.handle], null, { ...plain(0.5), lrTensor: lr.handle, skipIfNonzero: skip.handle });
      expect(Array.from(p.toArray() as Float32Array)).toEqual([0.5, 1.5, 2.5]);
      expect(() => native.sgdStep(p.handle, g.handle, null, { ...plain(1), lrTensor: rn.full([2], 1).handle })).toThrow(/lrTensor must hold one element/);
      expect(() => native.sgdStep(p.handle, g.handle, null, { ...plain(1), skipIfNonzero: rn.full([], 1).handle })).toThrow(/skipIfNonzero must be int32/);
    });
  });

  it('increment counts in place, int32 and int64 only', () => {
    rn.scope(() => {
      const a = rn.full([], 41, { dtype: 'int64' }), b = rn.full([1], -1, { dtype: 'int32' });
      native.increment(a.handle);
      native.increment(b.handle);
      expect(scalar(a)).toBe(42);
      expect(scalar(b)).toBe(0);
      expect(() => native.increment(rn.full([], 1).handle)).toThrow(/int32 or int64/);
      expect(() => native.increment(rn.full([2], 1, { dtype: 'int32' }).handle)).toThrow(/one element/);
    });
  });

  it('BatchNorm2d counts its training batches on the device', () => {
    rn.scope(() => {
      const bn = new rn.nn.BatchNorm2d(2);
      const x = rn.randn([4, 2, 3, 3]);
      bn.forward(x);
      bn.forward(x);
      bn.eval().forward(x);
      expect(scalar(bn.stateDict()['num_batches_tracked']!)).toBe(2);
    });
  });

  /** A GradScaler run over steps with gradients that are finite or not, on the host or the device. */
  function scalerRun(device: 'host' | 'cpu') {
    const w = rn.keep(rn.full([3], 1, { requiresGrad: true }));
    const opt = new rn.optim.SGD([w], { lr: 0.1, momentum: 0.9 });
    const scaler = new rn.amp.GradScaler({ initScale: 1024, growthInterval: 2 });
    if (device === 'cpu') scaler.useDeviceState('cpu');
    const scales: number[] = [];
    for (const bad of [false, true, false, false, false, true, true, false]) {
      rn.scope(() => {
        opt.zeroGrad();
        const x = rn.tensor(bad ? [1, Infinity, 1] : [1, 2, 3], [3]);
        scaler.scale(rn.sum(rn.mul(w, x))).backward();
        scaler.step(opt);
        scaler.update();
        scales.push(scaler.getScale());
      });
    }
    const result = { scales, skipped: scaler.skippedSteps, weights: Array.from(w.toArray() as Float32Array), state: scaler.stateDict() };
    scaler.dispose();
    w.dispose();
    return result;
  }

  it('GradScaler with its state on the device decides as the host scaler does (backoff, skip, growth)', () => {
    const host = scalerRun('host'), onDevice = scalerRun('cpu');
    expect(onDevice.scales).toEqual(host.scales);
    expect(host.scales).toEqual([1024, 512, 512, 1024, 1024, 512, 256, 256]);
    expect(onDevice.skipped).toBe(3);
    expect(onDevice.weights).toEqual(host.weights);
    expect(onDevice.state).toEqual(host.state);
  });

  it('GradScaler.useDeviceState refuses mid-step and bad devices; loadStateDict reaches the device', () => {
    rn.scope(() => {
      const w = rn.full([2], 1, { requiresGrad: true });
      const opt = new rn.optim.SGD([w], { lr: 0.1 });
      const scaler = new rn.amp.GradScaler({ initScale: 8 });
      expect(() => scaler.useDeviceState('gpu' as rn.Device)).toThrow(TypeError);
      scaler.scale(rn.sum(w)).backward();
      scaler.unscale(opt);
      expect(() => scaler.useDeviceState('cpu')).toThrow(/between steps/);
      scaler.step(opt);
      scaler.update();
      scaler.useDeviceState('cpu');
      expect(scaler.stateDevice).toBe('cpu');
      scaler.loadStateDict({ ...scaler.stateDict(), scale: 64, growthTracker: 1 });
      expect(scaler.getScale()).toBe(64);
      expect(scaler.stateDict().growthTracker).toBe(1);
      scaler.dispose();
      expect(scaler.stateDevice).toBe(null);
      expect(scaler.getScale()).toBe(64);
    });
  });

  it('runEachStep runs at once outside a capture', () => {
    let n = 0;
    runEachStep(() => n++);
    expect(n).toBe(1);
    expect(rn.cuda.isCapturing()).toBe(false);
  });

  it('CudaGraph refuses replay before capture and use after dispose', () => {
    const g = new rn.cuda.CudaGraph();
    expect(g.captured).toBe(false);
    expect(() => g.replay()).toThrow(/nothing captured yet/);
    g.dispose();
    g.dispose();
    expect(() => g.replay()).toThrow(/disposed/);
    expect(() => g.capture(() => null)).toThrow(/disposed/);
  });

  it.skipIf(runCuda)('CudaGraph.capture says why where CUDA is unavailable', () => {
    expect(() => new rn.cuda.CudaGraph().capture(() => null)).toThrow(/CUDA is unavailable/);
    expect(cudaReason.length).toBeGreaterThan(0);
  });

  it('GraphedSteps runs its warm-up steps eagerly, then captures (here: says why it cannot)', () => {
    rn.scope(() => {
      const seen: number[] = [];
      const body = (images: rn.Tensor) => {
        seen.push(images.shape[0]!);
        return { loss: rn.sum(images), logits: rn.reshape(images, [images.shape[0]!, -1]) };
      };
      const steps = new GraphedSteps(body, 10, 2);
      const x = rn.randn([2, 3]), y = rn.tensor([1, 2], [2], { dtype: 'int64' });
      steps.run(x, y, y.toArray());
      steps.run(x, y, y.toArray());
      expect(seen).toEqual([2, 2]);
      expect(() => steps.run(x, y, new BigInt64Array([1n, 10n]))).toThrow(/label 10 at index 1 is outside \[0, 10\)/);
      if (!runCuda) expect(() => steps.run(x, y, y.toArray())).toThrow(/CUDA is unavailable/);
      steps.dispose();
      expect(() => new GraphedSteps(body, 10, 0)).toThrow(RangeError);
    });
  });

  it('crossEntropy({ checkLabels: false }) still checks labels on the CPU; the option must be a boolean', () => {
    rn.scope(() => {
      const logits = rn.randn([2, 3]);
      expect(() => rn.crossEntropy(logits, rn.tensor([0, 3], [2], { dtype: 'int64' }), { checkLabels: false })).toThrow(/label 3 at index 1/);
      expect(() => rn.crossEntropy(logits, rn.tensor([0, 1], [2], { dtype: 'int64' }), { checkLabels: 'no' as never })).toThrow(TypeError);
    });
  });

  it('GraphedSteps checks the labels of a graph step on the host (the captured loss cannot)', () => {
    expect(() => checkLabelValues(new Int32Array([0, 9, 3]), 10)).not.toThrow();
    expect(() => checkLabelValues(new BigInt64Array([0n, 10n]), 10)).toThrow(/label 10 at index 1 is outside \[0, 10\)/);
    expect(() => checkLabelValues(new Int32Array([-1]), 10)).toThrow(RangeError);
  });

  it('train({ cudaGraph }) needs a model on the GPU', async () => {
    const model = rn.models.createModel({ name: 'cifar-resnet8', numClasses: 10, inChannels: 3 });
    const data = rn.data.synthetic({ size: 8, seed: 1 });
    const loader = new rn.data.DataLoader(data, { batchSize: 4 });
    const optimizer = new rn.optim.SGD(model.parameters(), { lr: 0.1 });
    await expect(rn.train.train({
      model, spec: { name: 'cifar-resnet8', numClasses: 10, inChannels: 3 }, trainLoader: loader, optimizer,
      scheduler: new rn.optim.LRScheduler(optimizer, rn.optim.lrSchedule.constant()), epochs: 1, dataSpec: 'synthetic', progress: false, cudaGraph: true,
    })).rejects.toThrow(/cudaGraph needs the model on the GPU/);
    await loader.close();
    model.dispose();
  });
});

/** A small CIFAR ResNet, its SGD (momentum, weight decay) and `steps` batches, on the GPU. */
function setup(seed: number, batches: number) {
  rn.manualSeed(seed);
  const model = rn.models.createModel({ name: 'cifar-resnet8', numClasses: 10, inChannels: 3 }).to({ device: 'cuda' });
  const optimizer = new rn.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  rn.manualSeed(seed + 1);
  const data = Array.from({ length: batches }, (_, i) => ({
    images: rn.keep(rn.randn([8, 3, 16, 16]).to('cuda')),
    labels: rn.keep(rn.tensor(Array.from({ length: 8 }, (_, j) => (i + j) % 10), [8], { dtype: 'int64' }).to('cuda')),
  }));
  const body = (images: rn.Tensor, labels: rn.Tensor) => {
    optimizer.zeroGrad();
    const logits = model.forward(images);
    const loss = rn.crossEntropy(logits, labels);
    loss.backward();
    optimizer.step();
    return { loss, logits };
  };
  return { model, optimizer, data, body };
}

describe.skipIf(!runCuda)('CUDA graph capture and replay', () => {
  // Eager and replayed steps are compared for (near) equality: deterministic convolutions only.
  beforeAll(() => rn.cuda.setDeterministic(true));
  afterAll(() => rn.cuda.setDeterministic(false));

  it('replaying a captured step gives the losses and weights of eager steps (same seed, lr changed between steps)', async () => {
    expectCuda();
    const lrs = [0.05, 0.05, 0.05, 0.02, 0.02, 0.01, 0.01, 0.005];
    const run = async (graph: boolean) => {
      const s = setup(11, lrs.length);
      const steps = new GraphedSteps(s.body, 10, 2);
      const losses: number[] = [];
      for (let i = 0; i < lrs.length; i++) {
        s.optimizer.paramGroups[0]!.lr = lrs[i]!;
        const { images, labels } = s.data[i]!;
        const loss = rn.scope(() => {
          const out = graph ? steps.run(images, labels, labels.toArray()) : s.body(images, labels);
          return out.loss.data();
        });
        losses.push(Number((await loss)[0]));
      }
      const replays = steps.replays;
      const weights = s.model.parameters().map((p) => p.toArray() as Float32Array);
      const counted = scalar(Object.entries(s.model.stateDict()).find(([k]) => k.endsWith('num_batches_tracked'))![1]);
      steps.dispose();
      s.model.dispose();
      return { losses, weights, replays, counted };
    };
    const eager = await run(false), graphed = await run(true);
    expect(graphed.replays).toBe(lrs.length - 2);
    for (let i = 0; i < lrs.length; i++) expect(Math.abs(graphed.losses[i]! - eager.losses[i]!), `step ${i}`).toBeLessThan(1e-5 * Math.abs(eager.losses[i]!) + 1e-6);
    eager.weights.forEach((w, i) => {
      let maxDiff = 0;
      for (let j = 0; j < w.length; j++) maxDiff = Math.max(maxDiff, Math.abs(w[j]! - graphed.weights[i]![j]!));
      expect(maxDiff, `parameter ${i}`).toBeLessThan(1e-5);
    });
    expect(graphed.counted).toBe(lrs.length);
  });

  it('crossEntropy on GPU labels: a bad label throws, or gives NaN with checkLabels: false', () => {
    expectCuda();
    rn.scope(() => {
      const logits = rn.randn([2, 3]).to('cuda'), bad = rn.tensor([0, 7], [2], { dtype: 'int64' }).to('cuda');
      expect(() => rn.crossEntropy(logits, bad)).toThrow(/label 7 at index 1 is outside \[0, 3\)/);
      expect(Number.isNaN(rn.crossEntropy(logits, bad, { checkLabels: false }).item())).toBe(true);
    });
  });

  it('an evaluation forward pass captured once gives the eager output at each replay, for new inputs copied in', () => {
    expectCuda();
    rn.manualSeed(14);
    const model = rn.models.createModel({ name: 'cifar-resnet8', numClasses: 10, inChannels: 3 }).to({ device: 'cuda' }).eval();
    rn.nn.fuseForInference(model);
    const input = rn.keep(rn.randn([4, 3, 16, 16]).to('cuda'));
    const forward = () => rn.noGrad(() => model.forward(input));
    rn.scope(() => void forward());  // warm-up: the algorithm search
    const graph = new rn.cuda.CudaGraph();
    const output = rn.keep(graph.capture(forward));
    for (let i = 0; i < 3; i++) {
      rn.scope(() => {
        const next = rn.randn([4, 3, 16, 16]).to('cuda');
        native.copyInto(input.handle, next.handle);
        graph.replay();
        const replayed = output.toArray() as Float32Array;
        const eager = forward().toArray() as Float32Array;
        expect(Array.from(replayed)).toEqual(Array.from(eager));
      });
    }
    graph.dispose();
    output.dispose();
    input.dispose();
    model.dispose();
  });

  it('a live graph\'s block freed while another graph is captured stays its own: the two graphs\' memory never overlaps', () => {
    expectCuda();
    rn.scope(() => {
      const input = rn.randn([4096]).to('cuda');
      const a = new rn.cuda.CudaGraph(), b = new rn.cuda.CudaGraph();
      const squares = rn.keep(a.capture(() => rn.mul(input, input)));  // a's output, a block of a's pool
      // Freed during b's capture: were it to join b's pool, b's output (same size) would take it, and
      // each replay of a would then overwrite b's output with the squares.
      const doubled = rn.keep(b.capture(() => {
        squares.dispose();
        return rn.add(input, input);
      }));
      b.replay();
      a.replay();
      const x = Array.from(input.toArray() as Float32Array);
      expect(Array.from(doubled.toArray() as Float32Array)).toEqual(x.map((v) => Math.fround(v + v)));
      doubled.dispose();
      a.dispose();
      b.dispose();
    });
  });

  it('a process whose first cuDNN and cuBLAS calls are captured replays them (the handles exist before the capture)', async () => {
    expectCuda();
    const { spawnSync } = await import('node:child_process');
    const script = `
      const rn = await import('./lib/index.ts');
      const x = rn.randn([2, 4, 8, 8]).to('cuda'), w = rn.randn([4, 4, 3, 3]).to('cuda'), a = rn.randn([8, 8]).to('cuda');
      const graph = new rn.cuda.CudaGraph();
      const [conv, product] = graph.capture(() => [rn.conv2d(x, w, null, { padding: 1 }), rn.matmul(a, a)]);
      graph.replay();
      // The largest difference relative to the largest value (the captured conv may take the heuristics'
      // algorithm, the eager one the benchmarked one).
      const differs = (p, q) => {
        const want = q.toArray(), got = p.toArray();
        const scale = Math.max(...Array.from(want, Math.abs));
        return Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]))) / scale;
      };
      console.log(JSON.stringify({ conv: differs(conv, rn.conv2d(x, w, null, { padding: 1 })), product: differs(product, rn.matmul(a, a)) }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    const { conv, product } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { conv: number; product: number };
    expect(conv).toBeLessThan(1e-3);
    expect(product).toBeLessThan(1e-5);
  });

  it('replays allocate nothing: device counters flat', () => {
    expectCuda();
    const s = setup(12, 1);
    const steps = new GraphedSteps(s.body, 10, 2);
    const { images, labels } = s.data[0]!;
    const host = labels.toArray();
    for (let i = 0; i < 4; i++) rn.scope(() => void steps.run(images, labels, host));
    rn.cuda.synchronize();
    const before = rn.cuda.memory();
    for (let i = 0; i < 50; i++) rn.scope(() => void steps.run(images, labels, host));
    rn.cuda.synchronize();
    const after = rn.cuda.memory();
    expect(after.allocatedBytes).toBe(before.allocatedBytes);
    expect(after.deviceMallocs).toBe(before.deviceMallocs);
    steps.dispose();
    s.model.dispose();
  });

  it('reads, host copies, random draws and first optimizer steps are refused while capturing, and the capture is abandoned cleanly', () => {
    expectCuda();
    const x = rn.keep(rn.randn([4, 4]).to('cuda'));
    const attempts: [RegExp, () => unknown][] = [
      [/reading a GPU tensor back cannot run while a CUDA graph is being captured/, () => rn.relu(x).toArray()],
      [/copy from host memory cannot run while a CUDA graph is being captured/, () => rn.randn([2]).to('cuda')],
      [/randomUniform cannot run while a CUDA graph is being captured/, () => rn.rand([2], { device: 'cuda' })],
      [/first step .* cannot be captured/, () => {
        const w = rn.keep(rn.full([2], 1, { device: 'cuda', requiresGrad: true }));
        rn.sum(w).backward();
        new rn.optim.SGD([w], { lr: 0.1, momentum: 0.9 }).step();
      }],
    ];
    for (const [message, fn] of attempts) {
      const g = new rn.cuda.CudaGraph();
      expect(() => g.capture(fn)).toThrow(message);
      expect(rn.cuda.isCapturing()).toBe(false);
      g.dispose();
      expect(rn.relu(x).toArray().length).toBe(16);  // eager work runs again
    }
    x.dispose();
  });

  it('a float16 step with the scaler state on the GPU captures and replays like the eager step', async () => {
    expectCuda();
    const run = async (graph: boolean) => {
      const s = setup(13, 6);
      const scaler = new rn.amp.GradScaler({ initScale: 2 ** 12, growthInterval: 3 });
      scaler.useDeviceState('cuda');
      const body = (images: rn.Tensor, labels: rn.Tensor) => {
        s.optimizer.zeroGrad();
        const logits = rn.autocast({ dtype: 'float16' }, () => s.model.forward(images));
        const loss = rn.crossEntropy(logits, labels);
        scaler.scale(loss).backward();
        scaler.step(s.optimizer);
        scaler.update();
        return { loss, logits };
      };
      const steps = new GraphedSteps(body, 10, 2);
      const losses: number[] = [];
      for (const { images, labels } of s.data) {
        const loss = rn.scope(() => (graph ? steps.run(images, labels, labels.toArray()) : body(images, labels)).loss.data());
        losses.push(Number((await loss)[0]));
      }
      const state = scaler.stateDict();
      steps.dispose();
      scaler.dispose();
      s.model.dispose();
      return { losses, state };
    };
    const eager = await run(false), graphed = await run(true);
    expect(graphed.state).toEqual(eager.state);
    graphed.losses.forEach((l, i) => expect(Math.abs(l - eager.losses[i]!), `step ${i}`).toBeLessThan(1e-4 * Math.abs(eager.losses[i]!)));
  });

  it('train({ cudaGraph: true }) replays steps and logs the same losses as eager training', async () => {
    expectCuda();
    const trainOnce = async (cudaGraph: boolean) => {
      rn.manualSeed(21);
      const model = rn.models.createModel({ name: 'cifar-resnet8', numClasses: 10, inChannels: 3 }).to({ device: 'cuda' });
      const data = rn.data.synthetic({ size: 64, seed: 3 });
      const trainLoader = new rn.data.DataLoader(data, { batchSize: 16, shuffle: true, seed: 4 });
      const optimizer = new rn.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const losses: number[] = [];
      await rn.train.train({
        model, spec: { name: 'cifar-resnet8', numClasses: 10, inChannels: 3 }, trainLoader, optimizer,
        scheduler: new rn.optim.LRScheduler(optimizer, rn.optim.lrSchedule.constant()), epochs: 2, dataSpec: 'synthetic', progress: false,
        logEvery: 1, cudaGraph, onRecord: (r) => { if (r.kind === 'train') losses.push(r.loss); },
      });
      await trainLoader.close();
      model.dispose();
      return losses;
    };
    const eager = await trainOnce(false), graphed = await trainOnce(true);
    expect(graphed.length).toBe(8);
    graphed.forEach((l, i) => expect(Math.abs(l - eager[i]!), `step ${i}`).toBeLessThan(1e-5 * Math.abs(eager[i]!)));
  });
});
