// Runs `mpirun -np N node --import tsx <script> ...` over loopback without blocking the test
// worker, and says why it cannot when Open MPI is missing.
import { spawnSync } from 'node:child_process';
import * as rn from '../../lib/index.js';
import { runCommand, type NodeResult } from './run_node.js';

const mpirunFound = spawnSync('mpirun', ['--version'], { stdio: 'ignore' }).status === 0;
const mpi = rn.distributed.backends().mpi;

/** Why the MPI tests cannot run here, or null when they can. */
export const mpiSkipReason: string | null = !mpirunFound
  ? 'mpirun not found (install openmpi-bin)'
  : !mpi.loaded ? `libmpi not loaded: ${mpi.reason}` : null;

/** mpirun as root on one machine: more ranks than cores, no core binding, TCP over loopback only (as between machines). */
export function runMpi(ranks: number, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<NodeResult & { ms: number }> {
  const argv = ['--oversubscribe', '--bind-to', 'none', '--mca', 'btl', 'self,tcp', '--mca', 'btl_tcp_if_include', 'lo',
    '-np', String(ranks), process.execPath, '--import', 'tsx', ...args];
  const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', ...options.env };
  const started = Date.now();
  return runCommand('mpirun', argv, { env, timeoutMs: options.timeoutMs ?? 120_000 }).then((r) => ({ ...r, ms: Date.now() - started }));
}
