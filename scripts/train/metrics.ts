/**
 * Held-out metrics from predictions already read back from the model, computed by the evaluate
 * service's own accumulators (lib/ops/evaluate): evaluating a model on its held-out data set
 * through the API gives the numbers its manifest records (scikit-learn's definitions: log loss
 * clipped at the float64 epsilon, ROC AUC by the trapezoidal rule, binary precision, recall and
 * F1 of the positive class). Only the manifest's headline names are kept.
 */
import { ClassificationAccumulator } from '../../lib/ops/evaluate/classification.js';
import { RegressionAccumulator } from '../../lib/ops/evaluate/regression.js';

/** Multi-class: `probabilities` are softmax rows, `labels` class indices into `classNames`. */
export function classificationMetrics(probabilities: number[][], labels: number[], classNames: string[]): Record<string, number> {
  const accumulator = new ClassificationAccumulator(classNames);
  accumulator.add(labels, probabilities);
  const { accuracy, logLoss } = accumulator.report();
  return { accuracy, logLoss };
}

/** Binary: `scores` are P(positive), labels 0/1, decision threshold 0.5. */
export function binaryMetrics(scores: number[], labels: number[], classNames: string[]): Record<string, number> {
  const accumulator = new ClassificationAccumulator(classNames, { binary: true });
  // As the evaluate service reads a one-unit sigmoid output: [P(negative), P(positive)].
  accumulator.add(
    labels,
    scores.map((score) => [1 - score, score]),
  );
  const report = accumulator.report();
  if (report.rocAuc === undefined) throw new Error(report.rocAucError ?? 'ROC AUC is undefined');
  const { precision, recall, f1 } = report.perClass[1];
  return { accuracy: report.accuracy, logLoss: report.logLoss, auc: report.rocAuc, precision, recall, f1 };
}

export function regressionMetrics(predictions: number[], targets: number[]): Record<string, number> {
  const accumulator = new RegressionAccumulator();
  accumulator.add(targets, predictions);
  const { mse, rmse, mae, r2, r2Error } = accumulator.report();
  if (r2 === undefined) throw new Error(r2Error);
  return { mse, rmse, mae, r2 };
}

/** Rounds every value for the manifest: the test splits are far too small for more digits to mean anything. */
export function rounded(metrics: Record<string, number>, decimals = 6): Record<string, number> {
  const scale = 10 ** decimals;
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, Math.round(v * scale) / scale]));
}
