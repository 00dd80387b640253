// The seedable generator behind rand / randn / shuffles: a 64-bit splitmix state. Each random
// op draws one 64-bit seed from it and the native fill is counter-based, so results depend only
// on the seed sequence, never on the thread count.
const MASK = (1n << 64n) - 1n;
let state = BigInt(Date.now()) & MASK;

function splitmix(x: bigint): bigint {
  let z = (x + 0x9e3779b97f4a7c15n) & MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

/** Seeds the global generator (an integer or bigint); the same seed gives the same tensors. */
export function manualSeed(seed: number | bigint): void {
  if (typeof seed === 'number' && !Number.isInteger(seed)) throw new TypeError(`manualSeed: seed must be an integer, got ${seed}`);
  if (typeof seed !== 'number' && typeof seed !== 'bigint') throw new TypeError(`manualSeed: seed must be an integer or bigint`);
  state = BigInt(seed) & MASK;
}

/** Draws the next 64-bit seed. */
export function nextSeed(): bigint {
  state = (state + 0x9e3779b97f4a7c15n) & MASK;
  return splitmix(state);
}
