/**
 * Streaming regression metrics equal to scikit-learn's mean_squared_error, root_mean_squared_error,
 * mean_absolute_error, r2_score (force_finite: 1 for a perfect fit of constant targets, else 0;
 * undefined for one row) and max_error. R² needs the variance of the targets: kept with Welford's update, so one pass
 * over any number of rows is numerically stable.
 */
import { BadRequestError } from '../../errors.js';

export interface RegressionReport {
  count: number;
  mse: number;
  rmse: number;
  mae: number;
  /** Absent for a single row, where scikit-learn's r2_score answers NaN ("not well-defined with less than two samples"); r2Error says so. */
  r2?: number;
  r2Error?: string;
  maxError: number;
}

export class RegressionAccumulator {
  private count = 0;
  private squaredErrorSum = 0;
  private absoluteErrorSum = 0;
  private maxError = 0;
  private mean = 0;
  /** Sum of squared deviations of the targets from their running mean. */
  private m2 = 0;

  add(targets: number[], predictions: number[]): void {
    targets.forEach((y, i) => {
      const error = y - predictions[i];
      this.squaredErrorSum += error * error;
      this.absoluteErrorSum += Math.abs(error);
      this.maxError = Math.max(this.maxError, Math.abs(error));
      this.count += 1;
      const delta = y - this.mean;
      this.mean += delta / this.count;
      this.m2 += delta * (y - this.mean);
    });
  }

  report(): RegressionReport {
    if (this.count === 0) throw new BadRequestError('no rows to evaluate');
    const mse = this.squaredErrorSum / this.count;
    // One row is a constant target, which force_finite would score 0 or 1; r2_score checks the count first.
    const fit =
      this.count < 2
        ? { r2Error: 'R² is undefined for a single row (it compares the errors with the spread of the targets)' }
        : { r2: this.m2 === 0 ? (this.squaredErrorSum === 0 ? 1 : 0) : 1 - this.squaredErrorSum / this.m2 };
    return { count: this.count, mse, rmse: Math.sqrt(mse), mae: this.absoluteErrorSum / this.count, ...fit, maxError: this.maxError };
  }
}
