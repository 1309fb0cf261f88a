/**
 * ROC AUC as scikit-learn's roc_auc_score computes it: the trapezoidal area under the ROC curve
 * built from distinct score thresholds (tied scores form one step, i.e. count half), and the curve
 * itself for the HTML report.
 */
export interface RocPoint {
  fpr: number;
  tpr: number;
}

/** (fpr, tpr) at every distinct threshold, from (0, 0) to (1, 1). */
export function rocCurve(positives: number[], scores: number[]): RocPoint[] {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const totalPositive = positives.reduce((a, b) => a + b, 0);
  const totalNegative = positives.length - totalPositive;
  const points: RocPoint[] = [{ fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < order.length; i += 1) {
    if (positives[order[i]] === 1) tp += 1;
    else fp += 1;
    const lastOfTie = i === order.length - 1 || scores[order[i + 1]] !== scores[order[i]];
    if (lastOfTie) points.push({ fpr: fp / totalNegative, tpr: tp / totalPositive });
  }
  return points;
}

export function rocAuc(positives: number[], scores: number[]): number {
  const curve = rocCurve(positives, scores);
  let area = 0;
  for (let i = 1; i < curve.length; i += 1) area += ((curve[i].fpr - curve[i - 1].fpr) * (curve[i].tpr + curve[i - 1].tpr)) / 2;
  return area;
}

/** At most `limit` points of a curve, always keeping both ends (for drawing, not for the AUC). */
export function thinCurve(points: RocPoint[], limit = 200): RocPoint[] {
  if (points.length <= limit) return points;
  const step = (points.length - 1) / (limit - 1);
  return Array.from({ length: limit }, (_, i) => points[Math.round(i * step)]);
}
