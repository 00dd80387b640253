// Beyond ResNet: Highway networks, DenseNets and pre-activation ResNets. Parameter counts
// (torchvision's for DenseNet-121, the paper's for DenseNet-BC-100, by hand for the others),
// torchvision's state-dict names, output shapes, gradients through a Highway gate and a dense
// concatenation against finite differences, small-batch overfitting, the registry names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { gradcheck } from './helpers/gradcheck.js';
import { overfitLosses } from './helpers/overfit.js';

const built: rn.nn.Module[] = [];
const build = <M extends rn.nn.Module>(m: M): M => {
  built.push(m);
  return m;
};
afterAll(() => built.forEach((m) => m.dispose()));
beforeAll(() => rn.manualSeed(7));

const input = (shape: number[]) => {
  const t = rn.randn(shape);
  t.requiresGrad = true;
  return t;
};
const values = (t: rn.Tensor) => Array.from(t.toArray(), Number);
const bn = (c: number) => 2 * c;
const conv = (cIn: number, cOut: number, k: number) => cIn * cOut * k * k;

/** Trains `model` on one batch of 16 synthetic images; the losses of each step. */
const overfit = (model: rn.nn.Module, steps: number, lr: number): number[] =>
  overfitLosses(model, { images: 16, seed: 3, lr, maxSteps: steps, stopBelowFraction: 3 });

describe('Highway networks', () => {
  // A block from cIn to p channels: F's two convs and BNs, the gate conv with bias, a projection where the shape changes.
  const block = (cIn: number, p: number) => conv(cIn, p, 3) + bn(p) + conv(p, p, 3) + bn(p) + conv(cIn, p, 3) + p + (cIn !== p ? conv(cIn, p, 1) + bn(p) : 0);
  const highwayCount = (n: number) => conv(3, 16, 3) + bn(16)
    + n * block(16, 16) + block(16, 32) + (n - 1) * block(32, 32) + block(32, 64) + (n - 1) * block(64, 64) + 64 * 10 + 10;

  it('parameter counts equal the hand count; gates start at the bias given (default −2)', () => {
    for (const depth of [8, 20, 56]) {
      const model = rn.models.highway({ depth });
      expect(model.numParameters(), `depth ${depth}`).toBe(highwayCount((depth - 2) / 6));
      model.dispose();
    }
    expect(highwayCount(3)).toBe(394_922);
    const model = build(rn.models.highway({ depth: 8 }));
    const sd = model.stateDict();
    expect(values(sd['layer2.0.gate.bias']!)).toEqual(new Array(32).fill(-2));
    expect(sd['layer2.0.gate.weight']!.shape).toEqual([32, 16, 3, 3]);
    expect(sd['layer2.0.downsample.0.weight']!.shape).toEqual([32, 16, 1, 1]);
    expect(Object.keys(sd).some((k) => k.startsWith('layer1.0.downsample'))).toBe(false);
    const open = build(rn.models.highway({ depth: 8, gateBias: 1.5 }));
    expect(values(open.stateDict()['layer3.0.gate.bias']!)).toEqual(new Array(64).fill(1.5));
  });

  it('forward gives (N, numClasses); a strongly closed gate carries the input', () => {
    const model = build(rn.models.highway({ depth: 8, numClasses: 7 }));
    rn.scope(() => expect(model.forward(rn.randn([2, 3, 32, 32])).shape).toEqual([2, 7]));
    const closed = build(new rn.models.HighwayBlock(4, 4, 1, -30)).eval();
    rn.scope(() => {
      const x = rn.randn([2, 4, 5, 5]);
      const y = rn.noGrad(() => closed.forward(x));
      values(y).forEach((v, i) => expect(v).toBeCloseTo(values(x)[i]!, 5));
    });
  });

  it('gradients through the gate match finite differences (BN in evaluation and in training mode)', () => {
    const same = build(new rn.models.HighwayBlock(4, 4, 1, -0.5)).eval();
    rn.scope(() => gradcheck((x) => same.forward(x!), [input([2, 4, 5, 5])], { eps: 1e-3 }));
    const projecting = build(new rn.models.HighwayBlock(4, 6, 2, 0.3)).train();
    rn.scope(() => gradcheck((x) => projecting.forward(x!), [input([2, 4, 5, 5])], { eps: 1e-3, tolerance: 3e-2 }));
  });

  it('the gate bias gradient matches finite differences', () => {
    const gated = build(new rn.models.HighwayBlock(3, 3, 1, -1)).eval();
    rn.scope(() => {
      const x = rn.randn([2, 3, 4, 4]);
      const weights = rn.randn([2, 3, 4, 4]);
      const lossOf = () => rn.sum(rn.mul(gated.forward(x), weights));
      const bias = gated.gate.bias!;
      const base = values(bias);
      bias.grad?.dispose();
      bias.grad = null;
      lossOf().backward();
      const analytic = values(bias.grad!);
      const eps = 1e-3;
      const at = (i: number, delta: number) => {
        gated.loadStateDict({ 'gate.bias': rn.tensor(base.map((v, j) => (j === i ? v + delta : v)), [3]) }, { strict: false });
        return rn.noGrad(() => lossOf().item());
      };
      base.forEach((_, i) => {
        const numeric = (at(i, eps) - at(i, -eps)) / (2 * eps);
        expect(Math.abs(analytic[i]! - numeric) / Math.max(1, Math.abs(numeric)), `bias ${i}`).toBeLessThan(2e-2);
      });
      gated.loadStateDict({ 'gate.bias': rn.tensor(base, [3]) }, { strict: false });
    });
  });

  it('a tiny Highway net overfits 16 images: the loss falls below a third of its start', () => {
    rn.manualSeed(0);
    const losses = overfit(build(rn.models.highway({ depth: 8 })), 30, 0.1);
    expect(losses[0]).toBeGreaterThan(1.5);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! / 3);
  }, 60_000);

  it('rejects a bad depth and gate bias with a sentence', () => {
    expect(() => rn.models.highway({ depth: 21 })).toThrow(/highway: depth must be 6n \+ 2/);
    expect(() => rn.models.highway({ depth: 20, gateBias: Number.NaN })).toThrow(/gateBias must be a finite number/);
    expect(() => rn.models.highway({ depth: 20, gate: 1 } as never)).toThrow(/unknown option 'gate'/);
  });
});

describe('DenseNets', () => {
  it('densenet121 has torchvision\'s parameter count and state-dict names', () => {
    const model = build(rn.models.densenet121());
    expect(model.numParameters()).toBe(7_978_856);
    const sd = model.stateDict();
    const keys = Object.keys(sd);
    expect(keys).toHaveLength(727);
    expect(keys.slice(0, 7)).toEqual(['features.conv0.weight', 'features.norm0.weight', 'features.norm0.bias', 'features.norm0.running_mean',
      'features.norm0.running_var', 'features.norm0.num_batches_tracked', 'features.denseblock1.denselayer1.norm1.weight']);
    expect(keys.slice(-3)).toEqual(['features.norm5.num_batches_tracked', 'classifier.weight', 'classifier.bias']);
    const shapes: Record<string, number[]> = {
      'features.conv0.weight': [64, 3, 7, 7],
      'features.denseblock1.denselayer1.norm1.weight': [64],
      'features.denseblock1.denselayer1.conv1.weight': [128, 64, 1, 1],
      'features.denseblock1.denselayer1.norm2.running_var': [128],
      'features.denseblock1.denselayer6.conv2.weight': [32, 128, 3, 3],
      'features.transition1.norm.weight': [256],
      'features.transition1.conv.weight': [128, 256, 1, 1],
      'features.denseblock3.denselayer24.norm1.weight': [992],
      'features.transition3.conv.weight': [512, 1024, 1, 1],
      'features.denseblock4.denselayer16.conv2.weight': [32, 128, 3, 3],
      'features.norm5.weight': [1024],
      'classifier.weight': [1000, 1024],
      'classifier.bias': [1000],
    };
    for (const [key, shape] of Object.entries(shapes)) expect(sd[key]?.shape, key).toEqual(shape);
    expect(keys.some((k) => k.endsWith('.bias') && k.includes('conv'))).toBe(false);
    expect(values(sd['classifier.bias']!).every((v) => v === 0)).toBe(true);
  });

  it('densenet121 forward gives (N, numClasses)', () => {
    const model = build(rn.models.densenet121({ numClasses: 5 })).eval();
    rn.scope(() => expect(rn.noGrad(() => model.forward(rn.randn([1, 3, 64, 64]))).shape).toEqual([1, 5]));
  });

  it('DenseNet-BC-100 (k = 12) has 769,162 parameters (≈ 0.8M); DenseNet-BC-40 its hand count', () => {
    const bc100 = rn.models.densenet({ depth: 100 });
    expect(bc100.numParameters()).toBe(769_162);
    bc100.dispose();
    // n = 6 layers per block, k = 12: each layer BN(C), 1x1 to 48, BN(48), 3x3 to 12.
    const layer = (c: number) => bn(c) + conv(c, 48, 1) + bn(48) + conv(48, 12, 3);
    const block = (c0: number) => Array.from({ length: 6 }, (_, i) => layer(c0 + 12 * i)).reduce((a, b) => a + b, 0);
    // channels: 24 -> 96 -> 48 -> 120 -> 60 -> 132
    const expected = conv(3, 24, 3) + block(24) + bn(96) + conv(96, 48, 1) + block(48) + bn(120) + conv(120, 60, 1) + block(60)
      + bn(132) + 132 * 10 + 10;
    const bc40 = build(rn.models.densenet({ depth: 40 }));
    expect(bc40.numParameters()).toBe(expected);
    expect(bc40.stateDict()['features.denseblock3.denselayer6.norm1.weight']!.shape).toEqual([120]);
    rn.scope(() => expect(bc40.forward(rn.randn([2, 3, 32, 32])).shape).toEqual([2, 10]));
  });

  it('a dense block\'s output is its input followed by every layer\'s new maps', () => {
    const block = build(new rn.models.DenseBlock(2, 3, 2, 2)).eval();
    rn.scope(() => {
      const x = rn.randn([2, 3, 4, 4]);
      const y = rn.noGrad(() => block.forward(x));
      expect(y.shape).toEqual([2, 7, 4, 4]);
      expect(values(rn.narrow(y, 1, 0, 3))).toEqual(values(x));
    });
  });

  it('gradients through a dense concatenation match finite differences', () => {
    const layer = build(new rn.models.DenseLayer(5, 2, 2)).eval();
    rn.scope(() => gradcheck((a, b) => layer.forward(a!, b!), [input([2, 3, 3, 3]), input([2, 2, 3, 3])], { eps: 1e-3 }));
    const block = build(new rn.models.DenseBlock(2, 3, 2, 2)).train();
    rn.scope(() => gradcheck((x) => block.forward(x!), [input([2, 3, 4, 4])], { eps: 1e-3, tolerance: 3e-2 }));
  });

  it('a tiny DenseNet overfits 16 images: the loss falls below a third of its start', () => {
    rn.manualSeed(0);
    const losses = overfit(build(rn.models.densenet({ depth: 10 })), 30, 0.2);
    expect(losses[0]).toBeGreaterThan(1.5);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! / 3);
  }, 60_000);

  it('rejects bad configurations with a sentence', () => {
    expect(() => rn.models.densenet({ depth: 41 })).toThrow(/densenet: depth must be 6n \+ 4/);
    expect(() => rn.models.densenet({ depth: 40, compression: 0 })).toThrow(/compression must be in \(0, 1\]/);
    expect(() => rn.models.densenet({ depth: 40, growthRate: 1.5 })).toThrow(/growthRate must be a positive integer/);
    expect(() => new rn.models.DenseNet({ blockConfig: [] })).toThrow(/blockConfig must list the layers/);
    expect(() => rn.models.densenet121({ growthRate: 48 } as never)).toThrow(/densenet121: unknown option 'growthRate'/);
  });
});

describe('pre-activation ResNets', () => {
  const basic = (cIn: number, p: number) => bn(cIn) + conv(cIn, p, 3) + bn(p) + conv(p, p, 3) + (cIn !== p ? conv(cIn, p, 1) : 0);
  const bottleneck = (cIn: number, p: number) => bn(cIn) + conv(cIn, p, 1) + bn(p) + conv(p, p, 3) + bn(p) + conv(p, 4 * p, 1)
    + (cIn !== 4 * p ? conv(cIn, 4 * p, 1) : 0);
  const preactCount = (kind: 'basic' | 'bottleneck', n: number) => {
    const [unit, e] = kind === 'basic' ? [basic, 1] : [bottleneck, 4];
    return conv(3, 16, 3) + unit(16, 16) + (n - 1) * unit(16 * e, 16) + unit(16 * e, 32) + (n - 1) * unit(32 * e, 32)
      + unit(32 * e, 64) + (n - 1) * unit(64 * e, 64) + bn(64 * e) + 64 * e * 10 + 10;
  };

  it('parameter counts equal the hand count (basic for 6n + 2 up to 110, bottleneck for 9n + 2 beyond)', () => {
    const cases: [number, 'basic' | 'bottleneck', number][] = [[20, 'basic', 3], [110, 'basic', 18], [29, 'bottleneck', 3], [164, 'bottleneck', 18]];
    for (const [depth, kind, n] of cases) {
      const model = rn.models.preactResNet({ depth });
      expect(model.blockKind, `depth ${depth}`).toBe(kind);
      expect(model.numParameters(), `depth ${depth}`).toBe(preactCount(kind, n));
      model.dispose();
    }
    expect(preactCount('bottleneck', 18)).toBe(1_703_258);
    expect(rn.models.preActBlockKind(1001)).toBe('bottleneck');
    expect(rn.models.preActBlockKind(56)).toBe('basic');
  });

  it('shortcuts are identities or bare 1x1 projections; a final BN before pooling; forward gives (N, numClasses)', () => {
    const model = build(rn.models.preactResNet({ depth: 11, numClasses: 4 }));
    const keys = Object.keys(model.stateDict());
    expect(keys.filter((k) => k.includes('downsample'))).toEqual(['layer1.0.downsample.weight', 'layer2.0.downsample.weight', 'layer3.0.downsample.weight']);
    expect(keys).toContain('bn.running_var');
    expect(keys).not.toContain('bn1.weight');
    rn.scope(() => expect(model.forward(rn.randn([2, 3, 16, 16])).shape).toEqual([2, 4]));
    const basicNet = build(rn.models.preactResNet({ depth: 8 }));
    expect(Object.keys(basicNet.stateDict()).filter((k) => k.includes('downsample'))).toEqual(['layer2.0.downsample.weight', 'layer3.0.downsample.weight']);
  });

  it('gradients through a pre-activation block match finite differences', () => {
    const block = build(new rn.models.PreActBlock('basic', 3, 4, 2)).eval();
    rn.scope(() => gradcheck((x) => block.forward(x!), [input([2, 3, 5, 5])], { eps: 1e-3 }));
  });

  it('rejects a depth that is neither 6n + 2 nor 9n + 2 with a sentence', () => {
    expect(() => rn.models.preactResNet({ depth: 21 })).toThrow(/depth must be 6n \+ 2 \(basic blocks: .*\) or 9n \+ 2 \(bottleneck blocks/);
  });
});

describe('registry', () => {
  it('builds the new names and keeps the old ones', () => {
    const spec = { numClasses: 10, inChannels: 3 };
    const cases: [string, new (...args: never[]) => rn.nn.Module][] = [
      ['cifar-highway8', rn.models.HighwayNet], ['cifar-densenet10', rn.models.DenseNet], ['cifar-preact8', rn.models.PreActResNet],
      ['cifar-resnet8', rn.models.CifarResNet], ['densenet121', rn.models.DenseNet],
    ];
    for (const [name, type] of cases) {
      const model = rn.models.createModel({ name, ...spec });
      expect(model, name).toBeInstanceOf(type);
      model.dispose();
    }
    for (const name of ['cifar-highway56', 'cifar-densenet40', 'cifar-preact164']) expect(rn.models.isCifarModel(name), name).toBe(true);
    expect(rn.models.isCifarModel('densenet121')).toBe(false);
    expect(rn.models.MODEL_NAMES).toEqual(expect.arrayContaining(['densenet121', 'cifar-highway20', 'cifar-densenet100', 'cifar-preact110', 'cifar-resnet56']));
  });

  it('refuses --shortcut for nets without a choice of shortcut, and bad depths, with a sentence', () => {
    const spec = { numClasses: 10, inChannels: 3, shortcut: 'B' as const };
    expect(() => rn.models.createModel({ ...spec, name: 'cifar-highway8' })).toThrow(/--shortcut applies to the cifar-resnet and cifar-plain nets/);
    expect(() => rn.models.createModel({ ...spec, name: 'densenet121' })).toThrow(/has no shortcuts to choose/);
    expect(() => rn.models.createModel({ name: 'cifar-densenet12', numClasses: 10, inChannels: 3 })).toThrow(/6n \+ 4/);
  });
});
