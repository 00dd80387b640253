// What a run remembers of its test evaluations: the best top-1 error so far (for --save-best)
// and how many evaluations have passed without improving on it (for --patience). Kept in the
// checkpoint, so that a resumed run stops where the uninterrupted one would.
export interface BestState {
  top1Error: number;
  loss: number;
  epoch: number;
  iteration: number;
  /** Evaluations since the best one (0 right after it). */
  evaluationsSinceBest: number;
}

export class TestTracker {
  best: BestState | null = null;

  /** patience: stop after this many evaluations without a lower top-1 error (undefined: never). */
  constructor(readonly patience?: number) {
    if (patience !== undefined && (!Number.isInteger(patience) || patience < 1)) {
      throw new RangeError(`train: patience must be a positive integer (evaluations without improvement), got ${patience}`);
    }
  }

  /** Notes an evaluation; improved: it is the best so far; stop: patience is spent. */
  observe(r: { top1Error: number; loss: number; epoch: number; iteration: number }): { improved: boolean; stop: boolean } {
    const improved = this.best === null || r.top1Error < this.best.top1Error;
    if (improved) this.best = { top1Error: r.top1Error, loss: r.loss, epoch: r.epoch, iteration: r.iteration, evaluationsSinceBest: 0 };
    else this.best!.evaluationsSinceBest++;
    return { improved, stop: this.patience !== undefined && this.best!.evaluationsSinceBest >= this.patience };
  }
}
