/**
 * The loss fit() minimizes, by the model's task and what its output holds. A classifier whose
 * output layer ends in log_softmax gives log-probabilities (as PyTorch-style heads do): TF.js's
 * categoricalCrossentropy reads its input as probabilities (it divides by their sum and clips to
 * (0, 1)), so on negative log-probabilities it pushed the true class down (iris: accuracy to 0).
 * Their loss is the negative log-likelihood, -sum(y * log p), which is the categorical cross-entropy
 * of the probabilities they stand for: such a model trains as its softmax twin does.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Manifest } from '../../registry/index.js';

type Loss = string | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor);

const LOSSES: Record<Manifest['task'], string> = { classification: 'categoricalCrossentropy', binary: 'binaryCrossentropy', regression: 'meanSquaredError' };

/** Per row, as fit() wants it (it averages over the batch). */
const negativeLogLikelihood = (yTrue: tf.Tensor, logProbabilities: tf.Tensor) => tf.neg(tf.sum(tf.mul(yTrue, logProbabilities), -1));

/** Whether the model's (first) output is made by a log_softmax: a Dense (or other) layer's activation, or an Activation layer. */
function outputsLogSoftmax(model: LayersModel): boolean {
  const layer = model.outputs[0]?.sourceLayer as { activation?: { getClassName(): string } } | undefined;
  return layer?.activation?.getClassName() === 'logSoftmax';
}

export function lossFor(model: LayersModel, task: Manifest['task']): Loss {
  return task === 'classification' && outputsLogSoftmax(model) ? negativeLogLikelihood : LOSSES[task];
}
