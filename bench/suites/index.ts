import { cpuInfer } from './cpu_infer.js';
import { cpuTrain } from './cpu_train.js';
import { gpu } from './gpu.js';
import { ops } from './ops.js';
import type { Suite } from './suite.js';

export const SUITES: ReadonlyMap<string, Suite> = new Map([ops, cpuInfer, cpuTrain, gpu].map((s) => [s.name, s]));
