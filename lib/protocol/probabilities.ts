/**
 * A classifier's outputs as the probabilities they stand for. A model trained with
 * from_logits=True (no activation on its last layer) gives logits, a PyTorch-style head
 * log-probabilities; their authors' code turns them into probabilities (tf.softmax(logits),
 * tf.sigmoid(logit), tf.exp(logProbabilities)) before it shows a score, and so do answers and
 * metrics here. The label is unchanged for several classes (each map keeps the order), but a
 * single logit's positive class starts at 0, not 0.5: read as a probability it was wrong.
 */
import type { ScoreKind, Task } from '../registry/manifest.js';
import { UnprocessableError } from '../errors.js';
import { elementCount, isPerPosition, type TensorData } from '../tensors/data.js';

/** The parts of a manifest that say what a row of the first output holds. */
export interface ScoredOutputs {
  task: Task;
  scores?: ScoreKind;
}

/** Whether the outputs need turning into probabilities: a classifier's logits or log-probabilities. */
export function needsConversion(outputs: ScoredOutputs): boolean {
  return outputs.task !== 'regression' && outputs.scores !== undefined && outputs.scores !== 'probabilities';
}

type Numbers = { [i: number]: number; readonly length: number };

/**
 * Writes the probabilities of `width` values of `values` from `from` into `out` from `at`: the
 * softmax of logits (the sigmoid of one), the exp of log-probabilities.
 */
function convertRow(kind: ScoreKind, values: ArrayLike<number>, from: number, width: number, out: Numbers, at: number): void {
  if (kind === 'log-probabilities') {
    for (let i = 0; i < width; i += 1) out[at + i] = Math.exp(values[from + i]);
  } else if (width === 1) {
    out[at] = 1 / (1 + Math.exp(-values[from]));
  } else {
    // Less the row's largest logit first, as tf.softmax does, so that no exp overflows.
    let max = -Infinity;
    for (let i = 0; i < width; i += 1) if (values[from + i] > max) max = values[from + i];
    let sum = 0;
    for (let i = 0; i < width; i += 1) sum += Math.exp(values[from + i] - max);
    for (let i = 0; i < width; i += 1) out[at + i] = Math.exp(values[from + i] - max) / sum;
  }
}

/** One output row as probabilities (the row itself when it holds them already). */
export function probabilityRow(outputs: ScoredOutputs, values: number[]): number[] {
  if (!needsConversion(outputs)) return values;
  const out = new Array<number>(values.length);
  convertRow(outputs.scores as ScoreKind, values, 0, values.length, out, 0);
  return out;
}

/**
 * A classifier's output is one score vector a row. A version pushed before a push refused
 * otherwise (human's selfie with labels: [rows, 256, 256, 1]) would answer a pixel's index as its
 * label: a 422 instead, saying to push it as a regression.
 */
export function checkScoresByRow(outputs: ScoredOutputs, shape: readonly number[] | null): void {
  if (outputs.task === 'regression' || !isPerPosition(shape)) return;
  throw new UnprocessableError(
    `this version was pushed as a ${outputs.task} model, but its output (shape [${shape}]) is a vector a pixel or position, not one score vector a row: its label would be a pixel's index. Push it again with --task regression and without labels, which answers the whole output`,
  );
}

/** The first output, every row as probabilities (the output itself when it holds them already, or is not a classifier's). */
export function asProbabilities(outputs: ScoredOutputs, output: TensorData): TensorData {
  checkScoresByRow(outputs, output.shape);
  if (!needsConversion(outputs) || output.dtype === 'string') return output;
  const rows = output.shape[0] ?? 1;
  const width = rows === 0 ? 0 : elementCount(output.shape.slice(1));
  const data = output.data as ArrayLike<number>;
  const converted = new Float32Array(data.length);
  for (let r = 0; r < rows; r += 1) convertRow(outputs.scores as ScoreKind, data, r * width, width, converted, r * width);
  return { ...output, dtype: 'float32', data: converted };
}
