// One rank of the data-parallel tests (test/distributed.test.ts), run by mpirun (or alone, for
// the single-process reference). Usage: distributed_rank.ts <scenario> <outDir>
//   step:      one DDP step of SGD from weights that differ per rank until DDP broadcasts rank 0's;
//              writes this rank's parameters to rank<R>.bin
//   memory:    native live bytes after each of 6 DDP steps; prints JSON
//   reference: no MPI; the gradients of both ranks' shards, averaged here, then the same step;
//              writes reference.bin (and initial.bin, rank0alone.bin: the step from rank 0's alone)
//   syncbn, syncbn-reference: gradients and BN statistics with SyncBatchNorm on 2 ranks, and of one
//              process with BatchNorm2d on both ranks' batches together; writes JSON files
//   accumulate: gradient accumulation with noSync; prints whether the gradients equal the reference
//   nccl:      CUDA tensors: collectives and a DDP step through NCCL, one rank per GPU; prints JSON
//   collectives: allReduce (sum, mean, max), broadcast, allReduceNumbers; prints JSON
//   kill:      rank 1 dies (SIGKILL) after the first all-reduce; rank 0 goes on reducing
//   stall:     rank 1 stops taking part after the first all-reduce (busy, alive)
//   freeze:    rank 1 is stopped (SIGSTOP) after the first all-reduce: silent
//   late:      rank 1 does not call init() within rank 0's timeout
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as rn from '../../lib/index.js';

const [scenario, outDir = '.', variant] = process.argv.slice(2);
const BATCH = 8;  // per rank
const RANKS = 2;

function makeModel(seed = 7): rn.nn.Module {
  rn.manualSeed(seed);
  return new rn.nn.Sequential(
    new rn.nn.Conv2d(3, 4, 3, { padding: 1 }), new rn.nn.BatchNorm2d(4), new rn.nn.ReLU(),
    new rn.nn.AdaptiveAvgPool2d(1), new rn.nn.Flatten(), new rn.nn.Linear(4, 10),
  );
}

/** Batch `index` of rank r's share of epoch 0. */
function firstBatch(rank: number, index = 0): rn.data.Batch {
  const loader = new rn.data.DataLoader(rn.data.synthetic({ size: 64, seed: 3 }), { batchSize: BATCH, shuffle: true, seed: 5, augment: true })
    .withSampler(new rn.data.DistributedSampler({ numReplicas: RANKS, rank }));
  return [...loader][index]!;
}

function parameterBytes(model: rn.nn.Module): Buffer {
  return Buffer.concat(model.parameters().map((p) => Buffer.from((p.toArray() as Float32Array).buffer)));
}

function lossOf(model: rn.nn.Module, batch: rn.data.Batch): rn.Tensor {
  return rn.crossEntropy(model.forward(batch.images), batch.labels);
}

if (scenario === 'step') {
  const group = rn.distributed.init({ timeout: 60 });
  const model = makeModel(7 + group.rank);  // rank 1 starts elsewhere: DDP gives it rank 0's weights
  const ddp = new rn.nn.DistributedDataParallel(model, { bucketCapMb: 0.0002, firstBucketCapMb: 0.0001 });
  const opt = new rn.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  lossOf(ddp, firstBatch(group.rank)).backward();
  opt.step();
  writeFileSync(join(outDir, `rank${group.rank}.bin`), parameterBytes(model));
  console.log(JSON.stringify({ rank: group.rank, buckets: ddp.buckets.length, syncs: ddp.stats.syncs }));
} else if (scenario === 'memory') {
  // Native bytes after each of several DDP steps: steady (a collective's tensors are released by wait()).
  const group = rn.distributed.init({ timeout: 60 });
  const model = makeModel();
  const ddp = new rn.nn.DistributedDataParallel(model, { bucketCapMb: 0.0002, firstBucketCapMb: 0.0001 });
  const opt = new rn.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const batch = firstBatch(group.rank);
  const liveBytes: number[] = [];
  for (let i = 0; i < 6; i++) {
    rn.scope(() => {
      opt.zeroGrad();
      lossOf(ddp, batch).backward();
      opt.step();
    });
    liveBytes.push(rn.memory().liveBytes);
  }
  console.log(JSON.stringify({ rank: group.rank, liveBytes }));
} else if (scenario === 'reference') {
  const model = makeModel();
  writeFileSync(join(outDir, 'initial.bin'), parameterBytes(model));
  const opt = new rn.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  const grads: rn.Tensor[][] = [];
  for (let r = 0; r < RANKS; r++) {
    opt.zeroGrad();
    lossOf(model, firstBatch(r)).backward();
    grads.push(model.parameters().map((p) => p.grad!));
    for (const p of model.parameters()) p.grad = null;
  }
  const alone = makeModel();  // the same step from rank 0's gradients alone: must differ
  const aloneOpt = new rn.optim.SGD(alone.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  alone.parameters().forEach((p, i) => (p.grad = grads[0]![i]!.clone()));
  aloneOpt.step();
  writeFileSync(join(outDir, 'rank0alone.bin'), parameterBytes(alone));
  model.parameters().forEach((p, i) => (p.grad = rn.scale(rn.add(grads[0]![i]!, grads[1]![i]!), 1 / RANKS)));
  opt.step();
  writeFileSync(join(outDir, 'reference.bin'), parameterBytes(model));
} else if (scenario === 'syncbn' || scenario === 'syncbn-reference') {
  // Gradients and running statistics with SyncBatchNorm over 2 ranks, or of one process with
  // BatchNorm2d on the two ranks' batches together (the same global batch).
  const model = makeModel();
  const distributed = scenario === 'syncbn';
  let batch: { images: rn.Tensor; labels: rn.Tensor };
  let net: rn.nn.Module = model;
  if (distributed) {
    const group = rn.distributed.init({ timeout: 60 });
    if (variant !== 'plain') rn.nn.convertSyncBatchNorm(model);
    net = new rn.nn.DistributedDataParallel(model);
    batch = firstBatch(group.rank);
  } else {
    const [a, b] = [firstBatch(0), firstBatch(1)];
    batch = { images: rn.concat([a.images, b.images], 0), labels: rn.tensor(BigInt64Array.from([...(a.labels.toArray() as BigInt64Array), ...(b.labels.toArray() as BigInt64Array)]), [2 * BATCH], { dtype: 'int64' }) };
  }
  lossOf(net, batch as rn.data.Batch).backward();
  const values = (t: rn.Tensor) => Array.from(t.toArray() as Float32Array);
  // A file per rank: mpirun may interleave long lines of several ranks on stdout.
  writeFileSync(join(outDir, `${scenario}-${variant ?? 'sync'}-${rn.distributed.rank()}.json`), JSON.stringify({
    grads: model.parameters().map((p) => values(p.grad!)),
    buffers: model.buffers().filter((b) => b.dtype === 'float32').map(values), sync: model.modules().some((m) => m instanceof rn.nn.SyncBatchNorm) }));
} else if (scenario === 'accumulate') {
  // Two micro-batches, the first under noSync: the gradients are the ranks' mean of their sums,
  // averaged once. The reference is computed here from both ranks' data, without MPI.
  const group = rn.distributed.init({ timeout: 60 });
  const model = makeModel();
  const ddp = new rn.nn.DistributedDataParallel(model);
  ddp.noSync(() => lossOf(ddp, firstBatch(group.rank, 0)).backward());
  const syncsAfterFirst = ddp.stats.syncs;
  lossOf(ddp, firstBatch(group.rank, 1)).backward();
  const reference = makeModel();
  const sums = [0, 1].map((r) => {
    for (const p of reference.parameters()) p.grad = null;
    lossOf(reference, firstBatch(r, 0)).backward();
    lossOf(reference, firstBatch(r, 1)).backward();
    return reference.parameters().map((p) => p.grad!);
  });
  const want = sums[0]!.map((g, i) => rn.scale(rn.add(g, sums[1]![i]!), 1 / RANKS));
  const identical = model.parameters().every((p, i) => Buffer.from((p.grad!.toArray() as Float32Array).buffer).equals(Buffer.from((want[i]!.toArray() as Float32Array).buffer)));
  const alone = model.parameters().every((p, i) => Buffer.from((p.grad!.toArray() as Float32Array).buffer).equals(Buffer.from((sums[group.rank]![i]!.toArray() as Float32Array).buffer)));
  console.log(JSON.stringify({ rank: group.rank, identical, alone, syncsAfterFirst, syncs: ddp.stats.syncs }));
} else if (scenario === 'nccl') {
  // CUDA tensors through NCCL (one rank per GPU): the collectives, and a DDP step on the GPU
  // that must equal the mean of the ranks' CPU gradients stepped on the CPU.
  const group = rn.distributed.init({ timeout: 120 });
  const r = group.rank;
  const t = rn.tensor([r + 1, 2 * r], [2]).to('cuda');
  rn.distributed.allReduce(t, { op: 'sum' });
  const shared = rn.tensor([r + 10], [1]).to('cuda');
  rn.distributed.broadcast(shared, { root: 0 });
  const gpu = makeModel().to({ device: 'cuda' });
  const ddp = new rn.nn.DistributedDataParallel(gpu);
  const batch = firstBatch(r % RANKS);
  rn.crossEntropy(ddp.forward(batch.images.to('cuda')), batch.labels.to('cuda')).backward();
  const cpuGrads = [...Array(group.size).keys()].map((k) => {
    const cpu = makeModel();
    lossOf(cpu, firstBatch(k % RANKS)).backward();
    return cpu.parameters().map((p) => Array.from(p.grad!.toArray() as Float32Array));
  });
  const maxDiff = Math.max(...gpu.parameters().flatMap((p, i) => Array.from(p.grad!.to('cpu').toArray() as Float32Array)
    .map((v, j) => Math.abs(v - cpuGrads.reduce((s, g) => s + g[i]![j]!, 0) / group.size))));
  console.log(JSON.stringify({ rank: r, size: group.size, sum: Array.from(t.to('cpu').toArray() as Float32Array),
    shared: Array.from(shared.to('cpu').toArray() as Float32Array), maxDiff }));
} else if (scenario === 'collectives') {
  const group = rn.distributed.init({ timeout: 60 });
  const r = group.rank;
  const sum = rn.tensor([r, 1, -r], [3]);
  const mean = rn.tensor([2 * r, 3], [2]);
  rn.distributed.allReduce([sum, mean.clone()]);
  rn.distributed.allReduce(mean, { op: 'mean' });
  const max = rn.tensor([r, -r], [2]);
  rn.distributed.allReduceAsync(max, { op: 'max' }).wait();
  const shared = rn.tensor([r + 10, r + 20], [2]);
  rn.distributed.broadcast(shared, { root: 1 });
  const numbers = rn.distributed.allReduceNumbers([r + 0.5, 1e15 + r], { op: 'sum' });
  rn.distributed.barrier();
  console.log(JSON.stringify({ rank: r, size: group.size, sum: sum.toArray(), mean: mean.toArray(), max: max.toArray(),
    shared: shared.toArray(), numbers }, (_, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v)));
} else if (scenario === 'late') {
  // Rank 1 does not join within rank 0's timeout.
  if (Number(process.env.OMPI_COMM_WORLD_RANK) === 1) {
    const end = Date.now() + 60_000;
    while (Date.now() < end);
  }
  rn.distributed.init({ timeout: 5 });
  console.log('joined');
} else if (scenario === 'kill' || scenario === 'stall' || scenario === 'freeze') {
  const group = rn.distributed.init({ timeout: 10 });
  const t = rn.tensor([1, 2, 3], [3]);
  rn.distributed.allReduce(t);
  if (group.rank === 1 && scenario === 'kill') process.kill(process.pid, 'SIGKILL');
  if (group.rank === 1 && scenario === 'freeze') process.kill(process.pid, 'SIGSTOP');  // hung: no heartbeat either
  if (group.rank === 1 && scenario === 'stall') {
    const end = Date.now() + 60_000;
    while (Date.now() < end);  // alive, but not taking part
  }
  for (let i = 0; i < 1000; i++) rn.distributed.allReduce(t);
  console.log(`rank ${group.rank} finished`);
} else {
  throw new Error(`distributed_rank: unknown scenario '${String(scenario)}'`);
}
