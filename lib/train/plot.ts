// SVG charts of training and test error against iterations, rendered with Vega-Lite in Node.
import { writeFileSync } from 'node:fs';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

export interface ErrorPoint {
  /** Which run the point belongs to (a model name in comparisons). */
  run: string;
  split: 'train' | 'test';
  iteration: number;
  /** Top-1 error in percent. */
  error: number;
}

/** Renders the error curves (solid: test, dashed: train; one colour per run) to an SVG string. */
export async function errorChartSvg(points: ErrorPoint[], title: string): Promise<string> {
  const spec: vegaLite.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 640,
    height: 360,
    background: 'white',
    data: { values: points },
    mark: { type: 'line', strokeWidth: 1.5, point: { size: 18 } },
    encoding: {
      x: { field: 'iteration', type: 'quantitative', title: 'iteration' },
      y: { field: 'error', type: 'quantitative', title: 'top-1 error (%)', scale: { zero: true } },
      color: { field: 'run', type: 'nominal', title: 'model' },
      strokeDash: {
        field: 'split',
        type: 'nominal',
        title: 'set',
        scale: { domain: ['train', 'test'], range: [[4, 3], [1, 0]] },
      },
      detail: { field: 'split' },
    },
  };
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function writeErrorChart(path: string, points: ErrorPoint[], title: string): Promise<void> {
  writeFileSync(path, await errorChartSvg(points, title));
}
