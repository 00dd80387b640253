// The PyTorch peer: spawns bench/peers/torch_peer.py once per suite and talks JSON lines with it
// (one request, one reply). The peer times each repetition itself, so the pipe's latency is not
// in its numbers. CPU suites use Debian's /usr/bin/python3; the GPU suite asks for a CUDA peer
// (requestCudaPeer), which uses `python3` from PATH, where a CUDA build of PyTorch lives on GPU
// machines. BENCH_TORCH_PYTHON overrides both.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Peer, Runner, Workload } from '../harness.js';

/** The interpreter of the CPU suites' peer. */
export const TORCH_PYTHON = process.env.BENCH_TORCH_PYTHON ?? '/usr/bin/python3';
/** The interpreter of the GPU suite's peer (a bare name is looked up on PATH). */
export const TORCH_CUDA_PYTHON = process.env.BENCH_TORCH_PYTHON ?? 'python3';
const SCRIPT = fileURLToPath(new URL('./torch_peer.py', import.meta.url));

let cudaRequested = false;
/**
 * The next TorchPeer.start() starts a CUDA peer: TORCH_CUDA_PYTHON, and BENCH_TORCH_DEVICE=cuda
 * in its environment (it then reports its CUDA build and device). Called by the GPU suite before
 * the harness starts the peer; consumed by that start, so later suites get the CPU peer.
 */
export function requestCudaPeer(): void {
  cudaRequested = true;
}

/** An interpreter path: as given when it contains a slash, else the first match on PATH. */
function findInterpreter(python: string): string | null {
  if (python.includes('/')) return existsSync(python) ? python : null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, python))) return join(dir, python);
  }
  return null;
}

export interface TorchInfo {
  torch: string;
  torchvision: string;
  threads: number;
  python: string;
  blasInfo: string;
  mkldnn: boolean;
  /** CUDA peer only: torch's CUDA and cuDNN versions, and the device or why there is none. */
  cuda?: string | null;
  cudnn?: number | null;
  cudaAvailable?: boolean;
  device?: string | null;
  cudaReason?: string | null;
}

/** peakBytes: torch.cuda.max_memory_allocated() since the workload's setup (GPU workloads). */
type Reply = { ok: true; ms?: number; peakBytes?: number } | { ok: false; error: string };

export class TorchPeer implements Peer {
  readonly name = 'torch';
  missing: string | null = null;
  info: TorchInfo | null = null;
  #child: ChildProcessWithoutNullStreams | null = null;
  #pending: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  #stderrTail: string[] = [];
  #nextId = 1;
  #exited: string | null = null;

  private constructor() {}

  /** The child's process id while it runs. */
  get pid(): number | null {
    return this.#exited === null ? this.#child?.pid ?? null : null;
  }

  /** Starts the peer; on failure the returned peer is `missing` with the reason. */
  static async start(threads: number, log: (line: string) => void): Promise<TorchPeer> {
    const peer = new TorchPeer();
    const cuda = cudaRequested;
    cudaRequested = false;
    const wanted = cuda ? TORCH_CUDA_PYTHON : TORCH_PYTHON;
    const python = findInterpreter(wanted);
    if (python === null) {
      peer.missing = wanted.includes('/') ? `${wanted} not found` : `${wanted} not found on PATH`;
      return peer;
    }
    log(`starting the PyTorch peer${cuda ? ' (CUDA)' : ''}: ${python} bench/peers/torch_peer.py`);
    const child = spawn(python, [SCRIPT], {
      env: { ...process.env, BENCH_THREADS: String(threads), PYTHONUNBUFFERED: '1', ...(cuda ? { BENCH_TORCH_DEVICE: 'cuda' } : {}) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    peer.#child = child;
    createInterface({ input: child.stderr }).on('line', (line) => {
      peer.#stderrTail.push(line);
      if (peer.#stderrTail.length > 20) peer.#stderrTail.shift();
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const waiter = peer.#pending.shift();
      if (!waiter) return;
      try {
        waiter.resolve(JSON.parse(line));
      } catch {
        waiter.reject(new Error(`unreadable reply from the torch peer: ${line.slice(0, 200)}`));
      }
    });
    const onGone = (why: string): void => {
      if (peer.#exited !== null) return;
      const tail = peer.#stderrTail.filter((l) => l.trim()).slice(-1)[0];
      peer.#exited = `torch peer ${why}${tail ? `: ${tail.trim()}` : ''}`;
      for (const w of peer.#pending.splice(0)) w.reject(new Error(peer.#exited));
    };
    child.on('error', (err) => onGone(`could not start (${err.message})`));
    child.on('exit', (code, signal) => onGone(`exited (${signal ?? `code ${code}`})`));
    child.stdin.on('error', () => { /* reported through 'exit' */ });
    try {
      const hello = (await peer.#expectReply()) as ({ ready: true } & TorchInfo) | { ready: false; error: string };
      if (!hello.ready) {
        peer.missing = hello.error;
        await peer.close();
      } else {
        peer.info = hello;
        if (cuda) {
          log(`torch peer: torch ${hello.torch}, CUDA ${hello.cuda ?? 'none'}, cuDNN ${hello.cudnn ?? 'none'}, ` +
            (hello.cudaAvailable ? `device ${hello.device}` : `CUDA unavailable (${hello.cudaReason ?? 'no reason given'})`));
        }
      }
    } catch (err) {
      peer.missing = err instanceof Error ? err.message : String(err);
    }
    return peer;
  }

  #expectReply(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.#exited !== null) reject(new Error(this.#exited));
      else this.#pending.push({ resolve, reject });
    });
  }

  async request(msg: Record<string, unknown>): Promise<Reply> {
    if (!this.#child || this.#exited !== null) throw new Error(this.#exited ?? 'torch peer not running');
    const reply = this.#expectReply();
    this.#child.stdin.write(`${JSON.stringify(msg)}\n`);
    return (await reply) as Reply;
  }

  async prepare(workload: Workload): Promise<Runner | { missing: string }> {
    if (this.missing !== null) return { missing: this.missing };
    const id = this.#nextId++;
    const r = await this.request({ cmd: 'setup', id, spec: workload.spec });
    if (!r.ok) return { missing: `setup failed: ${r.error}` };
    let peakBytes: number | null = null;
    return {
      run: async () => {
        const reply = await this.request({ cmd: 'run', id });
        if (!reply.ok) throw new Error(reply.error);
        if (typeof reply.peakBytes === 'number') peakBytes = reply.peakBytes;
        return reply.ms!;
      },
      peakMemoryBytes: () => peakBytes,
      dispose: async () => {
        if (this.#exited === null) await this.request({ cmd: 'release', id });
      },
    };
  }

  /** Exports a torchvision model to ONNX (for the onnxruntime peer); throws with the reason on failure. */
  async exportOnnx(model: string, path: string): Promise<void> {
    if (this.missing !== null) throw new Error(`the torch peer is missing (${this.missing})`);
    const r = await this.request({ cmd: 'export_onnx', model, path });
    if (!r.ok) throw new Error(r.error);
  }

  async close(): Promise<void> {
    const child = this.#child;
    if (!child || this.#exited !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
    const timer = setTimeout(() => child.kill('SIGTERM'), 5000);
    await gone;
    clearTimeout(timer);
  }
}
