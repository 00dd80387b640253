// The GPU machine's scripts, kept from rotting between GPU runs: the smoke step's checks run with
// the CPU standing in for the GPU (SMOKE_DEVICE=cpu: every API call they make is exercised, and
// each error is 0), and a dry run of scripts/gpu/device-check.sh on a machine without a GPU, where
// every step must end cleanly (run, skipped with the reason, or failed with it) and leave its
// record in the output folder.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const hasGpu = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).status === 0;

describe('scripts/gpu', () => {
  it('smoke.ts: every check runs and passes with the CPU standing in for the GPU', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smoke-'));
    try {
      const results = join(dir, 'smoke.jsonl');
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gpu/smoke.ts', results],
        { encoding: 'utf8', env: { ...process.env, SMOKE_DEVICE: 'cpu' } });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/smoke: all checks passed/);
      const entries = readFileSync(results, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { check: string; ok?: boolean });
      const checks = entries.filter((e) => e.check !== 'backends');
      expect(checks.map((e) => e.check)).toEqual([
        expect.stringMatching(/^conv2d float32 contiguous/), expect.stringMatching(/^conv2d float32 channelsLast/),
        expect.stringMatching(/^conv2d under autocast bfloat16/), expect.stringMatching(/^batchNorm2d training/),
        expect.stringMatching(/^matmul float32/), expect.stringMatching(/^matmul under autocast bfloat16/),
        expect.stringMatching(/^convBnStats under autocast float16/), expect.stringMatching(/^ResNet-18 training step/),
      ]);
      expect(checks.every((e) => e.ok === true)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(hasGpu)('device-check.sh without a GPU: each step ends cleanly and is recorded as it goes', () => {
    const out = mkdtempSync(join(tmpdir(), 'device-check-'));
    try {
      const r = spawnSync('bash', ['scripts/gpu/device-check.sh'], { encoding: 'utf8', env: { ...process.env, OUT: out, DEVICE_CHECK_BUDGET_S: '120' } });
      const log = `${r.stdout}${r.stderr}`;
      expect(r.status, log).toBe(1);  // the smoke step fails: CUDA is unavailable
      expect(log).toMatch(/FAIL CUDA is unavailable: /);
      for (const skipped of ['4 GPU tests', '5 profile resnet50 train', '6 bench gpu', '7 -arch=native build \\+ smoke']) {
        expect(log).toMatch(new RegExp(`${skipped}\\s+skip\\s+0\\.0\\s+no GPU`));
      }
      expect(log).toMatch(/3 header-check\s+(0|skip)\s/);
      expect(log).toMatch(/device-check: FAILED/);
      const progress = readFileSync(join(out, 'progress.txt'), 'utf8');
      expect(progress).toMatch(/started: 1 smoke/);
      expect(progress).toMatch(/ended: 1 smoke.*exit 1/);
      expect(progress).toMatch(/finished: FAILED/);
      expect(existsSync(join(out, 'device-check.log'))).toBe(true);
      expect(readdirSync(join(out, 'steps')).some((f) => f.startsWith('01-1_smoke'))).toBe(true);
      expect(readFileSync(join(out, 'smoke.jsonl'), 'utf8')).toMatch(/"check":"available","ok":false/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
