// Rng: the seedable generator behind shuffles, augmentation and the synthetic dataset.
// xoshiro128** on four 32-bit words, seeded through murmur3's finaliser so that nearby seeds and
// streams give unrelated sequences. Same (seed, stream), same numbers, on every machine.

const GOLDEN = 0x9e3779b9;
const TWO_32 = 2 ** 32;

/** murmur3's 32-bit finaliser: a bijection that mixes every input bit into every output bit. */
function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function checkSeedPart(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`Rng: ${name} must be an integer, got ${String(v)}`);
  if (v < 0) throw new RangeError(`Rng: ${name} must be non-negative, got ${v}`);
  return v;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * A generator for `seed` (an integer in [0, 2^53)). `stream` (same range, default 0) picks one
   * of many independent sequences for the same seed: the loader uses the epoch, the synthetic
   * dataset the image index.
   */
  constructor(seed: number, stream = 0) {
    checkSeedPart('seed', seed);
    checkSeedPart('stream', stream);
    let h = fmix32(Math.floor(seed / TWO_32) ^ 0x6a09e667);
    h = fmix32(h ^ (seed >>> 0));
    h = fmix32(h ^ Math.floor(stream / TWO_32) ^ 0xbb67ae85);
    h = fmix32(h ^ (stream >>> 0));
    // Four distinct inputs to a bijection: at most one word is zero, so the state never is.
    this.s0 = fmix32(h);
    this.s1 = fmix32(h + GOLDEN);
    this.s2 = fmix32(h + 2 * GOLDEN);
    this.s3 = fmix32(h + 3 * GOLDEN);
  }

  /** The next 32-bit unsigned integer. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 32 random bits. */
  next(): number {
    return this.uint32() / TWO_32;
  }

  /** A uniform integer in [0, n), without modulo bias; n is an integer in [1, 2^32]. */
  int(n: number): number {
    if (typeof n !== 'number' || !Number.isInteger(n)) throw new TypeError(`Rng.int: n must be an integer, got ${String(n)}`);
    if (n < 1 || n > TWO_32) throw new RangeError(`Rng.int: n must be in [1, 2^32], got ${n}`);
    const limit = TWO_32 - (TWO_32 % n);
    let u = this.uint32();
    while (u >= limit) u = this.uint32();
    return u % n;
  }

  /** A uniform random permutation of 0 .. n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new RangeError(`Rng.permutation: n must be a non-negative integer, got ${String(n)}`);
    }
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i]!;
      out[i] = out[j]!;
      out[j] = tmp;
    }
    return out;
  }
}
