/** Validation metrics of a model on labelled data, computed like evaluate's (same accumulators). */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Manifest } from '../../registry/index.js';
import { ClassificationAccumulator } from '../evaluate/classification.js';
import { headline } from '../evaluate/evaluate.js';
import { classNames } from '../evaluate/examples.js';
import { RegressionAccumulator } from '../evaluate/regression.js';
import type { LabelledData } from './data.js';

export function validationMetrics(model: LayersModel, manifest: Manifest, data: LabelledData): Record<string, number> {
  // The tidy returns the tensor: returning its rows would make tf.tidy walk every value.
  const output = tf.tidy(() => model.predict(tf.tensor(data.x, [data.truths.length, ...data.rowShape]), { batchSize: 256 }) as tf.Tensor);
  const rows = output.arraySync() as number[][];
  output.dispose();
  if (manifest.task === 'regression') {
    const acc = new RegressionAccumulator();
    acc.add(
      data.truths,
      rows.map((r) => r[0]),
    );
    return headline(manifest, acc.report());
  }
  const binary = manifest.task === 'binary';
  const acc = new ClassificationAccumulator(classNames(manifest), { binary });
  acc.add(data.truths, binary ? rows.map((r) => [1 - r[0], r[0]]) : rows);
  return headline(manifest, acc.report());
}

/** Whether `candidate` beats `current` on a metric (lower is better for losses and errors). */
export function isBetter(metric: string, candidate: number | undefined, current: number | undefined): boolean {
  if (candidate === undefined || !Number.isFinite(candidate)) return false;
  if (current === undefined || !Number.isFinite(current)) return true;
  const lowerIsBetter = ['logLoss', 'mse', 'rmse', 'mae', 'maxError'].includes(metric);
  return lowerIsBetter ? candidate < current : candidate > current;
}
