// The confusion matrix as an SVG heat map (rows: true class, columns: predicted; each row
// normalised to the share of that class's images), rendered with Vega-Lite like the error charts.
import { writeFileSync } from 'node:fs';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { ConfusionMatrix } from './confusion.js';

export async function confusionChartSvg(matrix: ConfusionMatrix, title: string, classNames?: readonly string[]): Promise<string> {
  const c = matrix.numClasses;
  const names = Array.from({ length: c }, (_, i) => classNames?.[i] ?? String(i));
  const cells = [];
  for (let t = 0; t < c; t++) {
    let rowTotal = 0;
    for (let p = 0; p < c; p++) rowTotal += matrix.counts[t * c + p]!;
    for (let p = 0; p < c; p++) {
      const count = matrix.counts[t * c + p]!;
      cells.push({ actual: names[t], predicted: names[p], count, share: rowTotal ? count / rowTotal : 0 });
    }
  }
  const side = Math.min(640, Math.max(160, 28 * c));
  const spec: vegaLite.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: side,
    height: side,
    background: 'white',
    data: { values: cells },
    layer: [
      {
        mark: { type: 'rect' },
        encoding: {
          x: { field: 'predicted', type: 'nominal', sort: names, title: 'predicted class' },
          y: { field: 'actual', type: 'nominal', sort: names, title: 'true class' },
          color: { field: 'share', type: 'quantitative', title: 'share of the class', scale: { domain: [0, 1], scheme: 'blues' } },
        },
      },
      ...(c <= 20 ? [{
        mark: { type: 'text' as const, fontSize: 10 },
        encoding: {
          x: { field: 'predicted', type: 'nominal' as const, sort: names },
          y: { field: 'actual', type: 'nominal' as const, sort: names },
          text: { field: 'count', type: 'quantitative' as const },
          color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: 'black' },
        },
      }] : []),
    ],
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function writeConfusionChart(path: string, matrix: ConfusionMatrix, title: string, classNames?: readonly string[]): Promise<void> {
  writeFileSync(path, await confusionChartSvg(matrix, title, classNames));
}
