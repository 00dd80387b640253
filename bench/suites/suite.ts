// What a suite is: a name, the peers it compares with, and its workloads (or, for a stub, a
// function that prints and returns).
import type { Workload } from '../harness.js';

export interface Suite {
  name: string;
  description: string;
  /** Timed repetitions per side when --runs is not given. */
  defaultRuns: number;
  /** The peers its workloads use ('torch', 'onnxruntime'). */
  peers: string[];
  workloads(): Workload[];
  /** A suite that only reports (the GPU stub): runs instead of the measuring loop. */
  standalone?: () => void;
}

/** Milliseconds taken by fn (synchronous: every op of ours finishes before it returns). */
export function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}
