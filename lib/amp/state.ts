// The autocast state shared by the ops (no imports, so every op can read it).
export type LowPrecision = 'bfloat16' | 'float16';

const stack: (LowPrecision | null)[] = [];

/** The dtype conv2d / linear / matmul compute in now, or null outside autocast. */
export function autocastDType(): LowPrecision | null {
  return stack.length > 0 ? stack[stack.length - 1]! : null;
}
export function pushAutocast(dtype: LowPrecision | null): void {
  stack.push(dtype);
}
export function popAutocast(): void {
  stack.pop();
}
