/**
 * ROC AUC as scikit-learn's roc_auc_score computes it: the trapezoidal area under the ROC curve
 * built from distinct score thresholds (tied scores form one step, i.e. count half), and the curve
 * itself for the HTML report.
 */
export interface RocPoint {
  fpr: number;
  tpr: number;
}

/** (fpr, tpr) at every distinct threshold, from (0, 0) to (1, 1). positives: 1 for a positive row, else 0. */
export function rocCurve(positives: ArrayLike<number>, scores: ArrayLike<number>): RocPoint[] {
  return rocOneVsRest(positives, 1, scores).points;
}

export function rocAuc(positives: ArrayLike<number>, scores: ArrayLike<number>): number {
  return rocOneVsRest(positives, 1, scores).auc;
}

/**
 * The scores of the positive and of the negative rows apart, each sorted ascending (numeric sort
 * of typed arrays: no index array, no comparator). NaN sorts last; -0 before 0, equal below.
 */
function split(truth: ArrayLike<number>, positive: number, scores: ArrayLike<number>): { pos: Float64Array; neg: Float64Array } {
  let positives = 0;
  for (let i = 0; i < truth.length; i += 1) if (truth[i] === positive) positives += 1;
  const pos = new Float64Array(positives);
  const neg = new Float64Array(truth.length - positives);
  for (let i = 0, p = 0, n = 0; i < truth.length; i += 1) {
    if (truth[i] === positive) pos[p++] = scores[i];
    else neg[n++] = scores[i];
  }
  return { pos: pos.sort(), neg: neg.sort() };
}

/**
 * Walks both sorted sides together from the highest score down and calls `step` with the true and
 * false positive counts at each distinct score (one threshold; every score equal to it, on either
 * side, steps together), exactly as sorting all rows by score and closing a step at the last row
 * of each run of ties. NaN scores form one threshold above all. Returns the number of thresholds.
 */
function walk(pos: Float64Array, neg: Float64Array, step?: (tp: number, fp: number) => void): number {
  let i = pos.length - 1;
  let j = neg.length - 1;
  let tp = 0;
  let fp = 0;
  let thresholds = 0;
  while (i >= 0 || j >= 0) {
    const a = i >= 0 ? pos[i] : Number.NaN;
    const b = j >= 0 ? neg[j] : Number.NaN;
    if ((i >= 0 && Number.isNaN(a)) || (j >= 0 && Number.isNaN(b))) {
      for (; i >= 0 && Number.isNaN(pos[i]); i -= 1) tp += 1;
      for (; j >= 0 && Number.isNaN(neg[j]); j -= 1) fp += 1;
    } else {
      const t = i < 0 ? b : j < 0 ? a : Math.max(a, b);
      for (; i >= 0 && pos[i] === t; i -= 1) tp += 1;
      for (; j >= 0 && neg[j] === t; j -= 1) fp += 1;
    }
    thresholds += 1;
    step?.(tp, fp);
  }
  return thresholds;
}

/**
 * ROC of class `positive` against all the others (rows whose truth is another class): its AUC,
 * over every threshold, and its curve, every point or, with `limit`, the points thinCurve(curve,
 * limit) would keep, without ever holding the whole curve (one point per distinct score: up to one
 * per row).
 */
export function rocOneVsRest(truth: ArrayLike<number>, positive: number, scores: ArrayLike<number>, limit?: number): { auc: number; points: RocPoint[] } {
  const { pos, neg } = split(truth, positive, scores);
  const length = limit === undefined ? 0 : 1 + walk(pos, neg);
  const keep = limit !== undefined && length > limit ? thinnedIndices(length, limit) : undefined;
  const points: RocPoint[] = [{ fpr: 0, tpr: 0 }];
  let area = 0;
  let previous = points[0];
  let index = 0;
  let next = 1; // keep[0] is the origin
  walk(pos, neg, (tp, fp) => {
    const point = { fpr: fp / neg.length, tpr: tp / pos.length };
    area += ((point.fpr - previous.fpr) * (point.tpr + previous.tpr)) / 2;
    previous = point;
    index += 1;
    if (keep === undefined) points.push(point);
    else if (keep[next] === index) {
      points.push(point);
      next += 1;
    }
  });
  return { auc: area, points };
}

/** ROC curves drawn in reports keep at most this many points. */
export const CURVE_POINTS = 200;

function thinnedIndices(length: number, limit: number): number[] {
  const step = (length - 1) / (limit - 1);
  return Array.from({ length: limit }, (_, i) => Math.round(i * step));
}

/** At most `limit` points of a curve, always keeping both ends (for drawing, not for the AUC). */
export function thinCurve(points: RocPoint[], limit = CURVE_POINTS): RocPoint[] {
  if (points.length <= limit) return points;
  return thinnedIndices(points.length, limit).map((i) => points[i]);
}
