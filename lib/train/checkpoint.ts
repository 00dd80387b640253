// Training checkpoints: the model's state dict and the optimizer's state tensors (SGD's momentum,
// Adam's moments and step counts) in one safetensors file, and a small JSON of everything else
// (model spec, the shape of the images it was trained on, epoch, iteration, the optimizer's name
// and hyperparameters, schedule and plateau state, the best test error so far, loader seed). Both are written atomically
// (temp file + rename); the JSON is written last and names the tensor file, so a crash
// between the two leaves the previous checkpoint whole.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicallySync } from '../io/atomic_write.js';
import { loadSafetensorsSync, saveSafetensorsSync } from '../io/safetensors.js';
import type { ModelSpec } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import { Adam, AdamW } from '../optim/adam.js';
import type { Optimizer, OptimizerState } from '../optim/optimizer.js';
import type { PlateauState } from '../optim/plateau.js';
import type { LRScheduler, SchedulerState } from '../optim/schedules.js';
import { SGD } from '../optim/sgd.js';
import type { BestState } from './early_stop.js';
import type { Tensor } from '../tensor.js';
import type { GradScalerState } from '../amp/grad_scaler.js';

export const CHECKPOINT_FORMAT = 'cudnn-resnet-checkpoint/1';
const OPTIMIZER_PREFIX = 'optimizer.';

export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  model: ModelSpec;
  /** The tensor file, relative to the JSON's folder. */
  tensors: string;
  /** Epochs completed, and batches done in the current one. */
  epoch: number;
  batchInEpoch: number;
  iteration: number;
  /** kind: absent in checkpoints written before Adam existed (they are SGD's). */
  optimizer: { kind?: OptimizerKind; paramGroups: OptimizerState['paramGroups'] };
  scheduler: SchedulerState;
  /** ReduceLROnPlateau's state, for runs that use it. */
  plateau?: PlateauState;
  /** The best test evaluation so far and the evaluations since (--save-best, --patience). */
  best?: BestState;
  /** Everything the data pipeline needs to continue the same sequence; imageShape [C, H, W] (absent in older checkpoints). */
  data: { spec: string; seed: number; batchSize: number; imageShape?: [number, number, number] };
  /** Free-form settings of the run (for `eval` and the record). */
  settings: Record<string, unknown>;
  /** The loss scaler's state, for runs in float16 mixed precision. */
  scaler?: GradScalerState;
}

export type OptimizerKind = 'SGD' | 'Adam' | 'AdamW';

/** The name of an optimizer as checkpoints and --optimizer spell it. */
export function optimizerKind(optimizer: Optimizer): OptimizerKind {
  if (optimizer instanceof SGD) return 'SGD';
  if (optimizer instanceof AdamW) return 'AdamW';
  if (optimizer instanceof Adam) return 'Adam';
  throw new TypeError('checkpoint: the optimizer must be an rn.optim.SGD, Adam or AdamW');
}

export function checkpointPaths(dir: string, name = 'checkpoint'): { json: string; tensors: string } {
  return { json: join(dir, `${name}.json`), tensors: join(dir, `${name}.safetensors`) };
}

export function saveCheckpoint(dir: string, model: Module, optimizer: Optimizer, scheduler: LRScheduler,
  state: Omit<CheckpointState, 'format' | 'tensors' | 'optimizer' | 'scheduler'>, name = 'checkpoint'): string {
  const paths = checkpointPaths(dir, name);
  const optimizerState = optimizer.stateDict();
  const tensors: Record<string, Tensor> = { ...model.stateDict() };
  for (const [key, t] of Object.entries(optimizerState.buffers)) tensors[OPTIMIZER_PREFIX + key] = t;
  saveSafetensorsSync(paths.tensors, tensors, { format: CHECKPOINT_FORMAT, model: state.model.name });
  const json: CheckpointState = {
    ...state,
    format: CHECKPOINT_FORMAT,
    tensors: `${name}.safetensors`,
    optimizer: { kind: optimizerKind(optimizer), paramGroups: optimizerState.paramGroups },
    scheduler: scheduler.stateDict(),
  };
  writeFileAtomicallySync(paths.json, (write) => write(new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n')));
  return paths.json;
}

/** Reads a checkpoint's JSON; `path` is the JSON file or the folder holding checkpoint.json. */
export function readCheckpointState(path: string): { state: CheckpointState; tensorsPath: string } {
  const jsonPath = path.endsWith('.json') ? path : checkpointPaths(path).json;
  if (!existsSync(jsonPath)) throw new Error(`checkpoint: ${jsonPath} does not exist`);
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(jsonPath, 'utf8')) as CheckpointState;
  } catch (err) {
    throw new Error(`checkpoint: ${jsonPath} is not valid JSON (${(err as Error).message})`);
  }
  if (state?.format !== CHECKPOINT_FORMAT) {
    throw new Error(`checkpoint: ${jsonPath} is not a ${CHECKPOINT_FORMAT} file (format: ${String(state?.format)})`);
  }
  return { state, tensorsPath: join(jsonPath, '..', state.tensors) };
}

/** Loads the model weights (and, when given, the optimizer and schedule state) of a checkpoint. */
export function loadCheckpoint(path: string, model: Module, optimizer?: Optimizer, scheduler?: LRScheduler): CheckpointState {
  const { state, tensorsPath } = readCheckpointState(path);
  const saved = state.optimizer.kind ?? 'SGD';
  if (optimizer && optimizerKind(optimizer) !== saved) {
    throw new Error(`checkpoint: ${path} was trained with ${saved}, not ${optimizerKind(optimizer)}; continue it with --optimizer ${saved.toLowerCase()}`);
  }
  const { tensors } = loadSafetensorsSync(tensorsPath);
  try {
    const modelTensors = new Map<string, Tensor>();
    const buffers: Record<string, Tensor> = {};
    for (const [key, t] of tensors) {
      if (key.startsWith(OPTIMIZER_PREFIX)) buffers[key.slice(OPTIMIZER_PREFIX.length)] = t;
      else modelTensors.set(key, t);
    }
    model.loadStateDict(modelTensors);
    optimizer?.loadStateDict({ paramGroups: state.optimizer.paramGroups, buffers });
    scheduler?.loadStateDict(state.scheduler);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return state;
}
