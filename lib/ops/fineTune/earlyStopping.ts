/**
 * Early stopping decided as TF.js's tf.callbacks.earlyStopping decides it (tfjs-layers'
 * callbacks.ts, after Keras): an epoch improves when the monitored value beats the best so far by
 * more than minDelta (the best starts at the baseline, if given); after `patience` epochs in a row
 * without improvement training stops, so patience 0 and 1 both stop at the first. Training here
 * fits one epoch at a time (a seeded shuffle per epoch), and TF.js's callback restarts with every
 * fit, so its state is kept here instead; test/unit/earlyStopping.test.ts runs both on the same logs.
 */
import type { FineTuneConfig } from './request.js';

export class EarlyStopping {
  private readonly higherIsBetter: boolean;
  private best: number;
  private wait = 0;

  constructor(private readonly config: NonNullable<FineTuneConfig['earlyStopping']>) {
    // TF.js's 'auto' mode: a monitor named for accuracy should rise, any other fall.
    this.higherIsBetter = config.monitor.includes('acc');
    this.best = config.baseline ?? (this.higherIsBetter ? -Infinity : Infinity);
  }

  /** After an epoch, with its logs: whether to stop. An epoch without the monitored value counts for nothing (as in TF.js). */
  shouldStop(logs: Record<string, number>): boolean {
    const current = logs[this.config.monitor];
    if (current === undefined || current === null) return false;
    const { minDelta, patience } = this.config;
    const improved = this.higherIsBetter ? current - minDelta > this.best : current + minDelta < this.best;
    if (improved) {
      this.best = current;
      this.wait = 0;
      return false;
    }
    this.wait += 1;
    return this.wait >= patience;
  }
}
