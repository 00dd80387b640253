// A progress bar for training epochs (cli-progress) on a terminal, and plain periodic lines
// when the output is not a terminal (logs, CI).
import { SingleBar, Presets } from 'cli-progress';

export interface ProgressValues {
  loss: number;
  error: number;
  imagesPerSecond: number;
  lr: number;
}

/** A learning rate in three digits: 0.100, 0.00100, then 1.00e-5 below 1e-3. */
export function formatRate(lr: number): string {
  if (lr === 0) return '0';
  return lr >= 1e-3 ? lr.toPrecision(3) : lr.toExponential(2);
}

export class EpochProgress {
  readonly #bar: SingleBar | null;
  #lastLine = 0;

  /**
   * enabled = false prints nothing; otherwise a bar on a terminal, a line every 5 s elsewhere.
   * total: the steps this epoch will really run; start: those already done (a resumed epoch).
   */
  constructor(readonly label: string, readonly total: number, readonly stream: NodeJS.WriteStream = process.stderr,
    readonly enabled = true, start = 0) {
    this.#bar = enabled && stream.isTTY
      ? new SingleBar({
          format: `${label} {bar} {value}/{total} | loss {loss} | err {error}% | {ips} img/s | lr {lr} | eta {eta_formatted}`,
          stream,
          hideCursor: true,
          clearOnComplete: false,
        }, Presets.shades_classic)
      : null;
    this.#bar?.start(total, start, { loss: '-', error: '-', ips: '-', lr: '-' });
  }

  update(done: number, v: ProgressValues): void {
    const payload = { loss: v.loss.toFixed(4), error: v.error.toFixed(2), ips: v.imagesPerSecond.toFixed(1), lr: formatRate(v.lr) };
    if (this.#bar) {
      this.#bar.update(done, payload);
      return;
    }
    if (!this.enabled) return;
    const now = Date.now();
    if (done === this.total || now - this.#lastLine > 5000) {
      this.#lastLine = now;
      this.stream.write(`${this.label} ${done}/${this.total} loss ${payload.loss} err ${payload.error}% ${payload.ips} img/s lr ${payload.lr}\n`);
    }
  }

  stop(): void {
    this.#bar?.stop();
  }
}
