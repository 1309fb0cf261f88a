/**
 * The loss fit() minimizes, by the model's task and what its output holds. TF.js's
 * categoricalCrossentropy and binaryCrossentropy read their input as probabilities (they clip it to
 * (0, 1), the first after dividing by the sum), so on a classifier whose output is not one they
 * trained it the wrong way (iris with a log_softmax head: the true class pushed down, weights 7.4x
 * off). Such outputs get the loss their authors train them with, computed from what they hold:
 * - log_softmax (log-probabilities, as PyTorch-style heads give): the negative log-likelihood,
 *   -sum(y * log p), the cross-entropy of the probabilities they stand for;
 * - linear (logits: Keras's from_logits=True): the softmax cross-entropy, or for one unit the
 *   sigmoid cross-entropy, of the logits.
 * Each then trains as its softmax or sigmoid twin does. Its accuracy, too, is its twin's: fit's
 * 'accuracy' thresholds one unit at 0.5, where a logit's positive class starts at 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type LayersModel, metrics } from '@tensorflow/tfjs-layers';
import type { Manifest } from '../../registry/index.js';

type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

const LOSSES: Record<Manifest['task'], string> = { classification: 'categoricalCrossentropy', binary: 'binaryCrossentropy', regression: 'meanSquaredError' };

// Per row, as fit() wants them (it averages over the batch).
const negativeLogLikelihood: LossFunction = (y, logProbabilities) => tf.neg(tf.sum(tf.mul(y, logProbabilities), -1));
const softmaxCrossEntropyOfLogits: LossFunction = (y, logits) => tf.losses.softmaxCrossEntropy(y, logits, undefined, undefined, tf.Reduction.NONE);
const sigmoidCrossEntropyOfLogits: LossFunction = (y, logits) => tf.mean(tf.losses.sigmoidCrossEntropy(y, logits, undefined, undefined, tf.Reduction.NONE), -1);

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

/** The loss of the model, for its trainingTask. */
export function lossFor(model: LayersModel, task: Manifest['task']): string | LossFunction {
  if (task === 'regression') return LOSSES[task];
  const activation = outputActivation(model);
  if (task === 'classification' && activation === 'logSoftmax') return negativeLogLikelihood;
  if (activation === 'linear') return task === 'binary' ? sigmoidCrossEntropyOfLogits : softmaxCrossEntropyOfLogits;
  return LOSSES[task];
}

type Metric = 'accuracy' | LossFunction;

/**
 * One logit's accuracy: the sigmoid's, thresholded at 0.5 as fit() does for probabilities. Named
 * acc, so that fit reports it as acc and val_acc, as it does 'accuracy' (what early stopping monitors).
 */
const acc: LossFunction = (y, logit) => tf.tidy(() => metrics.binaryAccuracy(y, tf.sigmoid(logit)));

/** The accuracy fit() reports for a classifier (of its trainingTask), as its loss reads the output. */
export function accuracyFor(model: LayersModel, task: Manifest['task']): Metric {
  return task === 'binary' && outputActivation(model) === 'linear' ? acc : 'accuracy';
}
