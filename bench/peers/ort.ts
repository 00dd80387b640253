// The onnxruntime-node peer (cpu-infer only). onnxruntime-node is not a dependency of this
// project: when the suite runs and the package is absent, it is installed on the spot with
//   ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save onnxruntime-node
// (package.json is left alone; ONNXRUNTIME_NODE_INSTALL=skip stops its post-install script from
// fetching the CUDA provider). The ONNX models are exported by the PyTorch peer
// (torch.onnx.export of torchvision's models) and cached in bench/results/onnx/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Peer, Runner, Workload } from '../harness.js';
import type { TorchPeer } from './torch.js';

/** The part of onnxruntime-node's API used here (the package is loaded untyped, at run time). */
interface OrtTensor {
  dispose?(): void;
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
  readonly inputNames: readonly string[];
}
interface OrtModule {
  InferenceSession: {
    create(path: string, options: Record<string, unknown>): Promise<OrtSession>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env?: { versions?: { node?: string; common?: string } };
}

const PACKAGE = 'onnxruntime-node';
const ROOT = new URL('../..', import.meta.url);
const require = createRequire(import.meta.url);

function installedVersion(): string | null {
  try {
    const pkg = require(`${PACKAGE}/package.json`) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return null;
  }
}

function fillNormal(n: number, seed: number): Float32Array {
  // A small deterministic generator (mulberry32 + Box-Muller): the values only need to be realistic.
  const out = new Float32Array(n);
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const a = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

export class OrtPeer implements Peer {
  readonly name = 'onnxruntime';
  missing: string | null = null;
  version: string | null = null;
  #ort: OrtModule | null = null;
  #sessions = new Map<string, Promise<OrtSession>>();

  private constructor(
    private readonly torch: TorchPeer,
    private readonly threads: number,
    private readonly log: (line: string) => void,
  ) {}

  /** Installs onnxruntime-node when absent and loads it; on failure the peer is `missing` with the reason. */
  static async start(torch: TorchPeer, threads: number, log: (line: string) => void, allowInstall: boolean): Promise<OrtPeer> {
    const peer = new OrtPeer(torch, threads, log);
    let version = installedVersion();
    if (version === null) {
      if (!allowInstall) {
        peer.missing = `${PACKAGE} is not installed (--no-install)`;
        return peer;
      }
      log(`${PACKAGE} is not installed; installing it for this run (not saved to package.json):`);
      log(`  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save ${PACKAGE}`);
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      const r = spawnSync(npm, ['install', '--no-save', PACKAGE], {
        cwd: ROOT,
        env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      if (r.error || r.status !== 0) {
        peer.missing = `npm install ${PACKAGE} failed (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`})`;
        return peer;
      }
      version = installedVersion();
      if (version === null) {
        peer.missing = `${PACKAGE} still not resolvable after npm install`;
        return peer;
      }
    }
    try {
      const specifier: string = PACKAGE; // a variable: the package has no types in this project
      const mod = (await import(specifier)) as OrtModule & { default?: OrtModule };
      peer.#ort = mod.InferenceSession ? mod : mod.default ?? mod;
      if (!peer.#ort.InferenceSession) throw new Error('InferenceSession not exported');
      peer.version = version;
      log(`${PACKAGE} ${version} loaded`);
    } catch (err) {
      peer.missing = `cannot load ${PACKAGE} ${version}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
    }
    return peer;
  }

  /** The ONNX file of a model, exported once by the torch peer and cached. */
  async #modelPath(model: string): Promise<string> {
    const dir = fileFromRoot('bench/results/onnx');
    const path = join(dir, `${model}-opset13.onnx`);
    if (existsSync(path)) return path;
    if (this.torch.missing !== null) throw new Error(`ONNX export needs the torch peer, which is missing (${this.torch.missing})`);
    this.log(`exporting ${model} to ONNX with torch.onnx.export -> ${path}`);
    try {
      await this.torch.exportOnnx(model, path);
    } catch (err) {
      throw new Error(`ONNX export of ${model} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    return path;
  }

  #session(model: string): Promise<OrtSession> {
    let s = this.#sessions.get(model);
    if (!s) {
      s = this.#modelPath(model).then((path) =>
        this.#ort!.InferenceSession.create(path, {
          executionProviders: ['cpu'],
          graphOptimizationLevel: 'all',
          intraOpNumThreads: this.threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          // Its intra-op threads otherwise spin after each run and slow down whichever side runs
          // next (ours: 71 -> 95 ms on ResNet-18 b1); without spinning its own times are unchanged.
          ...(process.env.BENCH_ORT_SPIN === '1' ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
        }),
      );
      this.#sessions.set(model, s);
    }
    return s;
  }

  async prepare(workload: Workload): Promise<Runner | { missing: string }> {
    if (this.missing !== null || !this.#ort) return { missing: this.missing ?? 'not loaded' };
    const spec = workload.spec;
    if (spec.kind !== 'infer') return { missing: `onnxruntime runs inference only, not '${spec.kind}'` };
    let session: OrtSession;
    try {
      session = await this.#session(spec.model);
    } catch (err) {
      this.#sessions.delete(spec.model);
      return { missing: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
    }
    const dims = [spec.batch, 3, spec.size, spec.size];
    const input = new this.#ort.Tensor('float32', fillNormal(dims.reduce((a, b) => a * b, 1), 1), dims);
    const inputName = session.inputNames[0] ?? 'input';
    return {
      run: async () => {
        const t0 = performance.now();
        const out = await session.run({ [inputName]: input });
        const ms = performance.now() - t0;
        for (const t of Object.values(out)) t.dispose?.();
        return ms;
      },
      dispose: () => input.dispose?.(),
    };
  }

  async close(): Promise<void> {
    for (const s of this.#sessions.values()) {
      try { await (await s).release?.(); } catch { /* already reported */ }
    }
    this.#sessions.clear();
  }
}

export function fileFromRoot(rel: string): string {
  return fileURLToPath(new URL(rel, ROOT));
}
