// The eval command's confusion matrix: counts by (true, predicted) with the top-1 rule (arg max,
// ties to the lower index), per-class accuracy, the text table, the SVG chart, bad input.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

describe('ConfusionMatrix', () => {
  it('counts (true, predicted) pairs, ties to the lower class, and agrees with the top-1 error', () => {
    const m = new rn.train.ConfusionMatrix(3);
    const logits = rn.tensor([
      [5, 1, 0],   // true 0 -> 0
      [0, 2, 2],   // true 1 -> 1 (tie with 2: the lower index)
      [1, 0, 3],   // true 1 -> 2
      [0, 9, 1],   // true 2 -> 1
      [0, 0, 4],   // true 2 -> 2
    ]);
    const labels = rn.tensor([0, 1, 1, 2, 2], [5], { dtype: 'int64' });
    m.add(logits, labels);
    expect(Array.from(m.counts)).toEqual([1, 0, 0, 0, 1, 1, 0, 1, 1]);
    expect(m.images).toBe(5);
    const [top1Errors] = rn.train.topKErrors(logits, labels, [1]);
    const diagonal = m.counts[0]! + m.counts[4]! + m.counts[8]!;
    expect(5 - diagonal).toBe(top1Errors);
    expect(m.perClass(['cat', 'dog', 'fox']).map((c) => [c.name, c.images, c.correct, c.accuracy])).toEqual([
      ['cat', 1, 1, 100], ['dog', 2, 1, 50], ['fox', 2, 1, 50]]);
    const text = m.format(['cat', 'dog', 'fox']);
    expect(text).toMatch(/^class\s+images\s+correct\s+accuracy\n/);
    expect(text).toMatch(/dog\s+2\s+1\s+50\.00%/);
    expect(text).toMatch(/confusion matrix \(rows: true class, columns: predicted\)\n\s+0\s+1\s+2\ncat\s+1\s+0\s+0\ndog\s+0\s+1\s+1\nfox\s+0\s+1\s+1$/);
    logits.dispose();
    labels.dispose();
  });

  it('draws an SVG heat map; rejects wrong shapes and labels', async () => {
    const m = new rn.train.ConfusionMatrix(2);
    m.addValues(new Float32Array([1, 0, 0, 1, 1, 0]), [0, 1, 1]);
    const svg = await rn.train.confusionChartSvg(m, 'test', ['yes', 'no']);
    expect(svg).toMatch(/^<svg[\s\S]*yes[\s\S]*no[\s\S]*<\/svg>$/);
    expect(() => m.add(rn.zeros([2, 3]), rn.zeros([2], { dtype: 'int64' }))).toThrow(/logits must be \(N, 2\)/);
    expect(() => m.addValues(new Float32Array([0, 1]), [2])).toThrow(/label 2 is outside \[0, 2\)/);
    expect(() => new rn.train.ConfusionMatrix(0)).toThrow(RangeError);
    expect(m.perClass()[0]!.name).toBe('0');
  });
});
