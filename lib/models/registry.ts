// Model names as the command line and checkpoints spell them:
//   resnet18 resnet34 resnet50 resnet101 resnet152 plain18 plain34     (ImageNet layout)
//   cifar-resnet<6n+2>  (20, 32, 44, 56, 110, 1202 ...)  cifar-plain<6n+2>  (CIFAR layout)
import type { Module } from '../nn/module.js';
import { cifarResNet, type ShortcutOption } from './cifar.js';
import { plain18, plain34, resnet101, resnet152, resnet18, resnet34, resnet50 } from './resnet.js';

export interface ModelSpec {
  name: string;
  numClasses: number;
  inChannels: number;
  /** CIFAR nets only (default 'A'). */
  shortcut?: ShortcutOption;
}

const IMAGENET = { resnet18, resnet34, resnet50, resnet101, resnet152, plain18, plain34 } as const;

export const MODEL_NAMES = [...Object.keys(IMAGENET), 'cifar-resnet20', 'cifar-resnet32', 'cifar-resnet44', 'cifar-resnet56',
  'cifar-resnet110', 'cifar-resnet1202', 'cifar-plain20', 'cifar-plain32', 'cifar-plain44', 'cifar-plain56'];

/** True for the CIFAR-layout nets (32x32 inputs, 3x3 stem). */
export function isCifarModel(name: string): boolean {
  return /^cifar-(resnet|plain)\d+$/.test(name);
}

export function createModel(spec: ModelSpec): Module {
  const { name, numClasses, inChannels } = spec;
  if (name in IMAGENET) {
    if (spec.shortcut !== undefined && spec.shortcut !== 'B') {
      throw new RangeError(`${name}: the ImageNet ResNets use projection shortcuts (option B); --shortcut applies to the cifar-* nets`);
    }
    return IMAGENET[name as keyof typeof IMAGENET]({ numClasses, inChannels });
  }
  const match = /^cifar-(resnet|plain)(\d+)$/.exec(name);
  if (!match) throw new RangeError(`unknown model '${name}'; known: ${MODEL_NAMES.join(', ')} (cifar-* take any depth 6n + 2)`);
  return cifarResNet({ depth: Number(match[2]), plain: match[1] === 'plain', shortcut: spec.shortcut ?? 'A', numClasses, inChannels });
}
