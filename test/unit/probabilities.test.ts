/**
 * Every reader of a classifier's output (answers, CSV lines, OIP labels, TF Serving's classify)
 * reads logits and log-probabilities as the probabilities TF.js computes from them: tf.softmax,
 * tf.sigmoid, tf.exp. Rows include extreme logits, where a naive exp overflows.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { bestAnswers, classScores, type ModelOutputs, toAnswers, topLabels } from '../../lib/protocol/answers.js';
import type { TensorData } from '../../lib/tensors/data.js';

const LABELS = ['a', 'b', 'c', 'd'];

function rows(count: number, width: number): number[][] {
  const out = Array.from({ length: count }, (_, r) => Array.from({ length: width }, (_, i) => Math.sin(r * 7.3 + i * 2.1) * (r % 5) * 3));
  out.push(Array.from({ length: width }, (_, i) => (i === 0 ? 900 : -900)));
  return out;
}

const tensorData = (values: number[][]): TensorData => ({ name: 'out', dtype: 'float32', shape: [values.length, values[0]?.length ?? 0], data: Float32Array.from(values.flat()) });

const cases: [string, ModelOutputs, number, (t: tf.Tensor2D) => tf.Tensor2D][] = [
  ['logits of 4 classes', { task: 'classification', scores: 'logits', labels: LABELS }, 4, (t) => tf.softmax(t)],
  ['log-probabilities of 4 classes', { task: 'classification', scores: 'log-probabilities', labels: LABELS }, 4, (t) => tf.exp(tf.logSoftmax(t))],
  ['one logit', { task: 'binary', scores: 'logits', labels: ['no', 'yes'] }, 1, (t) => tf.sigmoid(t)],
  ['logits of 2 classes (binary)', { task: 'binary', scores: 'logits', labels: ['no', 'yes'] }, 2, (t) => tf.softmax(t)],
];

describe('a classifier output of logits or log-probabilities is read as its probabilities', () => {
  it.each(cases)('%s', (_name, outputs, width, probabilitiesOf) => {
    // Log-probabilities are made from the rows by tf.logSoftmax, so they are what such a head gives.
    const raw = outputs.scores === 'log-probabilities' ? tf.tidy(() => tf.logSoftmax(tf.tensor2d(rows(40, width))).arraySync()) : rows(40, width);
    const expected = tf.tidy(() => probabilitiesOf(tf.tensor2d(rows(40, width))).arraySync());
    const asProbabilities: ModelOutputs = { ...outputs, scores: 'probabilities' };
    const reference = toAnswers(asProbabilities, tensorData(expected));
    const answers = toAnswers(outputs, tensorData(raw));
    expect(answers.map((a) => ('label' in a ? a.label : undefined))).toEqual(reference.map((a) => ('label' in a ? a.label : undefined)));
    for (const [r, answer] of answers.entries()) {
      const want = reference[r] as { scores: { label: string; score: number }[] };
      for (const [i, s] of (answer as { scores: { label: string; score: number }[] }).scores.entries()) {
        expect(s.label).toBe(want.scores[i]?.label);
        expect(Math.abs(s.score - (want.scores[i]?.score as number))).toBeLessThan(1e-6);
      }
      // TF Serving's classify: every class in the model's order.
      const byIndex = classScores(outputs, raw[r] as number[]);
      const wantByIndex = classScores(asProbabilities, expected[r] as number[]);
      for (const [i, s] of byIndex.entries()) expect(Math.abs(s.score - (wantByIndex[i]?.score as number))).toBeLessThan(1e-6);
    }
    // The CSV line's best answer and OIP's label are toAnswers' first.
    const best = bestAnswers(outputs, tensorData(raw));
    expect(best.map((b) => ('label' in b ? b.label : undefined))).toEqual(topLabels(outputs, tensorData(raw)));
    for (const [r, b] of best.entries()) expect(Math.abs((b as { score: number }).score - (reference[r] as { score: number }).score)).toBeLessThan(1e-6);
    expect(topLabels(outputs, tensorData(raw))).toEqual(reference.map((a) => ('label' in a ? a.label : undefined)));
  });

  it('leaves probabilities, and a regression, as they are', () => {
    const values = rows(5, 3);
    expect(toAnswers({ task: 'regression', scores: 'logits' }, tensorData(values)).map((a) => ('value' in a ? a.value : undefined))).toEqual(
      values.map((row) => Array.from(Float32Array.from(row))),
    );
    const probabilities = tf.tidy(() => tf.softmax(tf.tensor2d(values)).arraySync());
    const answers = toAnswers({ task: 'classification', labels: LABELS.slice(0, 3) }, tensorData(probabilities));
    for (const [r, answer] of answers.entries()) expect((answer as { score: number }).score).toBeCloseTo(Math.max(...(probabilities[r] as number[])), 6);
  });
});
