/**
 * The loss fit() minimizes, by the model's task and what its output holds. TF.js's
 * categoricalCrossentropy and binaryCrossentropy read their input as probabilities (they clip it to
 * (0, 1), the first after dividing by the sum), so on a classifier whose output is not one they
 * trained it the wrong way (iris with a log_softmax head: the true class pushed down, weights 7.4x
 * off). Such outputs get the loss their authors train them with, computed from what they hold:
 * - log_softmax (log-probabilities, as PyTorch-style heads give): the negative log-likelihood,
 *   -sum(y * log p), the cross-entropy of the probabilities they stand for; one unit's log P(positive)
 *   (a log-sigmoid, given as --scores log-probabilities): the binary cross-entropy of exp(log p), which
 *   binaryCrossentropy alone clipped to its epsilon, so that nothing trained;
 * - linear (logits: Keras's from_logits=True): the softmax cross-entropy, or for one unit the
 *   sigmoid cross-entropy, of the logits.
 * Each then trains as its softmax or sigmoid twin does. Its accuracy, too, is its twin's: fit's
 * 'accuracy' thresholds one unit at 0.5, where a logit's positive class starts at 0 (a log-probability's at log 0.5).
 * What the output holds is what push recorded (manifest scores, read through nested models and
 * pass-through layers, or given with --scores), as validation and evaluate read it: the output
 * layer's own activation alone misses a head nested in an outer model (its source layer is the
 * inner model, which has no activation). Versions pushed before scores were recorded fall back to it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type LayersModel, metrics } from '@tensorflow/tfjs-layers';
import type { Manifest, ScoreKind } from '../../registry/index.js';

type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;
/** What training reads of a version: the task it trains as (trainingTask) and what its output holds. */
type Head = Pick<Manifest, 'task' | 'scores'>;

const LOSSES: Record<Manifest['task'], string> = { classification: 'categoricalCrossentropy', binary: 'binaryCrossentropy', regression: 'meanSquaredError' };

// Per row, as fit() wants them (it averages over the batch).
const negativeLogLikelihood: LossFunction = (y, logProbabilities) => tf.neg(tf.sum(tf.mul(y, logProbabilities), -1));
const softmaxCrossEntropyOfLogits: LossFunction = (y, logits) => tf.losses.softmaxCrossEntropy(y, logits, undefined, undefined, tf.Reduction.NONE);
const sigmoidCrossEntropyOfLogits: LossFunction = (y, logits) => tf.mean(tf.losses.sigmoidCrossEntropy(y, logits, undefined, undefined, tf.Reduction.NONE), -1);
const binaryCrossEntropyOfLogProbability: LossFunction = (y, logProbability) => metrics.binaryCrossentropy(y, tf.exp(logProbability));

/** The activation of the layer that makes the model's (first) output: a Dense (or other) layer's, or an Activation layer's. */
function outputActivation(model: LayersModel): string | undefined {
  const layer = model.outputs[0]?.sourceLayer as { activation?: { getClassName(): string } } | undefined;
  return layer?.activation?.getClassName();
}

/**
 * The task the model trains as: a binary model of two units (a softmax over [negative, positive])
 * as a classifier of two classes, one-hot targets and a categorical loss and accuracy. Trained as
 * one unit, its [rows, 1] targets did not fit its [rows, 2] output: the job failed.
 */
export function trainingTask(model: LayersModel, task: Manifest['task']): Manifest['task'] {
  return task === 'binary' && model.outputs[0]?.shape.at(-1) !== 1 ? 'classification' : task;
}

/** What the classifier's output holds: the manifest's scores, else (an older version) its output layer's activation. */
function scoresOf(model: LayersModel, head: Head): ScoreKind | undefined {
  if (head.scores !== undefined) return head.scores;
  const activation = outputActivation(model);
  return activation === 'logSoftmax' ? 'log-probabilities' : activation === 'linear' ? 'logits' : undefined;
}

/** The loss of the model, for its trainingTask and what its output holds. */
export function lossFor(model: LayersModel, head: Head): string | LossFunction {
  const { task } = head;
  if (task === 'regression') return LOSSES[task];
  const scores = scoresOf(model, head);
  if (scores === 'log-probabilities') return task === 'binary' ? binaryCrossEntropyOfLogProbability : negativeLogLikelihood;
  if (scores === 'logits') return task === 'binary' ? sigmoidCrossEntropyOfLogits : softmaxCrossEntropyOfLogits;
  return LOSSES[task];
}

type Metric = 'accuracy' | LossFunction;

/**
 * One unit's accuracy, of the probability it stands for (a logit's sigmoid, a log-probability's
 * exp), thresholded at 0.5 as fit() does for probabilities. Named acc, so that fit reports it as acc
 * and val_acc, as it does 'accuracy' (what early stopping monitors).
 */
const accuracyOf = (probability: (output: tf.Tensor) => tf.Tensor): LossFunction =>
  function acc(y, output) {
    return tf.tidy(() => metrics.binaryAccuracy(y, probability(output)));
  };
const ONE_UNIT_ACCURACY: Partial<Record<ScoreKind, LossFunction>> = { logits: accuracyOf(tf.sigmoid), 'log-probabilities': accuracyOf(tf.exp) };

/** The accuracy fit() reports for a classifier (of its trainingTask), as its loss reads the output. */
export function accuracyFor(model: LayersModel, head: Head): Metric {
  const scores = scoresOf(model, head);
  return (head.task === 'binary' && scores !== undefined && ONE_UNIT_ACCURACY[scores]) || 'accuracy';
}
