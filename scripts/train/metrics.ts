/** Held-out metrics computed in plain JS from predictions already read back from the model. */

/** Probabilities are clipped before log, as Keras and scikit-learn do, so one confident miss is finite. */
const EPSILON = 1e-7;

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function argMax(row: number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i += 1) if (row[i] > row[best]) best = i;
  return best;
}

/** Multi-class: `probabilities` are softmax rows, `labels` class indices. */
export function classificationMetrics(probabilities: number[][], labels: number[]): Record<string, number> {
  const correct = probabilities.filter((row, i) => argMax(row) === labels[i]).length;
  const logLoss = mean(probabilities.map((row, i) => -Math.log(Math.min(1 - EPSILON, Math.max(EPSILON, row[labels[i]])))));
  return { accuracy: correct / labels.length, logLoss };
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random
 * negative (ties count half), from the rank sum (Mann-Whitney U).
 */
export function auc(scores: number[], labels: number[]): number {
  const order = scores.map((score, i) => ({ score, label: labels[i] })).sort((a, b) => a.score - b.score);
  let rankSumPositive = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end < order.length && order[end].score === order[start].score) end += 1;
    const averageRank = (start + 1 + end) / 2; // ranks start..end-1, 1-based, share their mean
    for (let i = start; i < end; i += 1) if (order[i].label === 1) rankSumPositive += averageRank;
    start = end;
  }
  const positives = labels.filter((l) => l === 1).length;
  const negatives = labels.length - positives;
  return (rankSumPositive - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Binary: `scores` are P(positive), labels 0/1, decision threshold 0.5. */
export function binaryMetrics(scores: number[], labels: number[]): Record<string, number> {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  scores.forEach((score, i) => {
    const predicted = score >= 0.5 ? 1 : 0;
    if (predicted === 1 && labels[i] === 1) tp += 1;
    else if (predicted === 1) fp += 1;
    else if (labels[i] === 1) fn += 1;
    else tn += 1;
  });
  const logLoss = mean(
    scores.map((score, i) => {
      const p = Math.min(1 - EPSILON, Math.max(EPSILON, score));
      return labels[i] === 1 ? -Math.log(p) : -Math.log(1 - p);
    }),
  );
  const precision = tp / Math.max(1, tp + fp);
  const recall = tp / Math.max(1, tp + fn);
  return {
    accuracy: (tp + tn) / labels.length,
    logLoss,
    auc: auc(scores, labels),
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
  };
}

export function regressionMetrics(predictions: number[], targets: number[]): Record<string, number> {
  const errors = predictions.map((p, i) => p - targets[i]);
  const mse = mean(errors.map((e) => e * e));
  const targetMean = mean(targets);
  const totalVariance = mean(targets.map((t) => (t - targetMean) ** 2));
  return { mse, rmse: Math.sqrt(mse), mae: mean(errors.map(Math.abs)), r2: 1 - mse / totalVariance };
}

/** Rounds every value for the manifest: the test splits are far too small for more digits to mean anything. */
export function rounded(metrics: Record<string, number>, decimals = 6): Record<string, number> {
  const scale = 10 ** decimals;
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, Math.round(v * scale) / scale]));
}
