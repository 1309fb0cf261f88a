/** Compile, fit and predict with the settings every demo model shares; returns what the manifest records. */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';

export interface FitSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** A Keras loss name, e.g. categoricalCrossentropy, binaryCrossentropy, meanSquaredError. */
  loss: string;
  /** Report training accuracy per epoch (classifiers). */
  accuracy?: boolean;
}

/** The `training` record of the manifest (the manifest leaves its shape to us). */
export interface TrainingRecord {
  epochs: number;
  batchSize: number;
  optimizer: 'adam';
  learningRate: number;
  loss: string;
  seed: number;
  backend: string;
  trainRows: number;
  testRows: number;
  /** Values after the last epoch, on the training rows. */
  history: Record<string, number>;
  /** The test rows as a data set in the store, for the evaluate API: `metrics` are measured on it. */
  heldOut: { dataset: string; labelColumn: string };
}

export function trainingRecord(
  settings: FitSettings,
  run: { seed: number; trainRows: number; testRows: number; history: Record<string, number>; heldOut: { dataset: string; labelColumn: string } },
): TrainingRecord {
  const { epochs, batchSize, learningRate, loss } = settings;
  return { epochs, batchSize, optimizer: 'adam', learningRate, loss, backend: tf.getBackend(), ...run };
}

/**
 * Fits on rows already shuffled with the seeded generator, in that order (shuffle: false): with
 * seeded initialisers this makes a run repeatable.
 */
export async function fitModel(model: LayersModel, xs: tf.Tensor, ys: tf.Tensor, settings: FitSettings): Promise<Record<string, number>> {
  const optimizer = tf.train.adam(settings.learningRate);
  model.compile({ optimizer, loss: settings.loss, metrics: settings.accuracy ? ['accuracy'] : [] });
  const history = await model.fit(xs, ys, { epochs: settings.epochs, batchSize: settings.batchSize, shuffle: false, verbose: 0 });
  optimizer.dispose(); // its moment estimates are not saved, and model.dispose() leaves an optimizer it was given
  const last = (values: (number | tf.Tensor)[]): number => {
    const value = values[values.length - 1];
    return typeof value === 'number' ? value : value.dataSync()[0];
  };
  const final: Record<string, number> = {};
  for (const [key, values] of Object.entries(history.history)) final[key === 'acc' ? 'accuracy' : key] = Math.round(last(values) * 1e6) / 1e6;
  return final;
}

/** Model outputs for `xs` as plain rows (one array per input row). */
export function predictRows(model: LayersModel, xs: tf.Tensor, batchSize = 256): number[][] {
  const output = model.predict(xs, { batchSize }) as tf.Tensor;
  const rows = output.arraySync() as number[][];
  output.dispose();
  return rows;
}

/** Rows of equal length as one float32 tensor of shape [rows, ...rowShape], without a tensor per row. */
export function tensorFromRows(rows: ArrayLike<number>[], rowShape: number[]): tf.Tensor {
  const width = rowShape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(rows.length * width);
  rows.forEach((row, i) => values.set(row, i * width));
  return tf.tensor(values, [rows.length, ...rowShape]);
}

/** Rows for the manifest's `background`: numbers rounded so the manifest stays small. */
export function backgroundRows(rows: ArrayLike<number>[], decimals = 6): number[][] {
  const scale = 10 ** decimals;
  return rows.map((row) => Array.from(row, (v) => Math.round(v * scale) / scale));
}
