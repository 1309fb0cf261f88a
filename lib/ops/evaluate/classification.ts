/**
 * Streaming classification metrics, computed exactly as scikit-learn computes them
 * (accuracy_score, precision_recall_fscore_support with zero_division=0, confusion_matrix,
 * log_loss, roc_auc_score, top_k_accuracy_score). Rows are added in chunks; only the confusion
 * matrix, a few sums and the scores needed for ROC AUC are kept: in typed arrays (4 bytes a row a
 * class while the scores are float32 values, as model outputs are; 8 once one is not), plus the
 * truth (1 byte a row up to 256 classes).
 */
import { BadRequestError } from '../../errors.js';
import { isPositive } from '../../protocol/answers.js';
import { rocOneVsRest, type RocPoint } from './roc.js';

interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  count: number;
  accuracy: number;
  perClass: ClassMetrics[];
  macro: { precision: number; recall: number; f1: number };
  weighted: { precision: number; recall: number; f1: number };
  /** Rows: true class; columns: predicted class (scikit-learn's convention). */
  confusionMatrix: number[][];
  logLoss: number;
  /** Two classes: the second (positive) class's AUC; more: one-vs-rest, macro average. */
  rocAuc?: number;
  rocAucError?: string;
  topK?: { k: number; accuracy: number };
  /** The ROC curve of the positive class (binary) or of each class (one-vs-rest), for the report. */
  rocCurves?: { label: string; points: RocPoint[] }[];
  threshold?: number;
}

/**
 * scikit-learn (since 1.2) clips probabilities to [eps, 1 - eps] with the epsilon of their dtype
 * (np.finfo(y_pred.dtype).eps); a model's are float32, so a class given probability 0 costs
 * -log(2^-23) = 15.94, as log_loss(y, model.predict(x)) answers, not float64's 36.04.
 */
const EPS = 2 ** -23;

export class ClassificationAccumulator {
  private readonly matrix: number[][];
  private logLossSum = 0;
  private topKHits = 0;
  private count = 0;
  /** The classes whose ROC AUC is reported (two classes: the second only), and the score of every row for each. */
  private readonly aucClasses: number[];
  private readonly scores: ScoreColumn[];
  private readonly truth: GrowableArray<Uint8Array | Uint16Array | Int32Array>;

  constructor(
    readonly labels: string[],
    private readonly options: {
      topK?: number;
      binary?: boolean;
      threshold?: number;
      /** Keep at most this many points of each ROC curve, as thinCurve would (the AUC always uses them all). Default: every point. */
      curvePoints?: number;
    } = {},
  ) {
    this.matrix = labels.map(() => labels.map(() => 0));
    // Two classes (a binary model, or a softmax over two): the second class's AUC, as roc_auc_score(y,
    // p[:, 1]); sklearn has no one-vs-rest for two, and the first class's AUC differs from it where
    // float32 rounding leaves p0 != 1 - p1 and so ties fall apart differently.
    this.aucClasses = labels.length === 2 ? [1] : labels.map((_, c) => c);
    this.scores = this.aucClasses.map(() => new ScoreColumn());
    const Truth: new (length: number) => Uint8Array | Uint16Array | Int32Array = labels.length <= 256 ? Uint8Array : labels.length <= 65536 ? Uint16Array : Int32Array;
    this.truth = new GrowableArray(Truth);
  }

  /** probabilities: one row per example, one column per class (binary: both classes). */
  add(trueClasses: number[], probabilities: number[][]): void {
    for (let row = 0; row < probabilities.length; row += 1) this.addRow(trueClasses[row], probabilities[row], 0, probabilities[row].length);
  }

  /** The same from a model's output as it comes (row after row, `width` classes each): no array per row. */
  addFlat(trueClasses: ArrayLike<number>, probabilities: ArrayLike<number>, width: number): void {
    if (width !== this.labels.length) {
      throw new BadRequestError(`the model gives ${width} scores a row, and its manifest names ${this.labels.length} classes (${this.labels.join(', ')})`);
    }
    for (let row = 0; row < trueClasses.length; row += 1) this.addRow(trueClasses[row], probabilities, row * width, width);
  }

  /** One example: its class probabilities are p[at .. at + width). */
  private addRow(truth: number, p: ArrayLike<number>, at: number, width: number): void {
    const k = this.options.topK;
    const { aucClasses, scores } = this;
    const predicted = this.options.binary ? (isPositive(p[at + 1], this.options.threshold) ? 1 : 0) : argMax(p, at, width);
    this.matrix[truth][predicted] += 1;
    const clipped = Math.min(Math.max(p[at + truth], EPS), 1 - EPS);
    this.logLossSum -= Math.log(clipped);
    if (k !== undefined && rankOf(p, at, width, truth) < k) this.topKHits += 1;
    for (let i = 0; i < aucClasses.length; i += 1) scores[i].push(p[at + aucClasses[i]]);
    this.truth.push(truth);
    this.count += 1;
  }

  report(): ClassificationReport {
    if (this.count === 0) throw new BadRequestError('no rows to evaluate');
    const support = this.matrix.map((row) => row.reduce((a, b) => a + b, 0));
    const predictedCounts = this.labels.map((_, c) => this.matrix.reduce((sum, row) => sum + row[c], 0));
    const perClass = this.labels.map((label, c) => {
      const tp = this.matrix[c][c];
      const precision = predictedCounts[c] === 0 ? 0 : tp / predictedCounts[c];
      const recall = support[c] === 0 ? 0 : tp / support[c];
      const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
      return { label, precision, recall, f1, support: support[c] };
    });
    // scikit-learn averages over the labels present in y_true or y_pred.
    const present = perClass.filter((_, c) => support[c] > 0 || predictedCounts[c] > 0);
    const mean = (key: 'precision' | 'recall' | 'f1') => present.reduce((s, m) => s + m[key], 0) / present.length;
    const weightedMean = (key: 'precision' | 'recall' | 'f1') => perClass.reduce((s, m) => s + m[key] * m.support, 0) / this.count;
    const correct = this.labels.reduce((s, _, c) => s + this.matrix[c][c], 0);
    const auc = this.auc();
    return {
      count: this.count,
      accuracy: correct / this.count,
      perClass,
      macro: { precision: mean('precision'), recall: mean('recall'), f1: mean('f1') },
      weighted: { precision: weightedMean('precision'), recall: weightedMean('recall'), f1: weightedMean('f1') },
      confusionMatrix: this.matrix.map((row) => [...row]),
      logLoss: this.logLossSum / this.count,
      ...auc,
      ...(this.options.topK !== undefined ? { topK: { k: this.options.topK, accuracy: this.topKHits / this.count } } : {}),
      ...(this.options.binary ? { threshold: this.options.threshold ?? 0.5 } : {}),
    };
  }

  /**
   * Why the ROC AUC is undefined when a class is absent from the labels or is all of them: only one class
   * is present, or (with more classes) some class has no examples, so its one-vs-rest curve has no
   * positives while the other classes may well all be present.
   */
  private undefinedAuc(truth: ArrayLike<number>): string {
    const present = new Set(Array.from(truth));
    if (present.size === 1) return `ROC AUC is undefined: only one class (${this.labels[truth[0]]}) is present in the labels`;
    const missing = this.labels.filter((_, k) => !present.has(k));
    const which = missing.length === 1 ? `class ${missing[0]} has` : `classes ${missing.join(', ')} have`;
    return `ROC AUC is undefined: ${which} no examples in the labels, so ${missing.length === 1 ? 'its' : 'their'} one-vs-rest AUC (and the average over classes) is undefined`;
  }

  private auc(): Pick<ClassificationReport, 'rocAuc' | 'rocAucError' | 'rocCurves'> {
    const truth = this.truth.values();
    const curves: { label: string; points: RocPoint[] }[] = [];
    const aucs: number[] = [];
    for (const [i, c] of this.aucClasses.entries()) {
      let count = 0;
      for (let r = 0; r < truth.length; r += 1) if (truth[r] === c) count += 1;
      if (count === 0 || count === truth.length) return { rocAucError: this.undefinedAuc(truth) };
      const { auc, points } = rocOneVsRest(truth, c, this.scores[i].values(), this.options.curvePoints);
      aucs.push(auc);
      curves.push({ label: this.labels[c], points });
    }
    return { rocAuc: aucs.reduce((a, b) => a + b, 0) / aucs.length, rocCurves: curves };
  }
}

type TypedArray = Uint8Array | Uint16Array | Int32Array | Float32Array | Float64Array;

/** An append-only typed array that doubles its capacity when full. */
class GrowableArray<T extends TypedArray> {
  private data: T;
  length = 0;

  constructor(
    private readonly Type: { new (length: number): T },
    capacity = 1024,
  ) {
    this.data = new Type(capacity);
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new this.Type(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }

  /** The values pushed so far (a view, not a copy). */
  values(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

/**
 * Scores, exactly as given: float32 storage while every score is a float32 value (model outputs
 * are), float64 from the first that is not.
 */
class ScoreColumn {
  private column = new GrowableArray<Float32Array | Float64Array>(Float32Array);
  private wide = false;

  push(score: number): void {
    if (!this.wide && Math.fround(score) !== score && !Number.isNaN(score)) {
      const widened = new GrowableArray<Float32Array | Float64Array>(Float64Array, Math.max(1024, this.column.length * 2));
      for (const value of this.column.values()) widened.push(value);
      this.column = widened;
      this.wide = true;
    }
    this.column.push(score);
  }

  values(): Float32Array | Float64Array {
    return this.column.values();
  }
}

/** The class with the highest probability among p[at .. at + width) (the first of equals). */
function argMax(p: ArrayLike<number>, at: number, width: number): number {
  let best = 0;
  for (let i = 1; i < width; i += 1) if (p[at + i] > p[at + best]) best = i;
  return best;
}

/**
 * Rank of the true class among the scores, as top_k_accuracy_score computes it: a stable ascending
 * argsort, reversed, so among equal scores the higher class index ranks first.
 */
function rankOf(p: ArrayLike<number>, at: number, width: number, truth: number): number {
  let rank = 0;
  for (let c = 0; c < width; c += 1) {
    const s = p[at + c];
    if (s > p[at + truth] || (s === p[at + truth] && c > truth)) rank += 1;
  }
  return rank;
}
