// The ten procedural classes of the synthetic dataset. Each image is a class-specific mask
// (stripes at four orientations, disc, ring, square, cross, checkerboard, triangle) with
// jittered position, size, angle and period, painted in a random foreground colour over a
// random background colour, plus uniform noise of random strength. Colour is no cue to the
// class; low-contrast, noisy samples make some images hard.
import type { Rng } from './rng.js';

export const SIZE = 32;
export const CLASS_NAMES = [
  'horizontal stripes', 'vertical stripes', 'diagonal stripes', 'anti-diagonal stripes',
  'disc', 'ring', 'square', 'cross', 'checkerboard', 'triangle',
];

const DEG = Math.PI / 180;
const PLANE = SIZE * SIZE;

function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next();
}

/**
 * Fills `mask` (32x32, values in [0, 1]) with the class's pattern, evaluated at each pixel's
 * pattern coordinates (u, v): u along the pattern's rotated x axis, v down, origin at the
 * jittered centre.
 */
function fillMask(label: number, rng: Rng, mask: Float32Array): void {
  const tilt = uniform(rng, -20, 20) * DEG;
  const s = uniform(rng, 6, 11);        // shape half-size in pixels
  const cx = SIZE / 2 + uniform(rng, -5, 5);
  const cy = SIZE / 2 + uniform(rng, -5, 5);
  const stripeAngle = [0, 90, 45, 135][label];
  const angle = stripeAngle !== undefined ? (stripeAngle + uniform(rng, -15, 15)) * DEG : label === 4 || label === 5 ? 0 : tilt;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  // Class parameters; each class uses its own.
  const k = (2 * Math.PI) / uniform(rng, 4, 9);          // stripe frequency
  const phase = uniform(rng, 0, 2 * Math.PI);
  const ringHalfWidth = uniform(rng, 1, 2);
  const arm = uniform(rng, 1.5, 3);                     // cross arm half-width
  const checkK = (2 * Math.PI) / uniform(rng, 6, 12);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const px = x + 0.5 - cx;
      const py = y + 0.5 - cy;
      const u = cos * px + sin * py;
      const v = -sin * px + cos * py;
      const au = Math.abs(u);
      const av = Math.abs(v);
      let m: number;
      switch (label) {
        case 0: case 1: case 2: case 3: m = 0.5 + 0.5 * Math.sin(k * v + phase); break;
        case 4: m = u * u + v * v <= s * s ? 1 : 0; break;
        case 5: m = Math.abs(Math.sqrt(u * u + v * v) - s) <= ringHalfWidth ? 1 : 0; break;
        case 6: m = Math.max(au, av) <= s * 0.85 ? 1 : 0; break;
        case 7: m = (au <= arm && av <= s) || (av <= arm && au <= s) ? 1 : 0; break;
        case 8: m = Math.sin(checkK * u) * Math.sin(checkK * v) > 0 ? 1 : 0; break;
        default: m = v >= -s && v <= s * 0.7 && au <= (v + s) * 0.6 ? 1 : 0;
      }
      mask[y * SIZE + x] = m;
    }
  }
}

/** A random colour at least `minDistance` (sum of channel differences) from `other`. */
function contrastingColour(rng: Rng, other: number[], minDistance: number): number[] {
  for (;;) {
    const colour = [rng.int(256), rng.int(256), rng.int(256)];
    if (colour.reduce((d, v, c) => d + Math.abs(v - other[c]!), 0) >= minDistance) return colour;
  }
}

const mask = new Float32Array(PLANE);

/** Rounds and clamps to [0, 255]. */
function toByte(value: number): number {
  return value <= 0 ? 0 : value >= 255 ? 255 : Math.floor(value + 0.5);
}

/** Draws one 3x32x32 image of class `label` into `out` at `offset` (CHW order). */
export function drawPattern(label: number, rng: Rng, out: Uint8Array, offset: number): void {
  fillMask(label, rng, mask);
  const background = [rng.int(256), rng.int(256), rng.int(256)];
  const foreground = contrastingColour(rng, background, 120);
  const noise = uniform(rng, 10, 45);
  // Pixel noise from xorshift32 seeded by rng, inline for speed: one 32-bit draw per pixel gives
  // 10 bits of noise to each channel.
  const [bg0, bg1, bg2] = background as [number, number, number];
  const [fg0, fg1, fg2] = foreground as [number, number, number];
  const amplitude = noise / 512;
  let state = rng.uint32() | 1;
  for (let p = 0; p < PLANE; p++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const m = mask[p]!;
    out[offset + p] = toByte(bg0 + (fg0 - bg0) * m + amplitude * ((state & 1023) - 512));
    out[offset + PLANE + p] = toByte(bg1 + (fg1 - bg1) * m + amplitude * (((state >>> 10) & 1023) - 512));
    out[offset + 2 * PLANE + p] = toByte(bg2 + (fg2 - bg2) * m + amplitude * (((state >>> 20) & 1023) - 512));
  }
}
