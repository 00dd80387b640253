// Printing: one line per (workload, peer) with the medians, the ratio peer/ours (> 1: we are
// faster), where a workload has a batch, images per second on each side, and where a side
// reported it (GPU workloads), its peak device memory.
import type { Outcome, Row } from './harness.js';

const MAX_REASON = 60;

export function formatMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

function msCell(o: Outcome): string {
  if (!o.ok) {
    const reason = o.missing.length > MAX_REASON ? `${o.missing.slice(0, MAX_REASON - 1)}…` : o.missing;
    return `missing (${reason})`;
  }
  const spread = Math.round(o.stats.relMad * 100);
  return `${formatMs(o.stats.medianMs)} ±${spread}%`;
}

function imgCell(o: Outcome, batch: number | undefined): string {
  if (!batch || !o.ok) return '—';
  return (batch / (o.stats.medianMs / 1000)).toFixed(1);
}

function peakCell(o: Outcome): string {
  if (!o.ok || o.stats.peakMemoryBytes === undefined) return '—';
  return `${(o.stats.peakMemoryBytes / 2 ** 30).toFixed(2)} GiB`;
}

const hasPeak = (o: Outcome): boolean => o.ok && o.stats.peakMemoryBytes !== undefined;

/** Renders rows as an aligned plain-text table; long missing reasons are cut here (the JSON has them whole). */
export function renderTable(rows: Row[]): string {
  const withBatch = rows.some((r) => r.batch);
  // Peak device memory columns, only where a side reported it (the GPU suite).
  const withPeak = rows.some((r) => hasPeak(r.ours) || hasPeak(r.theirs));
  const header = ['workload', 'peer', 'ours ms', 'peer ms', 'ratio'];
  if (withBatch) header.push('ours img/s', 'peer img/s');
  if (withPeak) header.push('ours peak', 'peer peak');
  header.push('others');
  const body = rows.map((r) => {
    const cells = [r.workload, r.peer, msCell(r.ours), msCell(r.theirs), r.ratio === null ? '—' : r.ratio.toFixed(2)];
    if (withBatch) cells.push(imgCell(r.ours, r.batch), imgCell(r.theirs, r.batch));
    if (withPeak) cells.push(peakCell(r.ours), peakCell(r.theirs));
    cells.push(r.othersBusyCores === undefined || r.othersBusyCores === null ? '?' : r.othersBusyCores.toFixed(2));
    return cells;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((c) => c[i]!.length)));
  const leftAligned = new Set([0, 1]);
  const line = (cells: string[]): string =>
    cells.map((c, i) => (leftAligned.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Every reason a side was missing, in full, once each. */
export function renderMissing(rows: Row[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const r of rows) {
    for (const [who, o] of [['ours', r.ours], [r.peer, r.theirs]] as const) {
      if (o.ok) continue;
      const line = `${who}: ${o.missing}`;
      if (!seen.has(line) && o.missing.length > MAX_REASON) {
        seen.add(line);
        out.push(line);
      }
    }
  }
  return out;
}
