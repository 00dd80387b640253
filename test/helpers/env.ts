// Environment variables the native side reads at each call (CUDNN_RESNET_CONV, CUDNN_RESNET_BF16, ...),
// set for a test or a file and restored afterwards.
import { afterAll, beforeAll } from 'vitest';

function restore(name: string, before: string | undefined): void {
  if (before === undefined) delete process.env[name];
  else process.env[name] = before;
}

/** Runs fn with `name` set to value (unset when value is undefined), then restores it; returns fn's result. */
export function withEnv<T>(name: string, value: string | undefined, fn: () => T): T {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return fn();
  } finally {
    restore(name, before);
  }
}

/** Sets `name` to value for the tests of the enclosing describe block (or file), restoring it after them. */
export function envDuring(name: string, value: string): void {
  let before: string | undefined;
  beforeAll(() => {
    before = process.env[name];
    process.env[name] = value;
  });
  afterAll(() => restore(name, before));
}
