// Plain-loop reference implementations in float64, written from the definitions, used to
// check the native kernels' forward passes.
export type Arr = ArrayLike<number>;

export interface ConvRef {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

/** x: (N, C, H, W), w: (O, C/g, kH, kW), b: (O) -> (N, O, Ho, Wo) */
export function conv2dRef(x: Arr, xs: number[], w: Arr, ws: number[], b: Arr | null, p: ConvRef): { y: Float64Array; shape: number[] } {
  const [n, c, h, wd] = xs as [number, number, number, number];
  const [o, cg, kh, kw] = ws as [number, number, number, number];
  const ho = Math.floor((h + 2 * p.padding[0] - p.dilation[0] * (kh - 1) - 1) / p.stride[0]) + 1;
  const wo = Math.floor((wd + 2 * p.padding[1] - p.dilation[1] * (kw - 1) - 1) / p.stride[1]) + 1;
  const y = new Float64Array(n * o * ho * wo);
  const og = o / p.groups;
  for (let ni = 0; ni < n; ni++)
    for (let oi = 0; oi < o; oi++) {
      const g = Math.floor(oi / og);
      for (let i = 0; i < ho; i++)
        for (let j = 0; j < wo; j++) {
          let acc = b ? b[oi]! : 0;
          for (let ci = 0; ci < cg; ci++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const hi = i * p.stride[0] - p.padding[0] + u * p.dilation[0];
                const wi = j * p.stride[1] - p.padding[1] + v * p.dilation[1];
                if (hi < 0 || hi >= h || wi < 0 || wi >= wd) continue;
                acc += x[((ni * c + g * cg + ci) * h + hi) * wd + wi]! * w[((oi * cg + ci) * kh + u) * kw + v]!;
              }
          y[((ni * o + oi) * ho + i) * wo + j] = acc;
        }
    }
  return { y, shape: [n, o, ho, wo] };
}

/** Per-channel mean and biased variance of x: (N, C, ...) */
export function channelStats(x: Arr, shape: number[]): { mean: Float64Array; variance: Float64Array; count: number } {
  const [n, c] = shape as [number, number];
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  const mean = new Float64Array(c), variance = new Float64Array(c);
  for (let ci = 0; ci < c; ci++) {
    let s = 0;
    for (let ni = 0; ni < n; ni++) for (let k = 0; k < inner; k++) s += x[(ni * c + ci) * inner + k]!;
    mean[ci] = s / (n * inner);
    let v = 0;
    for (let ni = 0; ni < n; ni++) for (let k = 0; k < inner; k++) v += (x[(ni * c + ci) * inner + k]! - mean[ci]!) ** 2;
    variance[ci] = v / (n * inner);
  }
  return { mean, variance, count: n * inner };
}

export function maxAbsDiff(a: Arr, b: Arr): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** ‖a − b‖ / ‖b‖ */
export function relativeError(a: Arr, b: Arr): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}
