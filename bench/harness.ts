// The measuring loop shared by every suite: set up our side and each peer, warm up, then time
// them alternately (ours, peer, ours, peer ... with the starting side rotating per repetition)
// and keep the median. A peer that cannot run a workload is reported as missing, with why.

/** One timed implementation of a workload, ready to run. */
export interface Runner {
  /** Runs the workload once and returns the elapsed milliseconds (measured by the side itself). */
  run(): Promise<number> | number;
  dispose(): Promise<void> | void;
  /**
   * Peak device memory of this side since its setup, in bytes (GPU workloads only; read after
   * the timed repetitions, before dispose). Absent or null where it means nothing.
   */
  peakMemoryBytes?(): Promise<number | null> | number | null;
}

/** A peer able to prepare runners for workloads (PyTorch through its child process, onnxruntime-node in process). */
export interface Peer {
  readonly name: string;
  /** Why this peer cannot run at all (not installed, failed to start, disabled ...); null when usable. */
  readonly missing: string | null;
  /** A runner for the workload, or the reason it cannot run this workload. */
  prepare(workload: Workload): Promise<Runner | { missing: string }>;
}

/** What both sides are asked to run; `spec` is sent verbatim to the PyTorch peer. */
export interface Workload {
  name: string;
  /** Images per run, for the img/s columns (omitted where it means nothing). */
  batch?: number;
  spec: WorkloadSpec;
  /** Names of the peers that run this workload (in order). */
  peers: string[];
  ours(): Runner;
}

export type WorkloadSpec =
  | { kind: 'conv'; pass: 'fwd' | 'bwd'; n: number; c: number; h: number; w: number; k: number; r: number; stride: number; pad: number }
  | { kind: 'bn'; n: number; c: number; h: number; w: number }
  | { kind: 'gemm'; m: number; n: number; k: number }
  | { kind: 'infer'; model: 'resnet18' | 'resnet50'; batch: number; size: number }
  // amp (CPU training): autocast bfloat16 around forward and loss (absent: plain float32).
  | { kind: 'train'; model: 'resnet18' | 'cifar-resnet20' | 'cifar-resnet56'; batch: number; size: number; numClasses: number;
      lr: number; momentum: number; weightDecay: number; amp?: 'bfloat16' }
  // GPU workloads: one repetition is `steps` iterations followed by a device synchronise.
  // amp: autocast dtype (null: plain float32); tf32: TF32 tensor-core math for float32 convolutions
  // and matmuls; channelsLast: model and input in NHWC.
  | { kind: 'gpu-train'; model: 'resnet18' | 'resnet50' | 'cifar-resnet56'; batch: number; size: number; numClasses: number;
      lr: number; momentum: number; weightDecay: number; steps: number;
      amp: 'bfloat16' | 'float16' | null; tf32: boolean; channelsLast: boolean; cudaGraph?: boolean }
  | { kind: 'gpu-infer'; model: 'resnet18' | 'resnet50'; batch: number; size: number; steps: number;
      amp: 'bfloat16' | 'float16' | null; tf32: boolean; channelsLast: boolean; fuse?: boolean; cudaGraph?: boolean };

export interface Stats {
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Median absolute deviation, relative to the median (0.02 = 2%). */
  relMad: number;
  samplesMs: number[];
  /** Peak device memory of the side, in bytes, where the runner reports it (GPU workloads). */
  peakMemoryBytes?: number;
}

export type Outcome = { ok: true; stats: Stats } | { ok: false; missing: string };

export interface Row {
  workload: string;
  peer: string;
  batch?: number;
  ours: Outcome;
  theirs: Outcome;
  /** peer median / ours median: > 1 means we are faster. */
  ratio: number | null;
  /** Cores other processes (not the harness, not its peers) kept busy while this workload was measured. */
  othersBusyCores?: number | null;
}

export interface MeasureOptions {
  runs: number;
  warmup: number;
  log: (line: string) => void;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function stats(samples: number[]): Stats {
  const med = median(samples);
  const mad = median(samples.map((x) => Math.abs(x - med)));
  return { medianMs: med, minMs: Math.min(...samples), maxMs: Math.max(...samples), relMad: med > 0 ? mad / med : 0, samplesMs: samples };
}

export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim();
}

interface Side {
  name: string;
  runner: Runner;
  samples: number[];
  failed: string | null;
  peakMemoryBytes: number | null;
}

/** Times one workload against its peers; returns one row per peer. */
export async function measure(workload: Workload, peers: Map<string, Peer>, o: MeasureOptions): Promise<Row[]> {
  const sides: Side[] = [];
  let ours: Side | null = null;
  let oursFailure: string | null = null;
  try {
    ours = { name: 'ours', runner: workload.ours(), samples: [], failed: null, peakMemoryBytes: null };
    sides.push(ours);
  } catch (err) {
    oursFailure = `error: ${errorMessage(err)}`;
  }
  const peerState = new Map<string, Side | string>();
  for (const name of workload.peers) {
    const peer = peers.get(name);
    if (!peer) { peerState.set(name, 'peer not configured'); continue; }
    if (peer.missing !== null) { peerState.set(name, peer.missing); continue; }
    try {
      const r = await peer.prepare(workload);
      if ('missing' in r) peerState.set(name, r.missing);
      else {
        const side: Side = { name, runner: r, samples: [], failed: null, peakMemoryBytes: null };
        sides.push(side);
        peerState.set(name, side);
      }
    } catch (err) {
      peerState.set(name, errorMessage(err));
    }
  }

  const once = async (side: Side, keep: boolean): Promise<void> => {
    if (side.failed !== null) return;
    try {
      const ms = await side.runner.run();
      if (keep) side.samples.push(ms);
    } catch (err) {
      side.failed = `${side.name === 'ours' ? 'error: ' : 'failed: '}${errorMessage(err)}`;
    }
  };
  // Warm-up, then the timed repetitions; the side that starts rotates each repetition.
  for (let i = 0; i < o.warmup; i++) for (const s of sides) await once(s, false);
  for (let r = 0; r < o.runs; r++) {
    for (let j = 0; j < sides.length; j++) await once(sides[(r + j) % sides.length]!, true);
  }
  for (const s of sides) {
    if (s.failed !== null || !s.runner.peakMemoryBytes) continue;
    try { s.peakMemoryBytes = await s.runner.peakMemoryBytes(); } catch { /* reported as unknown */ }
  }
  for (const s of sides) {
    try { await s.runner.dispose(); } catch { /* a failed clean-up does not change the timings */ }
  }

  const outcome = (s: Side | string | null, fallback: string): Outcome => {
    if (s === null) return { ok: false, missing: fallback };
    if (typeof s === 'string') return { ok: false, missing: s };
    if (s.failed !== null) return { ok: false, missing: s.failed };
    if (s.samples.length === 0) return { ok: false, missing: 'no samples (--runs 0)' };
    const st = stats(s.samples);
    if (typeof s.peakMemoryBytes === 'number') st.peakMemoryBytes = s.peakMemoryBytes;
    return { ok: true, stats: st };
  };
  const oursOutcome = outcome(ours, oursFailure ?? 'error');
  const rows: Row[] = workload.peers.map((name) => {
    const theirs = outcome(peerState.get(name) ?? null, 'peer not configured');
    const ratio = oursOutcome.ok && theirs.ok ? theirs.stats.medianMs / oursOutcome.stats.medianMs : null;
    return { workload: workload.name, peer: name, ...(workload.batch ? { batch: workload.batch } : {}), ours: oursOutcome, theirs, ratio };
  });
  for (const row of rows) {
    const peak = (x: Outcome): string =>
      x.ok && x.stats.peakMemoryBytes !== undefined ? ` (peak ${(x.stats.peakMemoryBytes / 2 ** 30).toFixed(2)} GiB)` : '';
    const fmt = (x: Outcome): string => (x.ok ? `${x.stats.medianMs.toFixed(2)} ms${peak(x)}` : x.missing);
    o.log(`  ${row.workload} | ours ${fmt(row.ours)} | ${row.peer} ${fmt(row.theirs)}`);
  }
  return rows;
}
