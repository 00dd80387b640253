// Data-parallel training over MPI: mpirun starts 2 ranks over loopback TCP (test/helpers/run_mpi.ts)
// running test/helpers/distributed_rank.ts or the CLI. Skipped with the reason where Open MPI is
// missing (.ci/run installs it). NCCL: CUDA tensors on a GPU machine, skipped with the reason here.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { runNode } from './helpers/run_node.js';
import { mpiSkipReason, runMpi } from './helpers/run_mpi.js';

const rank = 'test/helpers/distributed_rank.ts';
const cuda = rn.backends().cuda;
const nccl = rn.distributed.backends().nccl;
const cudaRequired = process.env.CUDNN_RESNET_REQUIRE_CUDA === '1';
const ncclSkipReason = mpiSkipReason ?? (!cuda.available && !cudaRequired ? `CUDA unavailable: ${cuda.reason}` : !nccl.loaded ? `NCCL not loaded: ${nccl.reason}` : null);
if (ncclSkipReason) console.log(`NCCL tests skipped: ${ncclSkipReason}`);
const cli = 'lib/bin.ts';
if (mpiSkipReason) console.log(`MPI tests skipped: ${mpiSkipReason}`);
const work = mkdtempSync(join(tmpdir(), 'cudnn-resnet-dist-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const lossesOf = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; loss: number; iteration: number }).filter((r) => r.kind === 'train');

describe('distributed backends', () => {
  it('reports MPI and NCCL: where they were loaded from, or why not', () => {
    const b = rn.distributed.backends();
    for (const lib of [b.mpi, b.nccl]) {
      if (lib.loaded) expect(lib.version).toMatch(/^\d+\.\d+\.\d+$/);
      else expect(lib.reason).toMatch(/\w{3,}/);
    }
    if (!b.nccl.compiled) expect(b.nccl.reason).toMatch(/without its CUDA part/);
    expect(b.launcher).toMatchObject({ launched: false, rank: 0, size: 1 });
    expect(b.initialized).toBe(false);
  });

  it('refuses collectives before init, and bad arguments, with a sentence', () => {
    expect(() => rn.distributed.allReduce(rn.tensor([1], [1]))).toThrow(/call rn.distributed.init\(\) first/);
    expect(() => new rn.data.DistributedSampler()).toThrow(/call rn.distributed.init\(\) first/);
    expect(() => new rn.data.DistributedSampler({ numReplicas: 2, rank: 2 })).toThrow(RangeError);
    expect(() => rn.distributed.init({ timeout: -1 })).toThrow(RangeError);
  });
});

describe('DistributedSampler', () => {
  it('gives each rank every size-th position of the epoch, padded by wrapping, or each sample once', () => {
    const s = (rank: number, o = {}) => Array.from(new rn.data.DistributedSampler({ numReplicas: 3, rank, ...o }).positions(7));
    expect([s(0), s(1), s(2)]).toEqual([[0, 3, 6], [1, 4, 0], [2, 5, 1]]);
    expect([s(0, { dropLast: true }), s(2, { dropLast: true })]).toEqual([[0, 3], [2, 5]]);
    expect([s(0, { pad: false }), s(1, { pad: false }), s(2, { pad: false })]).toEqual([[0, 3, 6], [1, 4], [2, 5]]);
  });

  it("the ranks' batches together are one process's batches of the global batch size", () => {
    const data = rn.data.synthetic({ size: 40, seed: 1 });
    const labels = (loader: rn.data.DataLoader) => [...loader].map((b) => Array.from(b.labels.toArray() as BigInt64Array, Number));
    const whole = labels(new rn.data.DataLoader(data, { batchSize: 8, shuffle: true, seed: 4 }));
    const shards = [0, 1].map((r) => labels(new rn.data.DataLoader(data, { batchSize: 4, shuffle: true, seed: 4 })
      .withSampler(new rn.data.DistributedSampler({ numReplicas: 2, rank: r }))));
    expect(shards[0]!.length).toBe(whole.length);
    whole.forEach((batch, b) => expect([...shards[0]![b]!, ...shards[1]![b]!].sort()).toEqual([...batch].sort()));
  });
});

describe.skipIf(mpiSkipReason !== null)('data-parallel training over MPI (2 ranks, loopback)', () => {
  it('collectives: sum, mean, max, broadcast, numbers, barrier', async () => {
    const r = await runMpi(2, [rank, 'collectives']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).sort((a, b) => (a.rank as number) - (b.rank as number));
    for (const line of lines) {
      expect(line).toMatchObject({ size: 2, sum: [1, 2, -1], mean: [1, 3], max: [1, 0], shared: [11, 21], numbers: [2, 2e15 + 1] });
    }
  });

  it('after one DDP step (rank 1 initialised differently) the parameters are bit-identical on both ranks and equal to one process averaging the gradients', async () => {
    const dir = join(work, 'step');
    mkdirSync(dir);
    const mpi = await runMpi(2, [rank, 'step', dir]);
    expect(mpi.status, mpi.stderr).toBe(0);
    expect(mpi.stdout).toMatch(/"buckets":3/);  // tiny caps: several buckets, launched during backward
    const alone = await runNode([rank, 'reference', dir]);
    expect(alone.status, alone.stderr).toBe(0);
    const [rank0, rank1, reference, initial, rank0alone] = ['rank0', 'rank1', 'reference', 'initial', 'rank0alone'].map((n) => readFileSync(join(dir, `${n}.bin`)));
    expect(rank0!.equals(rank1!)).toBe(true);
    expect(rank0!.equals(reference!)).toBe(true);
    expect(reference!.equals(initial!)).toBe(false);
    expect(reference!.equals(rank0alone!)).toBe(false);
  }, 120_000);

  it('DDP steps hold no memory beyond the step: native live bytes are steady', async () => {
    const r = await runMpi(2, [rank, 'memory']);
    expect(r.status, r.stderr).toBe(0);
    for (const line of r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { liveBytes: number[] })) {
      expect(new Set(line.liveBytes.slice(2)).size, JSON.stringify(line.liveBytes)).toBe(1);
    }
  }, 120_000);

  it('noSync: gradients accumulate on each rank and are averaged once, by the next synced backward', async () => {
    const r = await runMpi(2, [rank, 'accumulate']);
    expect(r.status, r.stderr).toBe(0);
    for (const line of r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)) {
      expect(line).toMatchObject({ identical: true, alone: false, syncsAfterFirst: 0, syncs: 1 });
    }
  }, 120_000);

  it("a 2-rank run's loss falls like a 1-rank run's with the same global batch; --resume continues the group", async () => {
    const args = ['train', '--model', 'cifar-resnet8', '--data', 'synthetic:320', '--log-every', '10', '--no-progress', '--device', 'cpu',
      '--lr', '0.1', '--schedule', 'constant', '--threads', '1', '--seed', '1', '--no-augment'];
    const one = join(work, 'one'), two = join(work, 'two');
    const single = await runNode([cli, ...args, '--epochs', '6', '--batch-size', '32', '--out', one]);
    expect(single.status, single.stderr).toBe(0);
    const first = await runMpi(2, [cli, ...args, '--distributed', '--epochs', '4', '--batch-size', '16', '--out', two]);
    expect(first.status, first.stderr).toBe(0);
    const resumed = await runMpi(2, [cli, ...args, '--distributed', '--epochs', '6', '--batch-size', '16', '--out', two, '--resume']);
    expect(resumed.status, resumed.stderr).toBe(0);
    const summary = JSON.parse(resumed.stdout.trim()) as { iterations: number; testLoss: number };  // rank 0 alone prints it
    expect(summary.iterations).toBe(60);
    const a = lossesOf(one), b = lossesOf(two);
    expect(b.map((r) => r.iteration)).toEqual(a.map((r) => r.iteration));
    expect(a.at(-1)!.loss).toBeLessThan(0.75 * a[0]!.loss);
    expect(b.at(-1)!.loss).toBeLessThan(0.75 * b[0]!.loss);
    expect(Math.abs(b.at(-1)!.loss - a.at(-1)!.loss)).toBeLessThan(0.3);
  }, 240_000);

  it('SyncBatchNorm: gradients and running statistics of the global batch (plain BatchNorm2d differs)', async () => {
    type Out = { grads: number[][]; buffers: number[][]; sync: boolean };
    const dir = join(work, 'syncbn');
    mkdirSync(dir);
    const runs = await Promise.all([runMpi(2, [rank, 'syncbn', dir]), runMpi(2, [rank, 'syncbn', dir, 'plain']), runNode([rank, 'syncbn-reference', dir])]);
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    const read = (name: string) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Out;
    const want = read('syncbn-reference-sync-0');
    const maxDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((t, i) => t.map((v, j) => Math.abs(v - b[i]![j]!))));
    expect(Math.max(...want.buffers.flat().map(Math.abs))).toBeGreaterThan(1e-3);
    for (const r of [0, 1]) {
      const got = read(`syncbn-sync-${r}`);
      expect(got.sync).toBe(true);
      expect(maxDiff(got.grads, want.grads)).toBeLessThan(1e-6);
      expect(maxDiff(got.buffers, want.buffers)).toBeLessThan(1e-6);
      expect(maxDiff(read(`syncbn-plain-${r}`).grads, want.grads)).toBeGreaterThan(1e-4);
    }
  }, 120_000);

  it.concurrent('a killed rank ends the other with an error naming it, within the timeout', async () => {
    const r = await runMpi(2, [rank, 'kill'], { timeoutMs: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/rank 1 .*exited on signal 9/);
    expect(r.stdout).not.toMatch(/finished/);
    expect(r.ms).toBeLessThan(45_000);
  }, 90_000);

  it.concurrent('a rank that stops taking part ends the other with a timeout error naming the collective and the rank', async () => {
    const r = await runMpi(2, [rank, 'stall'], { timeoutMs: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/rank 0 of 2: allReduce of 1 tensor \(3 values\) did not complete within 10 s: rank 1 is alive but has not started it/);
    expect(r.ms).toBeLessThan(60_000);
  }, 90_000);

  it.concurrent('a rank that never joins ends the others: init() fails after the timeout', async () => {
    const r = await runMpi(2, [rank, 'late'], { timeoutMs: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/distributed.init: rank 0 of 2 waited 5 s for the other ranks to join/);
    expect(r.stdout).not.toMatch(/joined/);
    expect(r.ms).toBeLessThan(60_000);
  }, 90_000);

  it.concurrent('a hung rank (stopped: no heartbeat) ends the other with a timeout error saying it is silent', async () => {
    const r = await runMpi(2, [rank, 'freeze'], { timeoutMs: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/did not complete within 10 s: rank 1 has been silent for \d+\.\d s/);
    expect(r.ms).toBeLessThan(60_000);
  }, 90_000);
});

describe.skipIf(ncclSkipReason !== null)('CUDA tensors over NCCL (one rank per GPU; a 1-rank communicator on a single GPU)', () => {
  it('allReduce, broadcast and a DDP step on the GPU equal the CPU mean of the ranks\' gradients', async () => {
    const ranks = Math.max(1, cuda.devices.length);
    const r = await runMpi(ranks, [rank, 'nccl'], { timeoutMs: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    for (const line of r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { size: number; sum: number[]; shared: number[]; maxDiff: number })) {
      expect(line.size).toBe(ranks);
      expect(line.sum).toEqual([(ranks * (ranks + 1)) / 2, ranks * (ranks - 1)]);
      expect(line.shared).toEqual([10]);
      expect(line.maxDiff).toBeLessThan(1e-4);
    }
  }, 300_000);
});
