/**
 * Model outputs -> answers a person can read: a label and scores for classifiers, a value for
 * regression. A classifier's scores are probabilities, whatever its output holds (logits,
 * log-probabilities: protocol/probabilities.ts). The raw tensors stay available through OIP or `raw: true`.
 */
import { UnprocessableError } from '../errors.js';
import { rowValues, type TensorData } from '../tensors/data.js';
import { nest } from '../tensors/nested.js';
import { asProbabilities, probabilityRow, type ScoredOutputs } from './probabilities.js';

/** The parts of a manifest that say what the outputs mean. */
export interface ModelOutputs extends ScoredOutputs {
  labels?: string[];
}

interface LabelScore {
  label: string;
  score: number;
}
type ClassAnswer = { label: string; score: number; scores: LabelScore[] };
/** One value, or a row of several in its shape (an image-to-image model's pixels as rows of [r, g, b]). */
type RegressionAnswer = { value: number | unknown[] };
export type Answer = ClassAnswer | RegressionAnswer;

function labelOf(labels: string[] | undefined, i: number): string {
  return labels?.[i] ?? String(i);
}

/** Every class's label and probability, from a row of probabilities; a binary model's one unit (P(positive)) expanded to both classes. */
function labelledScores(manifest: ModelOutputs, probabilities: number[]): LabelScore[] {
  const scores = manifest.task === 'binary' && probabilities.length === 1 ? [1 - probabilities[0], probabilities[0]] : probabilities;
  return scores.map((score, i) => ({ label: labelOf(manifest.labels, i), score }));
}

/** Every class's label and probability, in the model's class order, from an output row as the model gives it. */
export function classScores(manifest: ModelOutputs, values: number[]): LabelScore[] {
  return labelledScores(manifest, probabilityRow(manifest, values));
}

/** A regression row's values: one number, or nested as the output's row is (flat, an upscaler's 2H x 2W x 3 lost its shape). */
function regressionAnswer(output: TensorData, values: number[]): RegressionAnswer {
  return { value: values.length === 1 ? values[0] : (nest(values, output.shape.slice(1)) as unknown[]) };
}

/** One answer per row of the first output. topK limits `scores` (default: every class). */
export function toAnswers(manifest: ModelOutputs, output: TensorData, topK?: number): Answer[] {
  const rows = output.shape[0] ?? 1;
  const probabilities = asProbabilities(manifest, output);
  return Array.from({ length: rows }, (_, r) => {
    const values = rowValues(probabilities, r);
    if (manifest.task === 'regression') return regressionAnswer(output, values);
    const all = labelledScores(manifest, values).sort((a, b) => b.score - a.score);
    return { label: all[0].label, score: all[0].score, scores: all.slice(0, topK ?? all.length) };
  });
}

/**
 * A binary model's one output is the positive class's probability; the positive class is predicted
 * above the threshold, the negative at it, as Keras's binary accuracy counts (`p > threshold`).
 * Every route decides by this (predict, explain's default target, evaluate), so a row scored exactly
 * 0.5 gets one label everywhere.
 */
export function isPositive(p: number, threshold = 0.5): boolean {
  return p > threshold;
}

/** Row r's best class and its score, as toAnswers ranks them (the highest; the first on a tie). */
function best(manifest: ModelOutputs, data: ArrayLike<number>, width: number, r: number): { index: number; score: number } {
  if (manifest.task === 'binary' && width === 1) {
    const p = data[r];
    return isPositive(p) ? { index: 1, score: p } : { index: 0, score: 1 - p };
  }
  let index = 0;
  for (let i = 1; i < width; i += 1) if (data[r * width + i] > data[r * width + index]) index = i;
  return { index, score: data[r * width + index] };
}

function shapeOf(output: TensorData): { rows: number; width: number; data: ArrayLike<number> } {
  const rows = output.shape[0] ?? 1;
  return { rows, width: rows === 0 ? 0 : output.data.length / rows, data: output.data as ArrayLike<number> };
}

/**
 * The label of each row, as toAnswers would give it, read straight from the output without
 * ranking every class: what OIP's `label` output needs.
 */
export function topLabels(manifest: ModelOutputs, output: TensorData): string[] {
  const { rows, width, data } = shapeOf(asProbabilities(manifest, output));
  return Array.from({ length: rows }, (_, r) => labelOf(manifest.labels, best(manifest, data, width, r).index));
}

export type BestAnswer = { label: string; score: number } | RegressionAnswer;

/** Each row's label and score as toAnswers gives them (or the value), without every class's score: what a CSV output line holds. */
export function bestAnswers(manifest: ModelOutputs, output: TensorData): BestAnswer[] {
  const { rows, width, data } = shapeOf(asProbabilities(manifest, output));
  return Array.from({ length: rows }, (_, r) => {
    if (manifest.task === 'regression') return width === 1 ? { value: data[r] } : regressionAnswer(output, rowValues(output, r));
    const { index, score } = best(manifest, data, width, r);
    return { label: labelOf(manifest.labels, index), score };
  });
}

/**
 * Why a row has no answer when the model's output for it is NaN or infinite. Finite inputs can do
 * it (float32 overflows inside the model); a label picked from such scores would be an arbitrary
 * class given with a null score.
 */
export const NON_FINITE_OUTPUT = "the model's output is not a finite number (NaN or Infinity: the input values overflow inside the model), so it has no answer";

/** The rows of the output holding a value that is not a finite number. */
export function nonFiniteRows(output: TensorData): number[] {
  if (output.dtype === 'string') return [];
  const { rows, width, data } = shapeOf(output);
  const bad: number[] = [];
  for (let r = 0; r < rows; r += 1) {
    for (let i = r * width; i < (r + 1) * width; i += 1) {
      if (!Number.isFinite(data[i])) {
        bad.push(r);
        break;
      }
    }
  }
  return bad;
}

/** The first few of these rows as the request names them (`place`), for a message. */
export function namedRows(rows: number[], place: (r: number) => string): string {
  return rows.slice(0, 5).map(place).join(', ') + (rows.length > 5 ? ` and ${rows.length - 5} more` : '');
}

/** A 422 naming the rows (`place`: how the request names row r) whose output is not finite, when any is. */
export function checkFiniteOutput(output: TensorData, place: (r: number) => string): void {
  const bad = nonFiniteRows(output);
  if (bad.length === 0) return;
  throw new UnprocessableError(`${namedRows(bad, place)}: ${NON_FINITE_OUTPUT}`);
}
