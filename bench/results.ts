// Where benchmark results go: JSON files under bench/results/ (ignored by git), named after what
// ran and when, unless --json names the file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileFromRoot } from './peers/ort.js';

/** 2026-01-31_235959: the date in file names (local time). */
export function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}_${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * Writes `report` as JSON to `path` (relative to the working directory) or, when path is null, to
 * bench/results/<name>-<stamp(date)>.json; returns the path written, relative where it is shorter.
 */
export function writeResults(path: string | null, name: string, date: Date, report: unknown): string {
  const file = resolve(path ?? fileFromRoot(`bench/results/${name}-${stamp(date)}.json`));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const shown = relative(process.cwd(), file);
  return shown && !shown.startsWith('..') ? shown : file;
}
