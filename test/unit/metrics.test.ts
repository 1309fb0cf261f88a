/**
 * Every expected value below is scikit-learn's, taken from the examples in its documentation
 * (scikit-learn.org/stable/modules/generated/sklearn.metrics.<name>.html), or computed by hand
 * where noted. Tolerance 1e-9.
 */
import { describe, expect, it } from 'vitest';
import { ClassificationAccumulator } from '../../lib/ops/evaluate/classification.js';
import { RegressionAccumulator } from '../../lib/ops/evaluate/regression.js';
import { rocAuc, rocCurve } from '../../lib/ops/evaluate/roc.js';
import { uniform } from '../../lib/random.js';

const close = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThan(1e-9);

/** Hard predictions as one-hot probabilities: argmax is the predicted class. */
function fromPredictions(labels: string[], yTrue: string[], yPred: string[], options = {}) {
  const acc = new ClassificationAccumulator(labels, options);
  acc.add(
    yTrue.map((l) => labels.indexOf(l)),
    yPred.map((l) => labels.map((x) => (x === l ? 1 : 0))),
  );
  return acc.report();
}

describe('classification metrics equal scikit-learn', () => {
  it('accuracy_score([0, 2, 1, 3], [0, 1, 2, 3]) = 0.5 (accuracy_score example)', () => {
    close(fromPredictions(['0', '1', '2', '3'], ['0', '2', '1', '3'], ['0', '1', '2', '3']).accuracy, 0.5);
  });

  // precision_recall_fscore_support example: cat/dog/pig.
  const yTrue = ['cat', 'dog', 'pig', 'cat', 'dog', 'pig'];
  const yPred = ['cat', 'pig', 'dog', 'cat', 'cat', 'dog'];
  const report = fromPredictions(['cat', 'dog', 'pig'], yTrue, yPred);

  it.each([
    ['macro', 0.2222222222222222, 0.3333333333333333, 0.26666666666666666],
    ['weighted', 0.2222222222222222, 0.3333333333333333, 0.26666666666666666],
  ] as const)('precision_recall_fscore_support average=%s', (average, p, r, f) => {
    close(report[average].precision, p);
    close(report[average].recall, r);
    close(report[average].f1, f);
  });

  it('precision_recall_fscore_support average=None: cat 0.667/1/0.8, dog and pig 0 (zero_division=0), support 2', () => {
    const byLabel = Object.fromEntries(report.perClass.map((m) => [m.label, m]));
    close(byLabel.cat.precision, 2 / 3);
    close(byLabel.cat.recall, 1);
    close(byLabel.cat.f1, 0.8);
    for (const label of ['dog', 'pig']) expect(byLabel[label]).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 2 });
  });

  it('confusion_matrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2]) (confusion_matrix example)', () => {
    const r = fromPredictions(['0', '1', '2'], ['2', '0', '2', '2', '0', '1'], ['0', '0', '2', '2', '0', '2']);
    expect(r.confusionMatrix).toEqual([
      [2, 0, 0],
      [0, 0, 1],
      [1, 0, 2],
    ]);
    close(r.accuracy, 4 / 6);
  });

  it('a class never predicted has precision 0 (zero_division=0), and macro averages it in', () => {
    // By hand: labels a,b; truth a,a,b; predicted a,a,a -> precision a = 2/3, b = 0 (never predicted).
    const r = fromPredictions(['a', 'b'], ['a', 'a', 'b'], ['a', 'a', 'a']);
    close(r.perClass[1].precision, 0);
    close(r.macro.precision, 1 / 3);
    close(r.macro.recall, 0.5);
  });

  it('log_loss(["spam","ham","ham","spam"], [[.1,.9],[.9,.1],[.8,.2],[.35,.65]]) = 0.21616... (log_loss example)', () => {
    const acc = new ClassificationAccumulator(['ham', 'spam'], { binary: true });
    acc.add(
      [1, 0, 0, 1],
      [
        [0.1, 0.9],
        [0.9, 0.1],
        [0.8, 0.2],
        [0.35, 0.65],
      ],
    );
    close(acc.report().logLoss, 0.21616187468057912);
  });

  it("log_loss clips a zero probability to float32's epsilon, the model's dtype, instead of answering Infinity", () => {
    // scikit-learn 1.2+: log_loss([1, 1], np.array([[1, 0], [0.9, 0.1]], dtype=np.float32)) = 9.1225...
    // (eps = np.finfo(np.float32).eps; with float64 arrays it would be 19.17)
    const acc = new ClassificationAccumulator(['a', 'b']);
    acc.add(
      [1, 1],
      [
        [1, 0],
        [Math.fround(0.9), Math.fround(0.1)],
      ],
    );
    close(acc.report().logLoss, (-Math.log(2 ** -23) - Math.log(Math.fround(0.1))) / 2);
    expect(acc.report().logLoss).toBeCloseTo(9.1225, 4);
  });

  it('top_k_accuracy_score(k=2) = 0.75 (top_k_accuracy_score example)', () => {
    const acc = new ClassificationAccumulator(['0', '1', '2'], { topK: 2 });
    acc.add(
      [0, 1, 2, 2],
      [
        [0.5, 0.2, 0.2],
        [0.3, 0.4, 0.2],
        [0.2, 0.4, 0.3],
        [0.7, 0.2, 0.1],
      ],
    );
    close(acc.report().topK!.accuracy, 0.75);
  });

  it('binary threshold moves the predicted class', () => {
    const acc = new ClassificationAccumulator(['neg', 'pos'], { binary: true, threshold: 0.8 });
    acc.add(
      [1, 1, 0],
      [
        [0.3, 0.7],
        [0.1, 0.9],
        [0.6, 0.4],
      ],
    );
    expect(acc.report().confusionMatrix).toEqual([
      [1, 0],
      [1, 1],
    ]);
  });
});

describe('ROC AUC equals scikit-learn', () => {
  it('roc_curve example: y=[1,1,2,2], scores=[0.1,0.4,0.35,0.8], pos_label=2 -> auc 0.75', () => {
    const positives = [0, 0, 1, 1];
    const scores = [0.1, 0.4, 0.35, 0.8];
    expect(rocCurve(positives, scores)).toEqual([
      { fpr: 0, tpr: 0 },
      { fpr: 0, tpr: 0.5 },
      { fpr: 0.5, tpr: 0.5 },
      { fpr: 0.5, tpr: 1 },
      { fpr: 1, tpr: 1 },
    ]);
    close(rocAuc(positives, scores), 0.75);
  });

  it('counts a tie between a positive and a negative as one half (by hand: 3.5 of 4 pairs)', () => {
    close(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]), 0.875);
  });

  it('one-vs-rest macro average for three classes (by hand)', () => {
    // Class 0 separates perfectly (1), class 1 has 3 of 4 pairs ordered (0.75), class 2 has 1 of 4 (0.25)... computed per class below.
    const probabilities = [
      [0.8, 0.1, 0.1],
      [0.6, 0.3, 0.1],
      [0.1, 0.5, 0.4],
      [0.2, 0.2, 0.6],
      [0.1, 0.3, 0.6],
      [0.3, 0.4, 0.3],
    ];
    const truth = [0, 0, 1, 1, 2, 2];
    const acc = new ClassificationAccumulator(['a', 'b', 'c']);
    acc.add(truth, probabilities);
    const perClass = [0, 1, 2].map((c) =>
      rocAuc(
        truth.map((t) => (t === c ? 1 : 0)),
        probabilities.map((p) => p[c]),
      ),
    );
    // By hand: class a: positives {0.8, 0.6} above all negatives {0.1, 0.2, 0.1, 0.3} -> 1.
    close(perClass[0], 1);
    // class b: positives {0.5, 0.2} vs negatives {0.1, 0.3, 0.3, 0.4}: 0.5 beats 4, 0.2 beats 1 -> 5/8.
    close(perClass[1], 5 / 8);
    // class c: positives {0.6, 0.3} vs negatives {0.1, 0.1, 0.4, 0.6}: 0.6 beats 3 + tie 0.5, 0.3 beats 2 -> 5.5/8.
    close(perClass[2], 5.5 / 8);
    close(acc.report().rocAuc!, (1 + 5 / 8 + 5.5 / 8) / 3);
  });

  // A softmax over two classes (task classification, not binary) is scored as binary: the second
  // class's AUC. Averaging both classes' gave 0.8125 here, where p0 != 1 - p1 by one rounding step. sklearn 1.2.1:
  //   import numpy as np; from sklearn.metrics import roc_auc_score
  //   P = np.array([[0.3, 0.7], [0.30000000000000004, 0.7], [0.2, 0.8], [0.9, 0.1]])
  //   roc_auc_score([0, 1, 1, 0], P[:, 1])   # 0.875 (P itself: "y should be a 1d array")
  it('two classes: roc_auc_score(y, p[:, 1]) = 0.875, one curve, whether or not the model is binary', () => {
    const probabilities = [
      [0.3, 0.7],
      [0.30000000000000004, 0.7],
      [0.2, 0.8],
      [0.9, 0.1],
    ];
    for (const binary of [false, true]) {
      const acc = new ClassificationAccumulator(['x', 'y'], { binary });
      acc.add([0, 1, 1, 0], probabilities);
      const r = acc.report();
      close(r.rocAuc!, 0.875);
      expect(r.rocCurves?.map((c) => c.label)).toEqual(['y']);
    }
  });

  it('a model output added flat (row after row, no array per row) gives the report rows give, top-k and ties included', () => {
    const width = 4;
    const rows = 500;
    const next = uniform(7);
    // Scores on a coarse grid, so that classes tie within rows and across rows.
    const flat = Float32Array.from({ length: rows * width }, () => Math.round(next() * 8) / 8);
    const truth = Array.from({ length: rows }, () => Math.floor(next() * width));
    const byRows = new ClassificationAccumulator(['a', 'b', 'c', 'd'], { topK: 2 });
    byRows.add(
      truth,
      Array.from({ length: rows }, (_, r) => Array.from(flat.subarray(r * width, (r + 1) * width))),
    );
    const byFlat = new ClassificationAccumulator(['a', 'b', 'c', 'd'], { topK: 2 });
    byFlat.addFlat(truth, flat, width);
    expect(byFlat.report()).toEqual(byRows.report());
    expect(byFlat.report().topK?.accuracy).toBeGreaterThan(0);
  });

  it('refuses a model output whose scores per row are not one per class (a model and manifest that disagree)', () => {
    const acc = new ClassificationAccumulator(['a', 'b', 'c', 'd']);
    expect(() => acc.addFlat([0, 1], Float32Array.from([0.5, 0.3, 0.2, 0.1, 0.1, 0.8]), 3)).toThrow(/3 scores a row, and its manifest names 4 classes/);
  });

  it('reports a clear error when only one class is present, as scikit-learn raises', () => {
    const acc = new ClassificationAccumulator(['ham', 'spam'], { binary: true });
    acc.add(
      [1, 1],
      [
        [0.2, 0.8],
        [0.4, 0.6],
      ],
    );
    const r = acc.report();
    expect(r.rocAuc).toBeUndefined();
    expect(r.rocAucError).toMatch(/only one class/);
  });

  it('names the class with no examples when the others are present (not "only one class")', () => {
    const labels = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];
    const acc = new ClassificationAccumulator(labels);
    const truths = [0, 2, 3, 4, 0, 2]; // four of the five classes; no Hentai
    acc.add(
      truths,
      truths.map((t) => labels.map((_, k) => (k === t ? 0.6 : 0.1))),
    );
    const r = acc.report();
    expect(r.rocAuc).toBeUndefined();
    expect(r.rocAucError).toBe('ROC AUC is undefined: class Hentai has no examples in the labels, so its one-vs-rest AUC (and the average over classes) is undefined');
  });
});

describe('regression metrics equal scikit-learn', () => {
  const yTrue = [3, -0.5, 2, 7];
  const yPred = [2.5, 0.0, 2, 8];

  it('mean_squared_error 0.375, root_mean_squared_error 0.6123..., mean_absolute_error 0.5, r2_score 0.9486... (their examples)', () => {
    const acc = new RegressionAccumulator();
    acc.add(yTrue.slice(0, 2), yPred.slice(0, 2)); // two chunks: streaming gives the same answer
    acc.add(yTrue.slice(2), yPred.slice(2));
    const r = acc.report();
    close(r.mse, 0.375);
    close(r.rmse, 0.6123724356957945);
    close(r.mae, 0.5);
    close(r.r2!, 0.9486081370449679);
  });

  it('max_error([3, 2, 7, 1], [4, 2, 7, 1]) = 1', () => {
    const acc = new RegressionAccumulator();
    acc.add([3, 2, 7, 1], [4, 2, 7, 1]);
    close(acc.report().maxError, 1);
  });

  it.each([
    [[-2, -2, -2], [-2, -2, -2], 1],
    [[-2, -2, -2], [-2, -2, -2 + 1e-8], 0],
    [[1, 2, 3], [3, 2, 1], -3],
  ])('r2_score(%j, %j) = %d (r2_score examples)', (t, p, expected) => {
    const acc = new RegressionAccumulator();
    acc.add(t, p);
    close(acc.report().r2!, expected);
  });

  // One row: r2_score warns "R^2 score is not well-defined with less than two samples" and answers
  // nan; both were scored 0 or 1 as constant targets. With scikit-learn 1.2.1:
  //   from sklearn.metrics import r2_score, mean_squared_error
  //   r2_score([3.0], [2.5]), r2_score([3.0], [3.0])   # (nan, nan)
  //   r2_score([3.0, 3.0], [3.0, 3.0])                 # 1.0 (two rows: force_finite again)
  //   mean_squared_error([3.0], [2.5])                 # 0.25
  it.each([
    [[3], [2.5]],
    [[3], [3]],
  ])('r2_score(%j, %j) is undefined (nan), the other metrics are not', (t, p) => {
    const acc = new RegressionAccumulator();
    acc.add(t, p);
    const r = acc.report();
    expect(r.r2).toBeUndefined();
    expect(r.r2Error).toMatch(/R² is undefined for a single row/);
    close(r.mse, (t[0] - p[0]) ** 2);
    const two = new RegressionAccumulator();
    two.add([3], [3]);
    two.add([3], [3]); // a second row in another chunk: defined again
    expect(two.report().r2).toBe(1);
  });
});
