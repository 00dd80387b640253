// The `cudnn-resnet` command: train, eval, info, experiment (started by bin.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { backends, setNumThreads } from './backends.js';
import { packageRoot } from './binding.js';
import { DataLoader } from './data/loader.js';
import { CIFAR_DEPTHS, createModel, MODEL_NAMES } from './models/registry.js';
import { readCheckpointState, loadCheckpoint, checkpointPaths, type CheckpointState } from './train/checkpoint.js';
import { topKList } from './train/evaluate.js';
import { train } from './train/trainer.js';
import { checkDataFitsCheckpoint } from './cli/checkpoint_fit.js';
import { defaultImageSize, openData } from './cli/data_spec.js';
import { evaluateWithConfusion } from './cli/eval_report.js';
import { inferenceRecord, registerPredict } from './cli/predict.js';
import { DEGRADATION_MODELS, formatTable, parseModelList, runComparison } from './cli/experiment.js';
import { checkRunOptions, OPTIMIZER_NAMES, setUpRun, tearDown, type RunOptions } from './cli/setup.js';
import { describeDistributed, distributeRun, joinGroup } from './cli/distributed.js';

const say = (line: string) => process.stderr.write(line + '\n');
const version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}
function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a non-negative number');
  return n;
}
function betas(value: string): [number, number] {
  const list = value.split(',').map(Number);
  if (list.length !== 2 || list.some((b) => !(b >= 0 && b < 1))) throw new InvalidArgumentError('expected two numbers in [0, 1), e.g. 0.9,0.999');
  return list as [number, number];
}
function ranks(value: string): number[] {
  const list = value.split(',').map(Number);
  if (list.length === 0 || list.some((k) => !Number.isInteger(k) || k < 1)) throw new InvalidArgumentError('expected comma-separated ranks, e.g. 1,3');
  return list;
}
function integerList(value: string): number[] {
  const list = value.split(',').map(Number);
  if (list.some((n) => !Number.isInteger(n) || n < 0)) throw new InvalidArgumentError('expected comma-separated iterations, e.g. 32000,48000');
  return list;
}

/** The options shared by `train` and `experiment`. */
function addTrainingOptions(cmd: Command, defaults: { epochs: number; batchSize: number }): Command {
  return cmd
    .option('--data <source>', 'synthetic[:N] | cifar10:DIR | idx:DIR | folder:DIR', 'synthetic:4000')
    .option('--epochs <n>', 'epochs to train', integer(1), defaults.epochs)
    .option('--max-steps <n>', 'stop after this many iterations in all', integer(1))
    .option('--batch-size <n>', 'images per batch', integer(1), defaults.batchSize)
    .addOption(new Option('--optimizer <name>', 'SGD, or Adam / AdamW with PyTorch\'s defaults').choices(OPTIMIZER_NAMES).default('sgd'))
    .option('--lr <x>', 'base learning rate (default: 0.1 for sgd, 1e-3 for adam and adamw)', positive)
    .option('--weight-decay <x>', 'weight decay (default: 1e-4 for sgd, 0 for adam, 1e-2 for adamw, which decouples it)', positive)
    .option('--momentum <x>', 'sgd: momentum (default 0.9)', positive)
    .option('--nesterov', 'sgd: Nesterov momentum')
    .option('--betas <b1,b2>', 'adam, adamw: moment decay rates (default 0.9,0.999)', betas)
    .option('--eps <x>', 'adam, adamw: added to the denominator (default 1e-8)', positive)
    .option('--bn-weight-decay', 'also decay BN weights and biases (default: they skip it)', false)
    .addOption(new Option('--schedule <name>', 'learning-rate schedule (plateau: divide by 10 when the test loss stalls)').choices(['multistep', 'cosine', 'constant', 'plateau']).default('multistep'))
    .option('--milestones <list>', 'multistep: iterations where the rate is divided by 10 (default: 50% and 75% of the run)', integerList)
    .option('--plateau-patience <n>', 'plateau: test evaluations without a lower loss before the rate drops (default 10)', integer(0))
    .option('--plateau-factor <x>', 'plateau: what the rate is multiplied by (default 0.1)', positive)
    .option('--topk <list>', 'ranks of the reported errors besides top-1, e.g. 1,3 (default: 5 where there are more than five classes)', ranks)
    .option('--warmup <n>', 'linear warm-up iterations', integer(0), 0)
    .addOption(new Option('--shortcut <option>', 'CIFAR nets: shortcut option').choices(['A', 'B', 'C']))
    .addOption(new Option('--device <device>', 'where to train').choices(['cpu', 'cuda', 'auto']).default('auto'))
    .addOption(new Option('--amp <dtype>', 'mixed precision: convolutions and linear layers in this dtype (float16 adds loss scaling)').choices(['bfloat16', 'float16']))
    .option('--channels-last', 'model and batches in channels-last (NHWC) memory format', false)
    .option('--cuda-graph', 'replay each training step from a CUDA graph (GPU only; after two warm-up steps)', false)
    .option('--seed <n>', 'seed of initialisation, data order and augmentation', integer(0), 0)
    .option('--augment', 'random 4-pixel-padded crop and horizontal flip (default: on, except for IDX digits)')
    .option('--no-augment', 'no random crop and flip')
    .option('--threads <n>', 'CPU threads', integer(1))
    .option('--no-progress', 'no progress bar')
    .option('--image-size <n>', 'folder data: shorter side resized to N, then the central N x N (default 32 for cifar-* nets, else 224)', integer(1));
}

function runOptions(o: Record<string, unknown>, model: string): RunOptions {
  if (o.threads !== undefined) setNumThreads(o.threads as number);
  return {
    model, data: o.data as string, epochs: o.epochs as number, maxSteps: o.maxSteps as number | undefined,
    batchSize: o.batchSize as number, optimizer: o.optimizer as RunOptions['optimizer'], lr: o.lr as number | undefined,
    weightDecay: o.weightDecay as number | undefined, momentum: o.momentum as number | undefined, nesterov: o.nesterov as boolean | undefined,
    betas: o.betas as [number, number] | undefined, eps: o.eps as number | undefined,
    bnWeightDecay: o.bnWeightDecay as boolean, schedule: o.schedule as RunOptions['schedule'],
    plateauPatience: o.plateauPatience as number | undefined, plateauFactor: o.plateauFactor as number | undefined,
    milestones: o.milestones as number[] | undefined, warmup: o.warmup as number, shortcut: o.shortcut as RunOptions['shortcut'],
    device: o.device as RunOptions['device'], seed: o.seed as number,
    amp: o.amp as RunOptions['amp'], channelsLast: o.channelsLast as boolean, cudaGraph: o.cudaGraph as boolean,
    augment: o.augment as boolean | undefined, topk: o.topk as number[] | undefined, imageSize: o.imageSize as number | undefined,
  };
}

export function buildProgram(): Command {
  const program = new Command('cudnn-resnet')
    .description('Train and evaluate residual networks (ResNet, plain, CIFAR ResNets, Highway, DenseNet, pre-activation ResNets) from the command line')
    .version(version)
    .showHelpAfterError();

  addTrainingOptions(program.command('train').description('train a model; with no flags, CIFAR ResNet-20 on the built-in synthetic data'), { epochs: 3, batchSize: 64 })
    .addOption(new Option('--model <name>', `one of ${MODEL_NAMES.join(', ')} (${CIFAR_DEPTHS})`).default('cifar-resnet20'))
    .option('--out <dir>', 'where the log, checkpoint and charts go (default runs/<model>)')
    .option('--resume', 'continue the run whose checkpoint is in --out', false)
    .option('--log-every <n>', 'iterations per line of the metrics log', integer(1), 10)
    .option('--save-best', 'also keep best.json / best.safetensors: the checkpoint of the lowest test error so far', false)
    .option('--patience <n>', 'stop after this many test evaluations (one per epoch) without a lower top-1 error', integer(1))
    .option('--distributed', 'data-parallel over the ranks of mpirun (--batch-size per rank; rank 0 logs and checkpoints)', false)
    .option('--sync-batch-norm', 'with --distributed: batch-norm statistics over all ranks (SyncBatchNorm)', false)
    .action(async (o: Record<string, unknown>) => {
      const options = runOptions(o, o.model as string);
      checkRunOptions(options);
      if (o.syncBatchNorm && !o.distributed) throw new TypeError('--sync-batch-norm applies to --distributed training');
      if (o.distributed && o.cudaGraph) throw new TypeError('--distributed does not combine with --cuda-graph (the gradient all-reduce is not captured)');
      const outDir = (o.out as string | undefined) ?? join('runs', options.model);
      const resumed = o.resume ? resumeState(outDir, options) : undefined;
      const group = o.distributed ? joinGroup(say) : undefined;  // distributed: before anything touches CUDA
      const run = await setUpRun(options, say, (data) => {
        if ((o.saveBest || o.patience !== undefined) && !data.test) throw new TypeError(`--save-best and --patience follow the test error, and ${data.spec} has no test split`);
        if (resumed) checkDataFitsCheckpoint(resumed, data, checkpointPaths(outDir).json, 'train --resume');
      });
      const distributed = group ? distributeRun(run, group, options, o.syncBatchNorm as boolean) : undefined;
      say(`${run.spec.name}: ${(run.model.numParameters() / 1e6).toFixed(2)}M parameters; ${run.data.train.length} training images` +
        `${run.data.test ? `, ${run.data.test.length} test images` : ''}; ${run.totalSteps} iterations; output in ${outDir}`);
      try {
        const summary = await train({
          model: distributed?.ddp ?? run.model, distributed, spec: run.spec, trainLoader: run.trainLoader, testLoader: run.testLoader,
          optimizer: run.optimizer, scheduler: run.scheduler, epochs: o.epochs as number, maxSteps: o.maxSteps as number | undefined,
          outDir, resume: o.resume as boolean, dataSpec: o.data as string, logEvery: o.logEvery as number,
          progress: o.progress as boolean, settings: { ...o, inference: inferenceRecord(run.data) },
          amp: o.amp as 'bfloat16' | 'float16' | undefined, channelsLast: o.channelsLast as boolean,
          cudaGraph: o.cudaGraph as boolean, topk: options.topk, saveBest: o.saveBest as boolean,
          patience: o.patience as number | undefined, plateau: run.plateau, onEvent: say,
          onRecord: (r) => {
            if (r.kind !== 'test') return;
            const others = Object.entries(r).filter(([key]) => /^top\d+Error$/.test(key) && key !== 'top1Error')
              .map(([key, value]) => `, ${key.slice(0, -5).replace('top', 'top-')} ${(value as number).toFixed(2)}%`).join('');
            say(`epoch ${r.epoch + 1}: test loss ${r.loss.toFixed(4)}, top-1 error ${r.top1Error.toFixed(2)}%${others}`);
          },
        });
        if (!group || group.rank === 0) console.log(JSON.stringify({
          model: run.spec.name, optimizer: options.optimizer, iterations: summary.iterations, epochs: summary.epochs,
          trainLoss: summary.lastTrain?.loss, trainTop1Error: summary.lastTrain?.top1Error,
          testLoss: summary.lastTest?.loss, testTop1Error: summary.lastTest?.top1Error,
          ...(summary.best ? { bestTestTop1Error: summary.best.top1Error, bestIteration: summary.best.iteration } : {}),
          stoppedEarly: summary.stoppedEarly,
          imagesPerSecond: Number(summary.imagesPerSecond.toFixed(2)), seconds: Number(summary.seconds.toFixed(1)), outDir,
        }));
      } finally {
        await tearDown(run);
      }
    });

  program.command('eval')
    .description('evaluate a checkpoint on the test split of a data source (the training split when there is none)')
    .requiredOption('--checkpoint <file>', 'checkpoint.json (or the folder holding it)')
    .option('--data <source>', 'default: the data the checkpoint was trained on')
    .option('--batch-size <n>', 'images per batch', integer(1), 200)
    .option('--topk <list>', 'ranks of the reported errors besides top-1, e.g. 1,3 (default: 5 where there are more than five classes)', ranks)
    .action(async (o: { checkpoint: string; data?: string; batchSize: number; topk?: number[] }) => {
      const { state } = readCheckpointState(o.checkpoint);
      topKList(o.topk, state.model.numClasses, '--topk');
      const data = await openData(o.data ?? state.data.spec, state.data.seed,
        { imageSize: (state.settings.imageSize as number | undefined) ?? defaultImageSize(state.model.name) });
      checkDataFitsCheckpoint(state, data, o.checkpoint, 'eval');
      const model = createModel(state.model);
      try {
        loadCheckpoint(o.checkpoint, model);
        const dataset = data.test ?? data.train;
        const loader = new DataLoader(dataset, { batchSize: o.batchSize, mean: data.mean, std: data.std });
        const { result, report } = await evaluateWithConfusion(model, loader, state.model.numClasses, dataset.classNames, o.checkpoint, say, o.topk);
        await loader.close();
        console.log(JSON.stringify({ model: state.model.name, data: data.spec, split: data.test ? 'test' : 'train', ...result, ...report }));
      } finally {
        model.dispose();
      }
    });

  program.command('info')
    .description('version, backends, and why CUDA is or is not available')
    .action(() => {
      const b = backends();
      console.log(`cudnn-resnet ${version} (node ${process.version})`);
      console.log(`cpu: ${b.cpu.threads} threads, ${b.cpu.isa} kernels (this CPU runs ${b.cpu.isasAvailable.join(', ')}), GEMM ${b.cpu.gemm} (built-in kernel: ${b.cpu.gemmIsa}; OpenBLAS: ${b.cpu.openblas.info})`);
      const c = b.cuda;
      console.log(`cuda: ${c.available ? 'available' : 'unavailable'}${c.reason ? ` — ${c.reason}` : ''}`);
      console.log(`  compiled in: ${c.compiled ? `yes (CUDA runtime ${c.runtimeVersion})` : 'no'}; driver: ${c.driverVersion || 'none'}`);
      for (const d of c.devices) console.log(`  ${d.name} (sm_${d.computeCapability.replace('.', '')}, ${(d.totalMemory / 2 ** 30).toFixed(1)} GiB)`);
      for (const [name, lib] of [['cuDNN', c.cudnn], ['cuBLAS', c.cublas]] as const) {
        if (lib) console.log(`  ${name}: ${lib.loaded ? `${lib.version} from ${lib.path}` : `not loaded — ${lib.reason}`}`);
      }
      for (const line of describeDistributed()) console.log(line);
    });

  const experiment = program.command('experiment').description('experiments of the ResNet paper, and comparisons of any nets');
  addComparisonOptions(experiment.command('degradation')
    .description('plain-20/56 vs ResNet-20/56 under one budget: training-error curves and a verdict (the paper\'s Figure 1/6)'), 'degradation')
    .action((o: Record<string, unknown>, cmd: Command) => compare(DEGRADATION_MODELS, o, cmd));
  addComparisonOptions(experiment.command('compare')
    .description('train several nets under one budget: one chart of their training and test error curves, a table (parameters, final errors, img/s)')
    .requiredOption('--models <list>', 'comma-separated: plain-N, resnet-N, highway-N, densenet-N, preact-N (the cifar-* nets) or any --model name of `train`', modelList), 'compare')
    .action((o: Record<string, unknown>, cmd: Command) => compare(o.models as string[], o, cmd));

  registerPredict(program);
  return program;
}

/** The options of the comparison experiments: those of `train`, a budget per model, an output folder. */
function addComparisonOptions(cmd: Command, name: string): Command {
  return addTrainingOptions(cmd, { epochs: 1000, batchSize: 64 })
    .option('--budget <iterations>', 'iterations per model', integer(1), 300)
    .option('--out <dir>', 'where the chart and logs go', join('runs', name));
}

function modelList(value: string): string[] {
  try {
    return parseModelList(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** The state of the checkpoint a `train --resume` continues, checked against the flags. */
function resumeState(outDir: string, o: RunOptions): CheckpointState {
  const path = checkpointPaths(outDir).json;
  if (!existsSync(path)) throw new Error(`train --resume: nothing to resume: ${path} does not exist`);
  const { state } = readCheckpointState(path);
  if (state.model.name !== o.model) throw new Error(`train --resume: ${path} holds ${state.model.name}; pass --model ${state.model.name}`);
  const saved = (state.optimizer.kind ?? 'SGD').toLowerCase();
  if (saved !== (o.optimizer ?? 'sgd')) throw new Error(`train --resume: ${path} was trained with --optimizer ${saved}, not ${o.optimizer ?? 'sgd'}`);
  return state;
}

/**
 * Trains `models` under the budget; prints the table, the verdict (degradation nets present) and
 * the chart's path. --max-steps is the budget's other name here; the two must agree when both are given.
 */
async function compare(models: string[], o: Record<string, unknown>, cmd: Command): Promise<void> {
  let budget = o.budget as number;
  if (o.maxSteps !== undefined) {
    if (cmd.getOptionValueSource('budget') === 'cli' && o.budget !== o.maxSteps) {
      throw new TypeError(`--max-steps ${String(o.maxSteps)} and --budget ${budget} disagree; here both mean iterations per model: give one`);
    }
    budget = o.maxSteps as number;
  }
  const base = { ...runOptions(o, ''), maxSteps: budget };
  checkRunOptions({ ...base, model: '' });
  const { rows, chart, verdict } = await runComparison(models, base, o.out as string, say, o.progress as boolean);
  console.log(formatTable(rows));
  for (const line of verdict) console.log(line);
  console.log(`chart: ${chart}`);
}

/** Runs the command line `argv` (as process.argv); errors are printed and set the exit code to 1. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    say(`cudnn-resnet: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
