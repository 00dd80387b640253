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

/**
 * Renders the error curves to an SVG string: one colour per run, train dashed and test solid (the
 * legend draws the two dash styles), each test evaluation marked with a filled dot so that a few
 * evaluations stay visible beside the many train records.
 */
export async function errorChartSvg(points: ErrorPoint[], title: string): Promise<string> {
  const color = { field: 'run', type: 'nominal', title: 'model' } as const;
  const spec: vegaLite.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 640,
    height: 360,
    background: 'white',
    data: { values: points },
    encoding: {
      x: { field: 'iteration', type: 'quantitative', title: 'iteration' },
      y: { field: 'error', type: 'quantitative', title: 'top-1 error (%)', scale: { zero: true } },
      color,
    },
    layer: [
      {
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          strokeDash: {
            field: 'split',
            type: 'nominal',
            title: 'set',
            scale: { domain: ['train', 'test'], range: [[4, 3], [1, 0]] },
            legend: { symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 400, symbolStrokeColor: '#444' },
          },
          detail: { field: 'split' },
        },
      },
      {
        transform: [{ filter: "datum.split === 'test'" }],
        mark: { type: 'point', filled: true, size: 60, opacity: 1 },
        encoding: { color },
      },
    ],
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
