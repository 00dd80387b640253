// The benchmark harness: runs named suites against their peers side by side and prints a table.
//   npm run bench -- <suite...> [--runs N] [--warmup N] [--json out.json] [--threads N]
//                               [--filter TEXT] [--peers torch,onnxruntime|none] [--no-install]
//                               [--wait-idle SECONDS]
//   npm run bench -- profile [options]   (the per-op profile of a training step or an inference
//                                         pass: bench/profile.ts, --help for its options)
// See bench/README.md.
import './env.js'; // first: sets OpenBLAS's environment before the addon loads it
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as rn from '../lib/index.js';
import { measure, type Peer, type Row } from './harness.js';
import { profileCommand } from './profile.js';
import { busyCores, OthersMeter } from './machine.js';
import { OrtPeer } from './peers/ort.js';
import { TorchPeer } from './peers/torch.js';
import { SUITES } from './suites/index.js';
import type { Suite } from './suites/suite.js';
import { writeResults } from './results.js';
import { renderMissing, renderTable } from './table.js';

const USAGE = `usage: npm run bench -- <suite...> [options]
       npm run bench -- profile [options]   (where the time goes per native op; profile --help)

suites:
${[...SUITES.values()].map((s) => `  ${s.name.padEnd(10)} ${s.description}`).join('\n')}

options:
  --runs N          timed repetitions per side (default: per suite, ${[...SUITES.values()].filter((s) => !s.standalone).map((s) => `${s.name} ${s.defaultRuns}`).join(', ')})
  --warmup N        untimed repetitions per side first (default 1)
  --json PATH       where to write the results (default bench/results/<suite>-<date>.json; one suite only)
  --threads N       threads for us and every peer (default: all ${cpus().length} cores)
  --filter TEXT     only the workloads whose name contains TEXT
  --peers LIST      peers to run: torch,onnxruntime (default) or none; the others are reported missing
  --wait-idle S     before the suite and each workload, wait up to S seconds for other
                    processes to leave the cores idle
  --no-install      do not install onnxruntime-node when it is absent (it is then reported missing)
  -h, --help        this text`;

function fail(msg: string): never {
  console.error(`bench: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function positiveInt(name: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} expects an integer >= ${min}, got '${v}'`);
  return n;
}

const ALL_PEERS = ['torch', 'onnxruntime'];

function parseCli() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        runs: { type: 'string' },
        warmup: { type: 'string' },
        json: { type: 'string' },
        threads: { type: 'string' },
        filter: { type: 'string' },
        peers: { type: 'string' },
        'no-install': { type: 'boolean' },
        'wait-idle': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length === 0) fail('name a suite');
  const suites = positionals.map((name) => SUITES.get(name) ?? fail(`unknown suite '${name}'`));
  if (values.json !== undefined && suites.length > 1) fail('--json takes one suite at a time');
  const peers = values.peers === undefined ? ALL_PEERS : values.peers === 'none' ? [] : values.peers.split(',').map((p) => p.trim());
  for (const p of peers) if (!ALL_PEERS.includes(p)) fail(`unknown peer '${p}' (known: ${ALL_PEERS.join(', ')})`);
  return {
    suites,
    runs: values.runs === undefined ? null : positiveInt('runs', values.runs, 1),
    warmup: positiveInt('warmup', values.warmup, 1, 0),
    json: values.json ?? null,
    threads: positiveInt('threads', values.threads, cpus().length),
    filter: values.filter ?? null,
    peers,
    install: !values['no-install'],
    waitIdle: positiveInt('wait-idle', values['wait-idle'], 0, 0),
  };
}

type Options = ReturnType<typeof parseCli>;

const log = (line: string): void => { process.stderr.write(`${line}\n`); };
const fmtLoad = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' / ');

/** Waits until other processes use under a quarter of a core (over 2 s), or `seconds` have passed. */
async function waitIdle(seconds: number, cores: number): Promise<void> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const busy = await busyCores(2000, cores);
    if (busy === null || busy < 0.25) return;
    if (Date.now() >= until) {
      log(`still ${busy.toFixed(2)} cores busy with other work after ${seconds} s; starting anyway`);
      return;
    }
    log(`waiting for the machine to go idle (${busy.toFixed(2)} of ${cores} cores busy with other work)`);
  }
}

function disabledPeer(name: string, why: string): Peer {
  return { name, missing: why, prepare: async () => ({ missing: why }) };
}

async function runSuite(suite: Suite, o: Options): Promise<void> {
  if (suite.standalone) {
    suite.standalone();
    return;
  }
  const started = new Date();
  const loadBefore = loadavg();
  const cores = cpus().length;
  let workloads = suite.workloads();
  if (o.filter !== null) {
    const f = o.filter.toLowerCase();
    workloads = workloads.filter((w) => w.name.toLowerCase().includes(f));
    if (workloads.length === 0) fail(`no workload of '${suite.name}' matches --filter '${o.filter}'`);
  }
  const runs = o.runs ?? suite.defaultRuns;
  rn.setNumThreads(o.threads);
  const cpu = rn.backends().cpu;

  // Peers: started once for the whole suite, so that ours and theirs alternate within one pair of processes.
  const peers = new Map<string, Peer>();
  let torch: TorchPeer | null = null;
  let ort: OrtPeer | null = null;
  const wantTorch = suite.peers.includes('torch') || suite.peers.includes('onnxruntime');
  if (wantTorch && (o.peers.includes('torch') || o.peers.includes('onnxruntime'))) torch = await TorchPeer.start(o.threads, log);
  for (const name of suite.peers) {
    if (!o.peers.includes(name)) { peers.set(name, disabledPeer(name, 'disabled by --peers')); continue; }
    if (name === 'torch') peers.set(name, torch!);
    if (name === 'onnxruntime') {
      ort = await OrtPeer.start(torch!, o.threads, log, o.install);
      peers.set(name, ort);
    }
  }

  if (o.waitIdle > 0) await waitIdle(o.waitIdle, cores);
  // Sampled after the peers have started, before anything is timed: what other processes use.
  const busyBefore = await busyCores(1000, cores);
  const busyText = busyBefore === null ? 'unknown' : `${busyBefore.toFixed(2)} of ${cores}`;
  const header = [
    `suite ${suite.name}: ${suite.description}`,
    `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} cores; load average (1/5/15 min) before: ${fmtLoad(loadBefore)}; ` +
      `cores busy with other work just before: ${busyText}`,
    `ours: cudnn-resnet, ${cpu.threads} threads, GEMM ${cpu.gemm} (${cpu.gemmIsa})`,
    ...suite.peers.map((name) => {
      const p = peers.get(name)!;
      if (p.missing !== null) return `${name}: missing (${p.missing})`;
      if (name === 'torch') {
        const i = torch!.info!;
        return `torch: ${i.torch} (torchvision ${i.torchvision}, python ${i.python}), ${i.threads} threads, BLAS_INFO=${i.blasInfo}, mkldnn ${i.mkldnn}`;
      }
      return `onnxruntime: onnxruntime-node ${ort!.version}, ${o.threads} intra-op threads, CPU provider`;
    }),
    `runs: ${o.warmup} warm-up + ${runs} timed per side, alternating; median (± median absolute deviation)`,
  ];
  if (busyBefore !== null && busyBefore > 0.25) {
    header.push(`warning: other processes kept ${busyText} cores busy at the start; the timings (PyTorch's above all) are unreliable`);
  }
  log(header.join('\n'));

  const rows: Row[] = [];
  const meter = new OthersMeter(cores, () => (torch?.pid ? [torch.pid] : []));
  let busyDuring: number | null = null;
  try {
    meter.start();
    const perWorkload = new OthersMeter(cores, () => (torch?.pid ? [torch.pid] : []));
    for (const [i, w] of workloads.entries()) {
      if (o.waitIdle > 0 && i > 0) await waitIdle(o.waitIdle, cores);
      log(`[${i + 1}/${workloads.length}] ${w.name}`);
      perWorkload.start();
      const measured = await measure(w, peers, { runs, warmup: o.warmup, log });
      const others = perWorkload.stop();
      rows.push(...measured.map((r) => ({ ...r, othersBusyCores: others })));
    }
    busyDuring = meter.stop();
  } finally {
    await ort?.close();
    await torch?.close();
  }
  const loadAfter = loadavg();
  const busyAfter = await busyCores(1000, cores);
  const seconds = (Date.now() - started.getTime()) / 1000;

  console.log(`\n${header.join('\n')}\n`);
  console.log(renderTable(rows));
  const notes = renderMissing(rows);
  if (notes.length) console.log(`\nmissing, in full:\n${notes.map((n) => `  ${n}`).join('\n')}`);
  console.log(`\nratio = peer ms / ours ms (> 1: we are faster). load average after: ${fmtLoad(loadAfter)} (includes this run); ` +
    `cores busy with other work during the run: ${busyDuring === null ? 'unknown' : busyDuring.toFixed(2)}, ` +
    `just after: ${busyAfter === null ? 'unknown' : busyAfter.toFixed(2)}; took ${seconds.toFixed(0)} s`);

  if (busyDuring !== null && busyDuring > 0.25) {
    console.log(`warning: other processes used ${busyDuring.toFixed(2)} of ${cores} cores on average while this suite ran; the timings are unreliable`);
  }

  const report = {
    suite: suite.name,
    description: suite.description,
    date: started.toISOString(),
    seconds,
    runs,
    warmup: o.warmup,
    threads: o.threads,
    filter: o.filter,
    machine: {
      cpu: cpus()[0]?.model ?? null, cores, loadavgBefore: loadBefore, loadavgAfter: loadAfter,
      busyCoresBefore: busyBefore, busyCoresDuring: busyDuring, busyCoresAfter: busyAfter,
    },
    versions: {
      node: process.version,
      ours: { gemm: cpu.gemm, gemmIsa: cpu.gemmIsa, openblas: cpu.openblas },
      torch: torch?.info ?? null,
      onnxruntime: ort?.version ?? null,
    },
    peers: Object.fromEntries(suite.peers.map((n) => [n, peers.get(n)!.missing === null ? 'ok' : `missing (${peers.get(n)!.missing})`])),
    rows,
  };
  console.log(`results: ${writeResults(o.json, suite.name, started, report)}`);
}

if (process.argv[2] === 'profile') {
  profileCommand(process.argv.slice(3));
} else {
  const options = parseCli();
  for (const suite of options.suites) await runSuite(suite, options);
}
