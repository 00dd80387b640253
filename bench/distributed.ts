// Data-parallel scaling on the CPU: images/s of DDP training steps with N ranks, and the
// all-reduce's share of a step. Not a suite of run.ts: it runs under mpirun, one process per rank.
//   mpirun --oversubscribe --bind-to none -np 2 node --import tsx bench/distributed.ts \
//     [--model cifar-resnet20] [--batch 64] [--steps 20] [--warmup 3] [--threads 1]
// Every rank runs the same steps; rank 0 prints one JSON line: ranks, threads per rank, per-rank
// batch, global images/s, and of the measured steps' time: the all-reduces' time on the
// communication thread (overlapping the backward pass) and the JS thread's wait for them (the
// exposed part), and the time of one 25 MiB all-reduce with the ranks in step (bus bandwidth as
// NCCL's tests count it). Run alone (without mpirun) it is the 1-rank baseline, DDP included.
import * as rn from '../lib/index.js';
import { createModel } from '../lib/models/registry.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const modelName = option('model', 'cifar-resnet20');
const batch = Number(option('batch', '64'));
const steps = Number(option('steps', '20'));
const warmup = Number(option('warmup', '3'));
rn.setNumThreads(Number(option('threads', '1')));

const group = rn.distributed.init();
rn.manualSeed(0);
const model = createModel({ name: modelName, numClasses: 10, inChannels: 3 });
const ddp = new rn.nn.DistributedDataParallel(model);
const opt = new rn.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
const images = rn.randn([batch, 3, 32, 32]);
const labels = rn.tensor(BigInt64Array.from({ length: batch }, (_, i) => BigInt((i + group.rank) % 10)), [batch], { dtype: 'int64' });

const step = () => rn.scope(() => {
  opt.zeroGrad();
  rn.crossEntropy(ddp.forward(images), labels).backward();
  opt.step();
});
for (let i = 0; i < warmup; i++) step();
rn.distributed.barrier();
ddp.resetStats();
const started = performance.now();
for (let i = 0; i < steps; i++) step();
rn.distributed.barrier();
const seconds = (performance.now() - started) / 1000;
const stats = ddp.stats;
const gradientBytes = ddp.buckets.reduce((n, b) => n + b.bytes, 0);

// The all-reduce alone, ranks in step (a barrier first): 25 MiB, DDP's bucket size.
const bucket = rn.zeros([(25 * 2 ** 20) / 4]);
rn.distributed.allReduce(bucket);
let reduceSeconds = 0;
for (let i = 0; i < 5; i++) {
  rn.distributed.barrier();
  const t0 = performance.now();
  rn.distributed.allReduce(bucket, { op: 'mean' });
  reduceSeconds += (performance.now() - t0) / 5000;
}
// Bus bandwidth as NCCL's tests count it: 2 (n - 1) / n of the bytes cross each link.
const busGBs = group.size > 1 ? ((2 * (group.size - 1)) / group.size) * (25 * 2 ** 20) / reduceSeconds / 1e9 : 0;
if (group.rank === 0) {
  console.log(JSON.stringify({
    model: modelName, ranks: group.size, threadsPerRank: rn.backends().cpu.threads, batchPerRank: batch, steps,
    imagesPerSecond: Number(((group.size * batch * steps) / seconds).toFixed(1)),
    stepMs: Number(((1000 * seconds) / steps).toFixed(1)),
    buckets: ddp.buckets.length, gradientMB: Number((gradientBytes / 2 ** 20).toFixed(2)),
    allReduceMsPerStep: Number(((1000 * stats.allReduceSeconds) / steps).toFixed(2)),
    waitMsPerStep: Number(((1000 * stats.waitSeconds) / steps).toFixed(2)),
    allReduceShare: Number((stats.allReduceSeconds / seconds).toFixed(4)),
    exposedShare: Number((stats.waitSeconds / seconds).toFixed(4)),
    allReduce25MiBMs: Number((1000 * reduceSeconds).toFixed(2)), busGBs: Number(busGBs.toFixed(2)),
  }));
}
