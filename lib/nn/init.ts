// Parameter initialisation, in place, with PyTorch's formulas (torch.nn.init). Values come
// from the seedable generator (rn.manualSeed).
import { native } from '../binding.js';
import { randn, rand } from '../creation.js';
import { untracked } from '../memory.js';
import { wrap as wrapHandle, type Tensor } from '../tensor.js';

export type FanMode = 'fanIn' | 'fanOut';
export type Nonlinearity = 'relu' | 'linear' | 'sigmoid' | 'leakyRelu';

/** (fanIn, fanOut) of a weight: (out, in, ...kernel) -> (in * k, out * k). */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) throw new RangeError(`init: fan in and fan out need a tensor of 2 or more dimensions, got shape [${t.shape}]`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

export function gain(nonlinearity: Nonlinearity, negativeSlope = 0.01): number {
  switch (nonlinearity) {
    case 'relu': return Math.SQRT2;
    case 'leakyRelu': return Math.sqrt(2 / (1 + negativeSlope ** 2));
    default: return 1;
  }
}

function fill(t: Tensor, make: () => Tensor): Tensor {
  untracked(() => {
    const values = make();
    native.copyInto(t.handle, values.handle);
    values.dispose();
  });
  return t;
}

function affineOf(source: Tensor, scale: number, shift: number): Tensor {
  const out = native.affine(source.handle, scale, shift);
  source.dispose();
  return wrapHandle(out);
}

export function normal(t: Tensor, mean = 0, std = 1): Tensor {
  return fill(t, () => affineOf(randn([...t.shape], { memoryFormat: t.memoryFormat, device: t.device }), std, mean));
}
export function uniform(t: Tensor, low = 0, high = 1): Tensor {
  return fill(t, () => affineOf(rand([...t.shape], { memoryFormat: t.memoryFormat, device: t.device }), high - low, low));
}
export function constant(t: Tensor, value: number): Tensor {
  return fill(t, () => {
    const filled = native.full([...t.shape], value, t.dtype, t.device);
    if (t.memoryFormat === 'contiguous') return wrapHandle(filled);
    const formatted = native.toFormat(filled, t.memoryFormat);
    filled.dispose();
    return wrapHandle(formatted);
  });
}
export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}
export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

export interface KaimingOptions {
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
  /** Negative slope of a leaky ReLU (PyTorch's `a`). */
  a?: number;
}

/** N(0, gain / sqrt(fan)) — torch.nn.init.kaiming_normal_. */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const fan = (options.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  const std = gain(options.nonlinearity ?? 'leakyRelu', options.a ?? 0) / Math.sqrt(fan);
  return normal(t, 0, std);
}

/** U(-bound, bound), bound = gain * sqrt(3 / fan) — torch.nn.init.kaiming_uniform_. */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const fan = (options.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  const bound = gain(options.nonlinearity ?? 'leakyRelu', options.a ?? 0) * Math.sqrt(3 / fan);
  return uniform(t, -bound, bound);
}
