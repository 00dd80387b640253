#!/usr/bin/env node
// The GPU tests' results, per test file and in all, from the vitest JSON reports that
// scripts/gpu/device-check.sh writes one per file: passed / failed / skipped, each failing test with
// the start of its message, a file that failed outside its tests (counted as one failure), and the
// files that left no report (crashed or timed out).
// Usage: node scripts/gpu/test-summary.mjs <reports folder> <test file>...
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const [folder, ...files] = process.argv.slice(2);
const total = { passed: 0, failed: 0, skipped: 0 };
const lines = [];
for (const file of files) {
  const report = join(folder, `${basename(file, '.test.ts')}.json`);
  if (!existsSync(report)) {
    lines.push(`${file}: NO REPORT (the file crashed, timed out or did not run)`);
    total.failed++;
    continue;
  }
  let json;
  try {
    json = JSON.parse(readFileSync(report, 'utf8'));
  } catch (err) {
    lines.push(`${file}: unreadable report ${report}: ${err.message}`);
    total.failed++;
    continue;
  }
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const failures = [];
  for (const result of json.testResults ?? []) {
    for (const test of result.assertionResults ?? []) {
      const status = test.status === 'passed' ? 'passed' : test.status === 'failed' ? 'failed' : 'skipped';
      counts[status]++;
      if (status === 'failed') {
        const message = String(test.failureMessages?.[0] ?? '').split('\n')[0].slice(0, 300);
        failures.push(`    FAILED ${test.fullName ?? test.title}: ${message}`);
      }
    }
    // A file whose hook (beforeAll ...) or import failed: its tests show as skipped, the file as failed.
    if (result.status === 'failed' && !(result.assertionResults ?? []).some((t) => t.status === 'failed')) {
      counts.failed++;
      const message = String(result.message ?? '').split('\n')[0].slice(0, 300);
      failures.push(`    FAILED outside its tests (a hook or the import; see the step's log)${message ? `: ${message}` : ''}`);
    }
  }
  for (const key of Object.keys(total)) total[key] += counts[key];
  lines.push(`${file}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`, ...failures);
}
console.log('GPU tests, per file:');
for (const line of lines) console.log(`  ${line}`);
console.log(`GPU tests in all: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
