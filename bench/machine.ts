// How busy the machine is. The load average lags by a minute, so the harness also samples
// /proc/stat over a short window before a suite starts (while it is itself idle): the number of
// cores other processes kept busy. PyTorch's OpenMP threads slow down badly when a core is taken.
import { readFileSync } from 'node:fs';

function cpuTimes(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
    if (!line) return null;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal (guest is inside user)
    const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Cores kept busy by other processes over `ms` milliseconds (null where /proc/stat is unavailable). */
export async function busyCores(ms: number, cores: number): Promise<number | null> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  if (!a || !b || b.total <= a.total) return null;
  return ((b.busy - a.busy) / (b.total - a.total)) * cores;
}

/** CPU time (clock ticks, user + system, all threads) used so far by a process. */
function processTicks(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
  } catch {
    return 0;
  }
}

/**
 * Measures, over a stretch of the run, the cores used by processes other than this one and the
 * given children (the peers): call start() before and stop() after.
 */
export class OthersMeter {
  #start: { times: ReturnType<typeof cpuTimes>; own: number } | null = null;
  constructor(private readonly cores: number, private readonly pids: () => number[]) {}
  #own(): number {
    return processTicks('self') + this.pids().reduce((s, p) => s + processTicks(p), 0);
  }
  start(): void {
    this.#start = { times: cpuTimes(), own: this.#own() };
  }
  /** Average cores busy with other work since start() (null where /proc is unavailable). */
  stop(): number | null {
    const a = this.#start?.times;
    const b = cpuTimes();
    if (!a || !b || b.total <= a.total) return null;
    const own = this.#own() - this.#start!.own;
    return Math.max(0, ((b.busy - a.busy - own) / (b.total - a.total)) * this.cores);
  }
}
