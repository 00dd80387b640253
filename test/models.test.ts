// Model construction: parameter counts (torchvision's and the paper's table), state-dict keys
// equal to torchvision's, output shapes, initialisation, configuration errors.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

// Made by test/fixtures/make_torchvision_keys.py (see its header to regenerate).
const torchvision = JSON.parse(readFileSync(new URL('./fixtures/torchvision_state_dicts.json', import.meta.url), 'utf8')) as Record<
  'resnet18' | 'resnet50', { parameters: number; stateDict: [string, number[], string][] }>;

const built: rn.nn.Module[] = [];
const build = <M extends rn.nn.Module>(m: M): M => {
  built.push(m);
  return m;
};
afterAll(() => built.forEach((m) => m.dispose()));

describe('ImageNet ResNets', () => {
  for (const name of ['resnet18', 'resnet50'] as const) {
    it(`${name}: state dict keys, order, shapes and dtypes equal torchvision's`, () => {
      const model = build(rn.models[name]());
      const ours = Object.entries(model.stateDict()).map(([k, t]) => [k, [...t.shape], t.dtype]);
      expect(ours).toEqual(torchvision[name].stateDict);
      expect(model.numParameters()).toBe(torchvision[name].parameters);
    });
  }

  it('resnet34/101/152 parameter counts equal torchvision\'s', () => {
    const counts = { resnet34: 21_797_672, resnet101: 44_549_160, resnet152: 60_192_808 };
    for (const [name, count] of Object.entries(counts)) {
      const model = rn.models[name as keyof typeof counts]();
      expect(model.numParameters(), name).toBe(count);
      model.dispose();
    }
  });

  it('plain18 is resnet18 without the downsample projections', () => {
    const plain = build(rn.models.plain18({ numClasses: 10 }));
    expect(Object.keys(plain.stateDict()).some((k) => k.includes('downsample'))).toBe(false);
    expect(plain.numParameters()).toBe(11_689_512 - 1000 * 513 + 10 * 513 - (8192 + 256) - (32768 + 512) - (131072 + 1024));
  });

  it('forward gives (N, numClasses) and the initialisation is Kaiming normal (fan out)', () => {
    rn.manualSeed(3);
    const model = build(rn.models.resnet18({ numClasses: 7 }));
    model.eval();
    rn.scope(() => {
      const y = rn.noGrad(() => model.forward(rn.randn([2, 3, 64, 64])));
      expect(y.shape).toEqual([2, 7]);
    });
    const w = model.stateDict()['layer3.0.conv2.weight']!.toArray() as Float32Array;
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / (256 * 9)), 3);
    expect(Array.from(model.stateDict()['layer3.0.bn2.weight']!.toArray(), Number)).toEqual(new Array(256).fill(1));
  });

  it('zeroInitResidual zeroes the last BN of every residual branch; v1 moves the stride to the first 1x1', () => {
    const model = build(rn.models.resnet50({ zeroInitResidual: true, stride: 'v1', numClasses: 3 }));
    const sd = model.stateDict();
    expect(Array.from(sd['layer2.0.bn3.weight']!.toArray(), Number).every((v) => v === 0)).toBe(true);
    expect(Array.from(sd['layer2.0.bn2.weight']!.toArray(), Number).every((v) => v === 1)).toBe(true);
    const block = model.layer2.at(0) as rn.models.Bottleneck;
    expect(block.conv1.options.stride).toBe(2);
    expect(block.conv2.options.stride).toBe(1);
  });

  it('grouped bottlenecks (ResNeXt-50 32x4d) have torchvision\'s parameter count', () => {
    const model = rn.models.resnet50({ groups: 32, widthPerGroup: 4 });
    expect(model.numParameters()).toBe(25_028_904);
    model.dispose();
  });

  it('rejects bad configurations with a sentence', () => {
    expect(() => rn.models.resnet18({ groups: 2 })).toThrow(/basic blocks support only groups = 1/);
    expect(() => rn.models.resnet18({ numClasses: 0 })).toThrow(RangeError);
    expect(() => rn.models.resnet18({ stride: 'v2' as never })).toThrow(/'v1' or 'v1.5'/);
    expect(() => rn.models.resnet18({ classes: 10 } as never)).toThrow(/unknown option 'classes'/);
  });
});

describe('CIFAR ResNets (section 4.2)', () => {
  it('option A parameter counts match the paper\'s table', () => {
    const expected: [number, number][] = [[20, 0.27], [32, 0.46], [44, 0.66], [56, 0.85], [110, 1.7], [1202, 19.4]];
    for (const [depth, millions] of expected) {
      const model = rn.models.cifarResNet({ depth });
      const count = model.numParameters() / 1e6;
      expect(count, `depth ${depth}`).toBeCloseTo(millions, millions >= 1 ? 1 : 2);
      model.dispose();
    }
  });

  it('option A has no projection parameters, B projects where dimensions change, C everywhere', () => {
    const a = build(rn.models.cifarResNet({ depth: 20, shortcut: 'A' }));
    const b = build(rn.models.cifarResNet({ depth: 20, shortcut: 'B' }));
    const c = build(rn.models.cifarResNet({ depth: 20, shortcut: 'C' }));
    const projections = (m: rn.nn.Module) => Object.keys(m.stateDict()).filter((k) => k.endsWith('downsample.0.weight'));
    expect(projections(a)).toEqual([]);
    expect(projections(b)).toEqual(['layer2.0.downsample.0.weight', 'layer3.0.downsample.0.weight']);
    expect(projections(c)).toHaveLength(9);
    expect(b.numParameters()).toBe(a.numParameters() + 16 * 32 + 64 + 32 * 64 + 128);
  });

  it('plain nets keep the layer names but have no shortcut; forward shapes are (N, 10)', () => {
    const plain = build(rn.models.cifarResNet({ depth: 20, plain: true }));
    const residual = build(rn.models.cifarResNet({ depth: 20 }));
    expect(plain.numParameters()).toBe(residual.numParameters());
    rn.scope(() => {
      const x = rn.randn([3, 3, 32, 32]);
      expect(plain.forward(x).shape).toEqual([3, 10]);
      expect(residual.forward(x).shape).toEqual([3, 10]);
    });
  });

  it('rejects a depth that is not 6n + 2 and an unknown shortcut option', () => {
    expect(() => rn.models.cifarResNet({ depth: 21 })).toThrow(/depth must be 6n \+ 2/);
    expect(() => rn.models.cifarResNet({ depth: 20, shortcut: 'D' as never })).toThrow(/'A', 'B' or 'C'/);
  });
});

describe('Module', () => {
  it('loadStateDict copies in place and reports missing, unexpected and wrong-shape keys by name', () => {
    rn.manualSeed(1);
    const source = build(rn.models.cifarResNet({ depth: 8 }));
    const target = build(rn.models.cifarResNet({ depth: 8 }));
    const weight = target.fc.weight;
    target.loadStateDict(source.stateDict());
    expect(target.fc.weight).toBe(weight);
    expect(Array.from(weight.toArray(), Number)).toEqual(Array.from(source.fc.weight.toArray(), Number));
    const sd = { ...source.stateDict() };
    delete sd['fc.bias'];
    sd['extra.weight'] = source.fc.bias!;
    expect(() => target.loadStateDict(sd)).toThrow(/missing keys: fc.bias[\s\S]*unexpected keys: extra.weight/);
    expect(target.loadStateDict(sd, { strict: false })).toEqual({ missingKeys: ['fc.bias'], unexpectedKeys: ['extra.weight'] });
    rn.scope(() => {
      const wrong = { ...source.stateDict(), 'fc.weight': rn.zeros([10, 3]) };
      expect(() => target.loadStateDict(wrong)).toThrow(/fc.weight: shape \[10,3\] in the state dict, \[10,64\] in the model/);
      const half = { ...source.stateDict(), 'fc.weight': source.fc.weight.to({ dtype: 'float16' }) };
      expect(() => target.loadStateDict(half)).toThrow(/castDtypes/);
      target.loadStateDict(half, { castDtypes: true });
    });
  });

  it('train()/eval() switch BN between batch and running statistics; num_batches_tracked counts', () => {
    const model = build(rn.models.cifarResNet({ depth: 8 }));
    rn.scope(() => {
      const x = rn.randn([4, 3, 8, 8]);
      model.train();
      model.forward(x);
      model.forward(x);
      expect(Number(model.stateDict()['bn1.num_batches_tracked']!.item())).toBe(2);
      const before = Array.from(model.bn1.runningMean!.toArray(), Number);
      model.eval();
      model.forward(x);
      expect(Array.from(model.bn1.runningMean!.toArray(), Number)).toEqual(before);
      expect(Number(model.stateDict()['bn1.num_batches_tracked']!.item())).toBe(2);
    });
  });

  it('to({ memoryFormat: channelsLast }) converts conv weights and the output is unchanged', () => {
    rn.manualSeed(2);
    const model = build(rn.models.cifarResNet({ depth: 8 })).eval();
    rn.scope(() => {
      const x = rn.randn([2, 3, 8, 8]);
      const before = Array.from(rn.noGrad(() => model.forward(x)).toArray() as Float32Array);
      model.to({ memoryFormat: 'channelsLast' });
      expect(model.conv1.weight.memoryFormat).toBe('channelsLast');
      expect(model.conv1.weight.requiresGrad).toBe(true);
      const after = Array.from(rn.noGrad(() => model.forward(x.to({ memoryFormat: 'channelsLast' }))).toArray() as Float32Array);
      after.forEach((v, i) => expect(v).toBeCloseTo(before[i]!, 4));
    });
  });

  it('a model built inside a scope keeps its parameters', () => {
    const model = rn.scope(() => rn.models.cifarResNet({ depth: 8 }));
    expect(model.parameters().every((p) => !p.disposed)).toBe(true);
    model.dispose();
    expect(model.parameters().every((p) => p.disposed)).toBe(true);
  });
});
